"""Registry-wide contract: every registered explainer, node and graph fixtures.

Shapes and the shared edge set, score ranges, determinism under a seed, and no
side effects on the model (parameters, requires_grad flags, mode, predictions,
hooks, PyG explain state), also when the model raises in the middle of a run.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from suite.explainers import EXPLAINERS, build_explainer, explainer_info
from suite.masking import message_layers
from suite.models.base import GraphModel
from suite.subgraphs import instance_batch

NAMES = EXPLAINERS.names()
#: scores that are magnitudes, not masks: non-negative but unbounded
UNBOUNDED = {"saliency", "pyg-saliency"}
#: small settings so the whole contract runs in seconds (only fields a config has)
FAST = {"epochs": 3, "steps": 3, "fit_epochs": 2, "epochs_per_layer": 2}

_HOOK_DICTS = [
    "_propagate_forward_pre_hooks", "_propagate_forward_hooks", "_message_forward_pre_hooks",
    "_message_forward_hooks", "_aggregate_forward_pre_hooks", "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks", "_message_and_aggregate_forward_hooks",
    "_edge_update_forward_pre_hooks", "_edge_update_forward_hooks",
]


def _make(name: str):
    cls = EXPLAINERS.get(name)
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    return build_explainer(name, **{k: v for k, v in FAST.items() if k in fields})


def _case(level: str, request):
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    return model, dataset, dataset.explain_ids["test"][:4]


def _predict(model, dataset) -> torch.Tensor:
    d = dataset.data
    kwargs = {"batch": d.batch} if dataset.node_ptr is not None else {}
    with torch.no_grad():
        return model(d.x, d.edge_index, **kwargs)


def _snapshot(model, dataset) -> dict:
    return {"state": {k: v.clone() for k, v in model.state_dict().items()},
            "flags": [p.requires_grad for p in model.parameters()],
            "training": model.training, "pred": _predict(model, dataset)}


def _assert_untouched(model, dataset, before: dict) -> None:
    after = model.state_dict()
    assert after.keys() == before["state"].keys()
    for key, value in before["state"].items():
        assert torch.equal(after[key], value), f"parameter {key} changed"
    assert [p.requires_grad for p in model.parameters()] == before["flags"]
    assert model.training == before["training"]
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks
    for layer in message_layers(model):
        for attr in _HOOK_DICTS:
            assert not getattr(layer, attr, {}), f"{type(layer).__name__}.{attr} left behind"
        assert layer.explain is not True
        assert getattr(layer, "_edge_mask", None) is None
        assert "_edge_mask" not in layer._parameters
    assert torch.equal(_predict(model, dataset), before["pred"])


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_metadata(name):
    info = explainer_info(name)
    assert info.name == name
    assert info.citation and info.description
    assert info.source in ("suite", "pyg", "baseline")


@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_contract(name, level, request):
    model, dataset, ids = _case(level, request)
    explainer = _make(name)
    reason = explainer.supports(model, dataset)
    if reason is not None:
        pytest.skip(reason)
    before = _snapshot(model, dataset)
    explainer.fit(model, dataset, dataset.splits["train"][:8], 0)
    exp = explainer.explain(model, dataset, ids, 0)
    exp.validate()
    assert exp.task == dataset.task
    assert torch.equal(exp.instance_ids, ids)
    batch = instance_batch(dataset, ids, model.num_layers)
    assert torch.equal(exp.edge_ids, batch.edge_ids[batch.explainable])
    assert torch.equal(exp.edge_ptr, batch.explained_edge_ptr())
    assert exp.signed == explainer_info(name).signed
    assert exp.seconds > 0
    scores = exp.edge_scores
    assert torch.isfinite(scores).all()
    if not exp.signed:
        assert (scores >= 0).all()
        if name not in UNBOUNDED:
            assert (scores <= 1).all()
    if exp.node_scores is not None:
        assert exp.node_ids.numel() == exp.node_scores.numel() == int(exp.node_ptr[-1])
        assert exp.node_ptr.numel() == ids.numel() + 1
    fresh = _make(name)
    fresh.fit(model, dataset, dataset.splits["train"][:8], 0)  # amortised: fit first
    again = fresh.explain(model, dataset, ids, 0)
    assert torch.equal(again.edge_scores, scores), "not deterministic under a fixed seed"
    _assert_untouched(model, dataset, before)


class _SharedCounter:
    """A call counter that model copies share (deep copies return the same object)."""

    def __init__(self) -> None:
        self.calls = 0

    def __deepcopy__(self, memo):
        return self


class _RaisingModel(GraphModel):
    """Wraps a trained model; its ``raise_at``-th call raises ``RuntimeError('boom')``."""

    def __init__(self, inner: GraphModel, raise_at: int) -> None:
        super().__init__()
        self.inner = inner
        self.task, self.num_layers = inner.task, inner.num_layers
        self.embedding_dim = getattr(inner, "embedding_dim", None)
        self.counter, self.raise_at = _SharedCounter(), raise_at

    def embed(self, x, edge_index, batch=None, edge_attr=None, edge_type=None):
        self.counter.calls += 1
        if self.counter.calls == self.raise_at:
            raise RuntimeError("boom")
        return self.inner.embed(x, edge_index, batch, edge_attr, edge_type)

    def classify(self, z):
        return self.inner.classify(z)


@pytest.mark.parametrize("raise_at", [1, 2])
@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_no_state_left_when_the_model_raises(name, level, raise_at, request):
    inner, dataset, ids = _case(level, request)
    model = _RaisingModel(inner, raise_at)
    explainer = _make(name)
    reason = explainer.supports(model, dataset)
    if reason is not None:
        pytest.skip(reason)
    model.raise_at = None
    before = _snapshot(model, dataset)  # the snapshot's own call must not count or raise
    model.raise_at, model.counter.calls = raise_at, 0
    try:
        explainer.fit(model, dataset, dataset.splits["train"][:8], 0)
        explainer.explain(model, dataset, ids, 0)
    except RuntimeError as exc:
        assert "boom" in str(exc)
    else:
        assert model.counter.calls < raise_at, "the model raised but the explainer swallowed it"
    model.raise_at = None  # let the checks call it
    _assert_untouched(model, dataset, before)
