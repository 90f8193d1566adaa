"""Per-instance records (suite.core.records): round trips and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from suite.core.records import InstanceRecords, records_from_text, records_to_text


def _records(labels: bool = True) -> InstanceRecords:
    return InstanceRecords(np.array([4, 9]), np.array([0, 3, 5]),
                           np.array([0.1, 0.5, 0.2, 0.9, 0.3]),
                           np.array([1, 0, 1, 0, 0], dtype=bool) if labels else None,
                           {"fid_plus_acc": np.array([1.0, 0.0])})


@pytest.mark.parametrize("labels", [True, False])
def test_blob_and_text_round_trips(labels):
    rec = _records(labels)
    for back in (InstanceRecords.from_blob(rec.to_blob()), records_from_text(records_to_text(rec))):
        assert back.same_edges(rec)
        assert (back.edge_labels is None) == (not labels)
        assert np.array_equal(back.values["fid_plus_acc"], rec.values["fid_plus_acc"])
    assert list(rec.edge_owner) == [0, 0, 0, 1, 1]


@pytest.mark.parametrize("blob", [b"", b"not zlib", __import__("zlib").compress(b"\x05\x00\x00\x00{bad}")])
def test_a_malformed_blob_raises_value_error(blob):
    with pytest.raises(ValueError, match="malformed instance records"):
        InstanceRecords.from_blob(blob)
    with pytest.raises(ValueError, match="malformed instance records"):
        records_from_text("@@not base64@@")


def test_inconsistent_shapes_are_refused():
    with pytest.raises(ValueError, match="edge_ptr must have 3 entries"):
        InstanceRecords(np.array([1, 2]), np.array([0, 5]), np.zeros(5))
    with pytest.raises(ValueError, match="edge_labels must have 5 entries"):
        InstanceRecords(np.array([1]), np.array([0, 5]), np.zeros(5), np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match="one entry per instance"):
        InstanceRecords(np.array([1]), np.array([0, 5]), np.zeros(5), values={"x": np.zeros(2)})
