"""Factory parameters marked ``omit_at_default`` stay out of model and cell keys at their
default, so adding one to a factory (``gcn``'s paper-form options) keeps every existing key."""

from __future__ import annotations

from suite.core.config import drop_omitted_defaults, omit_at_default
from suite.matrix import expand, parse_matrix
from suite.training.cache import resolved_hparams

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
