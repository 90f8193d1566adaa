"""The dataset cache holds plain data only: a planted payload never runs, a tampered or
truncated entry is rebuilt, and a round trip gives back the same dataset."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
import torch

from suite.datasets import cache, load_dataset
from suite.datasets.nlp.ewt import sentences_from_json, sentences_to_json
from suite.datasets.nlp.parse import Sentence, Token

PARAMS = {"num_base": 30, "num_motifs": 4}


class _Payload:
    """Unpickling this object writes a marker file: the proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _equal(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("fixture", ["tiny_node_dataset", "tiny_graph_dataset"])
def test_a_round_trip_gives_back_the_same_dataset(fixture, request):
    dataset = request.getfixturevalue(fixture)
    back = cache.decode(cache.encode(dataset))
    assert back.info == dataset.info and back.params == dataset.params
    assert _equal(back.data.to_dict(), dataset.data.to_dict())
    for name in ("y", "splits", "explain_ids", "gt_edge_mask", "gt_node_mask", "node_ptr",
                 "edge_ptr", "num_classes", "num_edge_types"):
        assert _equal(getattr(back, name), getattr(dataset, name)), name


def _cache_file(tmp_path):
    load_dataset("ba-shapes", seed=0, cache_dir=tmp_path, **PARAMS)
    (path,) = tmp_path.glob("ba-shapes-*.pt")
    return path


@pytest.mark.parametrize("with_valid_checksum", [False, True])
def test_a_planted_payload_never_runs_and_the_entry_is_rebuilt(tmp_path, with_valid_checksum):
    """An attacker who can write the cache can also compute its checksum: the payload is
    still refused, because only plain data is ever unpickled."""
    path = _cache_file(tmp_path)
    expected = load_dataset("ba-shapes", seed=0, cache_dir=tmp_path, **PARAMS)
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    torch.save({"data": _Payload(str(marker))}, buffer)
    payload = buffer.getvalue()
    if with_valid_checksum:
        payload = cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    path.write_bytes(payload)
    rebuilt = load_dataset("ba-shapes", seed=0, cache_dir=tmp_path, **PARAMS)
    assert not marker.exists()
    assert torch.equal(rebuilt.data.edge_index, expected.data.edge_index)
    assert path.read_bytes().startswith(cache.MAGIC)  # rewritten in the safe format
    with pytest.raises(cache.CacheError):
        cache.decode(payload, "planted")


def test_a_truncated_or_altered_entry_is_refused_and_rebuilt(tmp_path):
    path = _cache_file(tmp_path)
    blob = path.read_bytes()
    with pytest.raises(cache.CacheError, match="checksum"):
        cache.decode(blob[:-10])
    altered = bytearray(blob)
    altered[-5] ^= 0xFF
    with pytest.raises(cache.CacheError, match="checksum"):
        cache.decode(bytes(altered))
    path.write_bytes(blob[: len(blob) // 2])
    rebuilt = load_dataset("ba-shapes", seed=0, cache_dir=tmp_path, **PARAMS)
    assert torch.equal(rebuilt.data.edge_index, cache.decode(blob).data.edge_index)
    assert path.read_bytes() == blob  # deterministic rebuild, same bytes


def test_the_parsed_treebank_cache_is_json_and_round_trips():
    sentences = [Sentence("s-1", (Token("Dogs", "dog", "NOUN", ("Number=Plur",), 2, "nsubj"),
                                  Token("bark", "bark", "VERB", (), 0, "root")), "Dogs bark",
                          ((2, 1, "A0"),))]
    assert sentences_from_json(sentences_to_json(sentences)) == sentences
    with pytest.raises((ValueError, TypeError)):
        sentences_from_json('{"not": "sentences"}')
