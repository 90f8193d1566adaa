"""Per-layer pruning (suite/graph/pruning.py): exact full-graph predictions and mask gradients with
fewer messages, for GCN (degree normalisation), GIN and GAT (attention softmax)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Data

from suite.explainers.toolkit import forward, frozen, full_graph_view
from suite.graph.pruning import count_messages, hop_distance, layer_plan
from suite.graph.subgraphs import instance_batch
from suite.models import build_model


@pytest.fixture(scope="module", params=["gcn", "gin", "gat"])
def case(request, tiny_node_dataset):
    dataset = tiny_node_dataset
    if request.param == "gat":  # random features: attention is not uniform
        x = torch.randn(dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
        dataset = dataclasses.replace(dataset, data=Data(x=x, edge_index=dataset.data.edge_index))
    torch.manual_seed(0)
    model = build_model(request.param, dataset, hidden=8, num_layers=3, jk="cat").eval()
    return model, dataset


def test_hop_distance_on_a_path():
    # 0 -> 1 -> 2 -> 3 (messages flow to 3): hops from node 3 backwards
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert hop_distance(edge_index, torch.tensor([3]), 4, 2).tolist() == [3, 2, 1, 0]
    plan = layer_plan(edge_index, torch.tensor([3]), 4, 3)
    # layer 0 feeds nodes within 2 hops (1, 2, 3), layer 1 within 1 (2, 3), layer 2 only 3
    assert [k.tolist() for k in plan.keep] == [[True, True, True], [False, True, True],
                                              [False, False, True]]


def test_pruned_batch_equals_the_full_graph_with_fewer_messages(case):
    model, dataset = case
    ids = torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])
    view = instance_batch(dataset, ids, 3)
    gen = torch.Generator().manual_seed(1)
    with frozen(model):
        mask = torch.rand(view.num_explainable, generator=gen).requires_grad_(True)
        with count_messages(model) as full_count:
            plain = forward(model, view, mask, prune=False)
        with count_messages(model) as pruned_count:
            pruned = forward(model, view, mask, prune=True)
        torch.testing.assert_close(pruned, plain, atol=1e-5, rtol=0)
        g_plain, = torch.autograd.grad(plain.logsumexp(-1).sum(), mask)
        g_pruned, = torch.autograd.grad(pruned.logsumexp(-1).sum(), mask)
        torch.testing.assert_close(g_pruned, g_plain, atol=1e-5, rtol=0)
        # later layers run on shrinking edge sets
        assert pruned_count[0] < full_count[0]
        assert pruned_count[2] < pruned_count[1] < pruned_count[0]
        # and each target equals its own run on the whole graph (unpruned reference)
        edge_ptr = view.explained_edge_ptr()
        for b, target in enumerate(ids.tolist()):
            ref = full_graph_view(dataset, target, 3)
            assert not ref.prunable
            own = mask.detach()[edge_ptr[b]:edge_ptr[b + 1]]
            # the batch keeps each instance's explainable edges in global edge-id order
            ref_mask = own[torch.argsort(torch.argsort(view.edge_ids[view.explainable]
                                                       [edge_ptr[b]:edge_ptr[b + 1]]))]
            out = forward(model, ref, ref_mask)
            torch.testing.assert_close(out[0], pruned[b].detach(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,hparams", [("gnnexplainer", {"epochs": 20}),
                                          ("integrated-gradients", {"steps": 4})])
def test_chunked_batches_equal_one_batch(tiny_gcn, tiny_node_dataset, name, hparams):
    from suite.explainers import build_explainer
    from suite.graph.subgraphs import batch_chunks

    ids = torch.cat([tiny_node_dataset.explain_ids["val"], tiny_node_dataset.explain_ids["test"]])
    one = build_explainer(name, **hparams).explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    chunked = build_explainer(name, **hparams)
    whole = instance_batch(tiny_node_dataset, ids, 3).edge_ids.numel()
    chunked.max_batch_edges = whole // 4
    parts = batch_chunks(tiny_node_dataset, ids, 3, max_edges=whole // 4)
    assert len(parts) >= 4 and sum(p.num_instances for p in parts) == ids.numel()
    assert all(p.edge_ids.numel() <= whole // 4 or p.num_instances == 1 for p in parts)
    two = chunked.explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    assert torch.equal(one.edge_ids, two.edge_ids) and torch.equal(one.edge_ptr, two.edge_ptr)
    torch.testing.assert_close(one.edge_scores, two.edge_scores, atol=1e-5, rtol=0)
