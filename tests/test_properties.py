"""Property-based tests: the matrix parser and the submission reader take any document.

Each either accepts the document or refuses it with the one-line error the command line
prints (``ConfigError`` / ``SubmissionError``, one line, a bounded excerpt of the input);
any other exception is a defect. Documents are arbitrary nested data, and the smoke preset
with one field replaced by arbitrary data (which reaches the deeper checks). Seeded and
bounded so the module stays within a few seconds of the fast tier.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from suite.core.config import ConfigError  # noqa: E402
from suite.core.registry import UnknownNameError  # noqa: E402
from suite.matrix import expand, parse_matrix, preset_document  # noqa: E402
from suite.store.submissions import SubmissionError, read_submission  # noqa: E402

#: Longest one-line error accepted (the input may be huge; the message quotes an excerpt;
#: an unknown name's message lists the known ones).
MAX_MESSAGE = 1000
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
_, SMOKE = preset_document("smoke")
FIELDS = sorted(SMOKE)


def _one_line(exc: BaseException) -> None:
    text = str(exc)
    assert "\n" not in text.strip(), text
    assert len(text) <= MAX_MESSAGE, f"{len(text)} characters: {text[:200]}..."


def _parse(document) -> None:
    try:
        config = parse_matrix(document, source="property")
        expand(config)
    except (ConfigError, UnknownNameError) as exc:
        _one_line(exc)


@SETTINGS
@given(documents)
@example({"0\n": None})  # found on the first run: the key's line break reached the message
@example({"seeds": ["x" * 5000]})  # a huge value is quoted as a bounded excerpt
def test_any_document_parses_or_is_refused_in_one_line(document):
    _parse(document)


@SETTINGS
@given(st.sampled_from(FIELDS), documents)
def test_the_smoke_preset_with_one_field_replaced_parses_or_is_refused(field, value):
    document = copy.deepcopy(SMOKE)
    document[field] = value
    _parse(document)


@SETTINGS
@given(st.sampled_from(FIELDS), st.text(max_size=12), documents)
def test_a_nested_entry_replaced_parses_or_is_refused(field, key, value):
    document = copy.deepcopy(SMOKE)
    if isinstance(document[field], dict) and document[field]:
        name = sorted(document[field])[0]
        entry = document[field][name]
        document[field][name] = {**entry, key: value} if isinstance(entry, dict) else value
    _parse(document)


# --------------------------------------------------------------------------- submissions

ROW = {"cell_key": "k", "dataset": "ba-shapes", "model": "gcn", "training": "standard",
       "explainer": "mine", "seed": 0, "status": "done", "config": "{}", "plugin": "p",
       "edge_auc": 0.9}
cell_values = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 64, 2 ** 64),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20))


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(ROW) + ["fid_plus_prob", "repr_fidelity"]),
                       cell_values, max_size=4))
def test_any_submission_row_is_read_or_refused_in_one_line(tmp_path_factory, changes):
    frame = pd.DataFrame([{**ROW, **changes}])
    path = Path(tmp_path_factory.mktemp("submission")) / "s.csv"
    frame.to_csv(path, index=False)
    try:
        rows = read_submission(path)
    except SubmissionError as exc:
        _one_line(exc)
        return
    auc = pd.to_numeric(rows["edge_auc"], errors="coerce").iloc[0]
    assert math.isnan(auc) or 0.0 <= auc <= 1.0  # an accepted score is inside its range
