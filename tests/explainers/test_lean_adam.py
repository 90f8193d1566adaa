"""LeanAdam: torch.optim.Adam's update, bit for bit, and the explainers that use it."""

from __future__ import annotations

import pytest
import torch

import suite.explainers.graphmask as gm
from suite.explainers.graphmask import instance as gm_instance
from suite.explainers.lean_adam import LeanAdam


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("lr,betas", [(0.01, (0.9, 0.999)), (0.3, (0.5, 0.9))])
def test_matches_torch_adam_bitwise(foreach, lr, betas):
    gen = torch.Generator().manual_seed(0)
    shapes = [(37,), (5, 3), (2, 4, 6)]
    ours = [torch.randn(s, generator=gen).requires_grad_(True) for s in shapes]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    start = [p.detach().clone() for p in ours]
    lean = LeanAdam(ours, lr=lr, betas=betas)
    ref = torch.optim.Adam(theirs, lr=lr, betas=betas, foreach=foreach)
    for step in range(60):
        lean.zero_grad()
        ref.zero_grad()
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if i == 1 and step < 20:  # a tensor switched on late starts its bias correction then
                continue
            if i == 2 and step % 7 == 3:  # and a step without a gradient leaves its state alone
                continue
            g = torch.randn(a.shape, generator=gen) * (10.0 ** (step % 3 - 1))
            a.grad, b.grad = g.clone(), g.clone()
        lean.step()
        ref.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    assert all(not torch.equal(a, s) for a, s in zip(ours, start))  # the steps did move them
    assert lean.steps == [60, 40, 60 - sum(1 for s in range(60) if s % 7 == 3)]


@pytest.mark.parametrize("field,value", [("lr", 0.0), ("betas", (0.9, 1.0))])
def test_bad_settings_name_the_field(field, value):
    kwargs = {"lr": 0.01, "betas": (0.9, 0.999), field: value}
    with pytest.raises(ValueError, match=field):
        LeanAdam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_graphmask_instance_equals_its_torch_adam_run(tiny_gcn, tiny_node_dataset, monkeypatch):
    ids = tiny_node_dataset.explain_ids["test"][:4]
    lean = gm.GraphMaskInstance(epochs_per_layer=6).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    monkeypatch.setattr(gm_instance, "LeanAdam", lambda params, lr: torch.optim.Adam(params, lr=lr, foreach=True))
    ref = gm.GraphMaskInstance(epochs_per_layer=6).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    assert torch.equal(lean.edge_layer_scores, ref.edge_layer_scores)
    assert torch.equal(lean.meta["lambda"], ref.meta["lambda"])


def test_gnnexplainer_equals_its_torch_adam_run(tiny_gcn, tiny_node_dataset, monkeypatch):
    import suite.explainers.gnnexplainer as gx

    ids = tiny_node_dataset.explain_ids["test"][:4]
    lean = gx.GNNExplainer(epochs=30).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    monkeypatch.setattr(gx, "LeanAdam", lambda params, lr: torch.optim.Adam(params, lr=lr))
    ref = gx.GNNExplainer(epochs=30).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    assert torch.equal(lean.edge_scores, ref.edge_scores)
