"""The public API: explain a user's own plain PyG model on their own Data."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.nn import GCNConv, global_mean_pool
from torch_geometric.nn.models import GCN

from suite.api import explain, user_dataset
from suite.core.config import ConfigError
from suite.core.registry import UnknownNameError
from suite.explainers import EXPLAINERS


class UserGraphGCN(nn.Module):
    """What a user writes: two GCN layers, mean pooling, a linear head (no ``num_layers``)."""

    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = GCNConv(features, 16), GCNConv(16, 16)
        self.head = nn.Linear(16, classes)

    def forward(self, x, edge_index, batch):
        h = self.conv2(self.conv1(x, edge_index).relu(), edge_index).relu()
        return self.head(global_mean_pool(h, batch))


def _fit(model, x, edge_index, y, batch=None, epochs=100):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        out = model(x, edge_index) if batch is None else model(x, edge_index, batch)
        torch.nn.functional.cross_entropy(out, y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def user_node_model(tiny_node_dataset):
    torch.manual_seed(0)
    model = GCN(in_channels=4, hidden_channels=16, num_layers=3, out_channels=4)
    d = tiny_node_dataset.data
    return _fit(model, d.x, d.edge_index, tiny_node_dataset.y)


@pytest.fixture(scope="module")
def user_graph_model(tiny_graph_dataset):
    torch.manual_seed(0)
    d = tiny_graph_dataset.data
    return _fit(UserGraphGCN(4, 2), d.x, d.edge_index, tiny_graph_dataset.y, batch=d.batch)


def _same(a, b) -> None:
    assert torch.equal(a.instance_ids, b.instance_ids)
    assert torch.equal(a.edge_ids, b.edge_ids)
    assert torch.equal(a.edge_ptr, b.edge_ptr)
    torch.testing.assert_close(a.edge_scores, b.edge_scores, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name,hparams", [("gnnexplainer", {"epochs": 20}), ("saliency", {}),
                                          ("pyg-gnnexplainer", {"epochs": 5})])
def test_node_level_equals_calling_the_explainer(name, hparams, user_node_model, tiny_node_dataset):
    data = tiny_node_dataset.data  # a plain Data with x and edge_index
    flags = [p.requires_grad for p in user_node_model.parameters()]
    got = explain(user_node_model, data, explainer=name, index=[60, 64, 99], seed=3, **hparams)
    direct = EXPLAINERS.get(name)(**hparams).explain(user_node_model, tiny_node_dataset,
                                                     torch.tensor([60, 64, 99]), 3)
    _same(got, direct)
    assert got.meta["num_hops"] == 3  # GCN(num_layers=3)
    assert [p.requires_grad for p in user_node_model.parameters()] == flags


@pytest.mark.parametrize("form", ["list", "batch"])
def test_graph_level_equals_calling_the_explainer(form, user_graph_model, tiny_graph_dataset):
    graphs = tiny_graph_dataset.graphs()
    data = graphs if form == "list" else Batch.from_data_list(graphs)
    got = explain(user_graph_model, data, explainer="gnnexplainer", task="graph", seed=1, epochs=20)
    ids = torch.arange(tiny_graph_dataset.num_graphs)
    direct = EXPLAINERS.get("gnnexplainer")(epochs=20).explain(user_graph_model, tiny_graph_dataset, ids, 1)
    _same(got, direct)
    assert got.meta["num_hops"] == 2  # counted MessagePassing layers


def test_single_graph_ids_index_its_own_edges(user_graph_model, tiny_graph_dataset):
    gid = 7
    got = explain(user_graph_model, tiny_graph_dataset.graph(gid), explainer="saliency", task="graph")
    direct = EXPLAINERS.get("saliency")().explain(user_graph_model, tiny_graph_dataset, torch.tensor([gid]), 0)
    e0 = int(tiny_graph_dataset.edge_ptr[gid])
    assert torch.equal(got.edge_ids, direct.edge_ids - e0)
    torch.testing.assert_close(got.edge_scores, direct.edge_scores)


def test_num_hops_override_changes_the_edge_set(user_node_model, tiny_node_dataset):
    data = tiny_node_dataset.data
    three = explain(user_node_model, data, explainer="random", index=60)
    one = explain(user_node_model, data, explainer="random", index=60, num_hops=1)
    assert set(one.edge_ids.tolist()) < set(three.edge_ids.tolist())
    assert set(one.edge_ids.tolist()) == set((data.edge_index[1] == 60).nonzero().view(-1).tolist())


def test_user_dataset_concatenates_graphs(tiny_graph_dataset):
    ds = user_dataset(tiny_graph_dataset.graphs(), task="graph")
    assert torch.equal(ds.data.edge_index, tiny_graph_dataset.data.edge_index)
    assert torch.equal(ds.node_ptr, tiny_graph_dataset.node_ptr)
    assert torch.equal(ds.edge_ptr, tiny_graph_dataset.edge_ptr)
    assert torch.equal(ds.y, tiny_graph_dataset.y)
    assert ds.gt_edge_mask is None and not ds.info.has_ground_truth


def test_helpful_errors(user_node_model, tiny_node_dataset):
    data = tiny_node_dataset.data
    with pytest.raises(UnknownNameError, match="gnnexplainer"):
        explain(user_node_model, data, explainer="gnnexplaner", index=1)
    with pytest.raises(ConfigError, match="epochs"):
        explain(user_node_model, data, explainer="gnnexplainer", index=1, epochs="many")
    with pytest.raises(IndexError, match="index"):
        explain(user_node_model, data, explainer="saliency", index=1000)
    with pytest.raises(TypeError, match="data"):
        explain(user_node_model, [data], explainer="saliency", index=1, task="node")
    with pytest.raises(ValueError, match="task"):
        explain(user_node_model, data, explainer="saliency", task="edge")
