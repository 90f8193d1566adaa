"""Factory parameters marked ``omit_at_default`` stay out of model and cell keys at their
default, so adding one to a factory (``gcn``'s paper-form options) keeps every existing key."""

from __future__ import annotations

from pathlib import Path

import pytest

from suite.config import drop_omitted_defaults, omit_at_default
from suite.matrix import expand, load_matrix, parse_matrix
from suite.training.cache import resolved_hparams

REFERENCE_STORE = Path(__file__).resolve().parents[1] / "results" / "reference" / "store.sqlite"
PAPER_OPTIONS = {"normalize": True, "l2_norm": False, "last_relu": True}  # gcn's defaults


def test_drop_omitted_defaults_keeps_unmarked_and_changed_values():
    @omit_at_default("b")
    def factory(a: int = 1, b: int = 2, c: int = 3) -> None: ...

    defaults = {"a": 1, "b": 2, "c": 3}
    assert drop_omitted_defaults(factory, defaults, defaults) == {"a": 1, "c": 3}
    assert drop_omitted_defaults(factory, {**defaults, "b": 5}, defaults) == {"a": 1, "b": 5, "c": 3}

    def unmarked(a: int = 1, b: int = 2) -> None: ...

    assert drop_omitted_defaults(unmarked, {"a": 1, "b": 2}, {"a": 1, "b": 2}) == {"a": 1, "b": 2}


def test_model_cache_hparams_leave_out_gcn_options_at_their_default():
    base = resolved_hparams("gcn", {"hidden": 20})
    assert not set(PAPER_OPTIONS) & set(base)
    assert resolved_hparams("gcn", {"hidden": 20, **PAPER_OPTIONS}) == base
    paper = resolved_hparams("gcn", {"hidden": 20, "normalize": False, "l2_norm": True})
    assert paper == {**base, "normalize": False, "l2_norm": True}


def _cells(models: dict) -> dict:
    raw = {"name": "t", "seeds": [0], "datasets": {"tree-cycles": {}},
           "models": models, "trainings": {"standard": {"epochs": 5}},
           "explainers": {"random": {}}}
    cells, _ = expand(parse_matrix(raw))
    return {c.model: c for c in cells}


def test_cell_keys_equal_with_or_without_explicit_defaults():
    implicit = _cells({"gcn": {"hidden": 8}})["gcn"]
    explicit = _cells({"gcn": {"hidden": 8, **PAPER_OPTIONS}})["gcn"]
    assert explicit.model_hparams == implicit.model_hparams
    assert (explicit.key, explicit.model_key) == (implicit.key, implicit.model_key)
    for name, value in {"normalize": False, "l2_norm": True, "last_relu": False}.items():
        changed = _cells({"gcn": {"hidden": 8, name: value}})["gcn"]
        assert changed.model_hparams[name] == value
        assert changed.key != implicit.key and changed.model_key != implicit.model_key


@pytest.mark.skipif(not REFERENCE_STORE.is_file(), reason="no committed reference store")
def test_default_preset_gcn_cells_outside_by_dataset_keep_the_reference_keys():
    """The committed reference board's gcn cells are the default preset's: the new options
    changed no key of a dataset the preset does not override (the random explainer's cells,
    whose own parameters never changed, so only the model part of the key is tested)."""
    from suite.store import ResultsStore

    store = ResultsStore(REFERENCE_STORE)
    try:
        reference = set(store.cells_frame()["cell_key"])
    finally:
        store.close()
    cells, _ = expand(load_matrix("default"))
    plain = [c for c in cells if c.model == "gcn" and c.explainer == "random"
             and "normalize" not in c.model_hparams]
    assert plain and {c.dataset for c in plain} >= {"tree-cycles", "tree-grid", "ba-community"}
    missing = [(c.dataset, c.explainer, c.seed) for c in plain if c.key not in reference]
    assert not missing, missing[:5]
