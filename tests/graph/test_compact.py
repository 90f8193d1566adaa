"""Compact node batches (suite/graph/compact.py): degree context computed once per batch; the
targets' logits and the mask and feature gradients equal the plain model's on the whole
batch (GCN's own normalisation over every edge, no pruning) and on the full graph."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.nn import SAGEConv

from suite.core.types import TaskLevel
from suite.explainers.toolkit import forward, frozen, full_graph_view
from suite.graph.compact import CompactBank, compact_for
from suite.graph.masking import message_hooks, message_layers
from suite.graph.pruning import count_messages, masked_and_pruned, model_plan
from suite.graph.subgraphs import instance_batch
from suite.models import build_model
from suite.models.gnn import MessagePassingGNN


def _random_features(dataset):
    x = torch.randn(dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
    return dataclasses.replace(dataset, data=Data(x=x, edge_index=dataset.data.edge_index))


@pytest.fixture(scope="module", params=["gcn", "gin", "gat", "graphconv"])
def case(request, tiny_node_dataset):
    dataset = _random_features(tiny_node_dataset)  # non-uniform attention and degrees matter
    torch.manual_seed(0)
    model = build_model(request.param, dataset, hidden=8, num_layers=3, jk="cat").eval()
    return model, dataset


def _ids(dataset):
    return torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])


def _plain(model, view, mask, x):
    """The unmodified model over the whole batch (context edges included, nothing pruned)."""
    with masked_and_pruned(model, view, view.full_mask(mask), prune=False):
        out = model(x, view.edge_index)
    return out[view.target_index]


def test_compact_equals_the_plain_batch_and_the_full_graph(case):
    model, dataset = case
    ids = _ids(dataset)
    view = instance_batch(dataset, ids, 3)
    gen = torch.Generator().manual_seed(1)
    with frozen(model):
        compact = compact_for(model, view)
        assert compact is not None
        # the compact graph drops the context-only nodes and every context edge
        assert compact.num_nodes < view.x.size(0)
        assert compact.edge_index.size(1) == view.num_explainable < view.edge_ids.numel()
        mask = torch.rand(view.num_explainable, generator=gen).requires_grad_(True)
        x = view.x.clone().requires_grad_(True)
        with count_messages(model) as counts:
            fast = forward(model, view, mask, x)
        plain = _plain(model, view, mask, x)
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=0)
        g_fast = torch.autograd.grad(fast.logsumexp(-1).sum(), (mask, x), retain_graph=True)
        g_plain = torch.autograd.grad(plain.logsumexp(-1).sum(), (mask, x))
        for a, b in zip(g_fast, g_plain):
            assert a.abs().sum() > 0
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        # each layer sends only the messages into the nodes it is needed at
        assert counts[2] < counts[1] < counts[0] < view.edge_ids.numel()
        # every target equals its own run on the whole graph (an independent reference)
        edge_ptr = view.explained_edge_ptr()
        order = view.edge_ids[view.explainable]
        for b, target in enumerate(ids.tolist()):
            ref = full_graph_view(dataset, target, 3)
            own = mask.detach()[edge_ptr[b]:edge_ptr[b + 1]]
            ref_mask = own[torch.argsort(torch.argsort(order[edge_ptr[b]:edge_ptr[b + 1]]))]
            out = forward(model, ref, ref_mask)
            torch.testing.assert_close(out[0], fast[b].detach(), atol=1e-5, rtol=0)


def test_compact_restores_the_layers(case):
    model, dataset = case
    view = instance_batch(dataset, _ids(dataset), 3)
    layers = message_layers(model)
    before = [(getattr(l, "normalize", None), len(l._forward_pre_hooks),
               len(l._propagate_forward_pre_hooks), len(l._message_forward_hooks)) for l in layers]
    with frozen(model):
        forward(model, view, torch.full((view.num_explainable,), 0.5))
        with pytest.raises(RuntimeError):
            with torch.no_grad():  # an error inside the model call still restores everything
                forward(model, view, torch.full((view.num_explainable,), 0.5),
                        x=view.x[:, :1])
    after = [(getattr(l, "normalize", None), len(l._forward_pre_hooks),
              len(l._propagate_forward_pre_hooks), len(l._message_forward_hooks)) for l in layers]
    assert after == before


def test_compact_is_cached_per_model_and_skipped_where_it_does_not_apply(
        tiny_node_dataset, tiny_graph_dataset):
    dataset = _random_features(tiny_node_dataset)
    view = instance_batch(dataset, _ids(dataset), 3)
    torch.manual_seed(0)
    gcn = build_model("gcn", dataset, hidden=8, num_layers=3).eval()
    other = build_model("gcn", dataset, hidden=8, num_layers=3).eval()
    first = compact_for(gcn, view)
    assert first is compact_for(gcn, view) and compact_for(other, view) is not first
    # the full-graph reference view and graph batches run the plain model
    assert compact_for(gcn, full_graph_view(dataset, int(_ids(dataset)[0]), 3)) is None
    gin = build_model("gin", tiny_graph_dataset, hidden=8, num_layers=3).eval()
    graphs = instance_batch(tiny_graph_dataset, tiny_graph_dataset.explain_ids["test"], 3)
    assert compact_for(gin, graphs) is None
    # a layer type with no registered preparer falls back to per-step pruning, still exact
    sage = MessagePassingGNN([SAGEConv(4, 8), SAGEConv(8, 8), SAGEConv(8, 8)], TaskLevel.NODE,
                             8, dataset.num_classes).eval()
    assert compact_for(sage, view) is None
    mask = torch.rand(view.num_explainable, generator=torch.Generator().manual_seed(2))
    with frozen(sage):
        torch.testing.assert_close(forward(sage, view, mask), _plain(sage, view, mask, view.x),
                                   atol=1e-5, rtol=0)


def test_graphmask_gates_on_the_compact_batch_equal_the_plain_batch(case):
    from suite.explainers.graphmask import gated_edges, gated_logits

    model, dataset = case
    view = instance_batch(dataset, _ids(dataset), 3)
    gen = torch.Generator().manual_seed(3)
    layers = message_layers(model)
    with frozen(model):
        compact = compact_for(model, view)
        assert compact is not None
        widths = []  # message shape per layer

        def grab(ctx, messages):
            widths.append(tuple(messages.shape[1:]))
            return messages
        with torch.no_grad(), message_hooks(model, grab):
            forward(model, view)
        gates = {k: torch.rand(view.num_explainable, generator=gen).requires_grad_(True)
                 for k in range(len(layers))}
        baselines = {k: torch.randn((view.num_instances, *widths[k]), generator=gen)
                     for k in range(len(layers))}
        edge_instance = view.edge_instance[view.explainable]
        edges = gated_edges(compact)
        assert gated_edges(None) is None
        assert [e.numel() for e in edges] == [int(k.sum()) for k in model_plan(model, view).keep]
        fast = gated_logits(model, view, compact,
                            {k: g.index_select(0, edges[k]) for k, g in gates.items()},
                            {k: b[edge_instance[edges[k]]] for k, b in baselines.items()})
        plain = gated_logits(model, view, None, gates,
                             {k: b[edge_instance] for k, b in baselines.items()})
        torch.testing.assert_close(fast, plain, atol=1e-5, rtol=0)
        g_fast = torch.autograd.grad(fast.logsumexp(-1).sum(), list(gates.values()))
        g_plain = torch.autograd.grad(plain.logsumexp(-1).sum(), list(gates.values()))
        for a, b in zip(g_fast, g_plain):
            assert a.abs().sum() > 0
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_a_bank_slices_the_compact_batch_of_any_instances_exactly(case):
    """``CompactBank.take(rows)`` is what compacting ``view.take(rows)`` afresh gives (same
    edges, weights, mask positions and order; nodes as positions in the bank's view), so a
    fit that slices its mini-batches computes exactly what it computed before."""
    model, dataset = case
    view = instance_batch(dataset, _ids(dataset), 3)
    model_plan(model, view)
    bank = CompactBank.of(compact_for(model, view), view)
    gen = torch.Generator().manual_seed(2)
    for rows in (torch.randperm(view.num_instances, generator=gen)[:5], torch.tensor([3, 0]),
                 torch.arange(view.num_instances)):
        taken = view.take(rows)
        fresh, sliced = compact_for(model, taken), bank.take(rows)
        assert torch.equal(taken.x[fresh.node_index], view.x[sliced.node_index])
        assert torch.equal(fresh.edge_index, sliced.edge_index)
        assert torch.equal(fresh.target_index, sliced.target_index)
        for a, b in zip(fresh.layers, sliced.layers, strict=True):
            assert torch.equal(a.edge_index, b.edge_index)
            assert torch.equal(a.mask_index, b.mask_index)
            assert (a.edge_weight is None) == (b.edge_weight is None)
            assert a.edge_weight is None or torch.equal(a.edge_weight, b.edge_weight)
            assert a.switches == b.switches
