"""Views, model guards and assembly shared by the suite's explainers."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.nn import GCNConv
from torch_geometric.utils import k_hop_subgraph

from suite.explainers.toolkit import (
    explained_node_mask,
    frozen,
    full_graph_view,
    model_num_hops,
    nodes_per_instance,
)
from suite.graph.subgraphs import instance_batch


def _ids(dataset) -> torch.Tensor:
    return torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])


@pytest.mark.parametrize("hops", [1, 2, 3])
def test_full_graph_view_has_the_batch_explainable_edges(tiny_node_dataset, hops):
    """Two independent constructions of the explainable edge set agree, and match PyG's k-hop."""
    ids = _ids(tiny_node_dataset)
    batch = instance_batch(tiny_node_dataset, ids, hops)
    ptr = batch.explained_edge_ptr()
    batched_ids = batch.edge_ids[batch.explainable]
    for b, target in enumerate(ids.tolist()):
        view = full_graph_view(tiny_node_dataset, target, hops)
        assert torch.equal(view.edge_ids[view.explainable], batched_ids[ptr[b]:ptr[b + 1]])
        # PyG: edges whose target lies within hops-1 of the explained node
        subset, _, _, _ = k_hop_subgraph(target, hops - 1, tiny_node_dataset.data.edge_index,
                                         num_nodes=tiny_node_dataset.data.num_nodes)
        expected = torch.isin(tiny_node_dataset.data.edge_index[1], subset).nonzero().view(-1)
        assert torch.equal(view.edge_ids[view.explainable], expected)


def test_explained_nodes_are_the_k_hop_nodes(tiny_node_dataset):
    ids = _ids(tiny_node_dataset)
    batch = instance_batch(tiny_node_dataset, ids, 3)
    mask = explained_node_mask(batch)
    counts = nodes_per_instance(batch)
    offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    chosen = batch.node_ids[mask]
    for b, target in enumerate(ids.tolist()):
        subset, _, _, _ = k_hop_subgraph(target, 3, tiny_node_dataset.data.edge_index,
                                         num_nodes=tiny_node_dataset.data.num_nodes)
        assert torch.equal(chosen[offsets[b]:offsets[b + 1]], subset.sort().values)
        view = full_graph_view(tiny_node_dataset, target, 3)
        assert torch.equal(view.node_ids[explained_node_mask(view)], subset.sort().values)


def test_graph_view_is_the_single_graph(tiny_graph_dataset):
    gid = 5
    view = full_graph_view(tiny_graph_dataset, gid, 3)
    graph = tiny_graph_dataset.graph(gid)
    assert torch.equal(view.edge_index, graph.edge_index)
    assert torch.equal(view.x, graph.x)
    assert bool(view.explainable.all())
    assert torch.equal(tiny_graph_dataset.data.edge_index[:, view.edge_ids] - int(tiny_graph_dataset.node_ptr[gid]),
                       graph.edge_index)


def test_frozen_restores_flags_and_mode_after_an_exception(tiny_gcn):
    flags = [p.requires_grad for p in tiny_gcn.parameters()]
    tiny_gcn.train()
    try:
        with pytest.raises(RuntimeError, match="inside"):
            with frozen(tiny_gcn):
                assert not tiny_gcn.training
                assert not any(p.requires_grad for p in tiny_gcn.parameters())
                raise RuntimeError("inside")
        assert tiny_gcn.training
        assert [p.requires_grad for p in tiny_gcn.parameters()] == flags
    finally:
        tiny_gcn.eval()


class _TwoConvs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = GCNConv(4, 4), GCNConv(4, 2)

    def forward(self, x, edge_index):
        return self.b(self.a(x, edge_index).relu(), edge_index)


def test_num_hops_from_attribute_or_layers(tiny_gcn):
    assert model_num_hops(tiny_gcn) == tiny_gcn.num_layers
    assert model_num_hops(_TwoConvs()) == 2
    with pytest.raises(ValueError, match="no MessagePassing layers"):
        model_num_hops(nn.Linear(3, 3))
