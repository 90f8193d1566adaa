"""PyG in, PyG out: ``Explanation.to_pyg`` feeds PyG's own tools; every registered explainer
runs through ``suite.explain`` at each task level it declares; the task is inferred."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explanation as PygExplanation
from torch_geometric.explain.metric import groundtruth_metrics
from torch_geometric.nn.models import GCN

from suite.api import UserModel, explain, infer_task, user_dataset
from suite.core.types import TaskLevel
from suite.explainers import EXPLAINERS
from suite.explainers.base import build_explainer
from suite.explainers.toolkit import model_num_hops
from tests.test_api import UserGraphGCN, _fit

#: Small budgets so the registry sweep stays quick (only fields an explainer has are passed).
SMALL = {"epochs": 5, "epochs_per_layer": 2, "steps": 4, "samples": 4, "n_steps": 4}


@pytest.fixture(scope="module")
def node_model(tiny_node_dataset):
    torch.manual_seed(0)
    d = tiny_node_dataset.data
    return _fit(GCN(in_channels=4, hidden_channels=16, num_layers=3, out_channels=4),
                d.x, d.edge_index, tiny_node_dataset.y)


@pytest.fixture(scope="module")
def graph_model(tiny_graph_dataset):
    torch.manual_seed(0)
    d = tiny_graph_dataset.data
    return _fit(UserGraphGCN(4, 2), d.x, d.edge_index, tiny_graph_dataset.y, batch=d.batch)


def test_node_explanation_to_pyg_feeds_visualize_graph_and_groundtruth_metrics(
        node_model, tiny_node_dataset, tmp_path):
    data = tiny_node_dataset.data
    ours = explain(node_model, data, explainer="occlusion", index=[60, 64])
    assert ours.signed
    pyg = ours.to_pyg(data, 1)
    assert isinstance(pyg, PygExplanation) and pyg.validate(raise_on_error=True)
    assert pyg.edge_mask.shape == (data.edge_index.size(1),) and pyg.index == 64
    ids, scores = ours.instance(1)
    expected = torch.zeros(data.edge_index.size(1))
    expected[ids] = scores.abs()  # signed attributions become their magnitude
    assert torch.equal(pyg.edge_mask, expected)
    assert torch.equal(ours.to_pyg(data, 1, signed=True).edge_mask[ids], scores)
    pyg.visualize_graph(str(tmp_path / "graph.png"), backend="networkx")
    assert (tmp_path / "graph.png").stat().st_size > 0
    truth = tiny_node_dataset.gt_edge_mask.float()
    auroc = groundtruth_metrics(pyg.edge_mask, truth, metrics="auroc")
    assert float(auroc) == pytest.approx(roc_auc_score(truth.numpy(), pyg.edge_mask.numpy()), abs=1e-6)
    assert [p.index for p in ours.to_pyg_list(data)] == [60, 64]
    with pytest.raises(IndexError, match="instance"):
        ours.to_pyg(data, 2)


def test_graph_task_is_inferred_from_a_batch_and_to_pyg_gives_each_graph_its_own_mask(
        graph_model, tiny_graph_dataset):
    graphs = tiny_graph_dataset.graphs()
    batch = Batch.from_data_list(graphs)
    assert infer_task(batch) == infer_task(graphs) == TaskLevel.GRAPH
    assert infer_task(graphs[0]) == TaskLevel.NODE
    ours = explain(graph_model, batch, explainer="saliency", index=[3, 7])  # no task= given
    assert ours.task == TaskLevel.GRAPH
    for b, gid in enumerate([3, 7]):
        pyg = ours.to_pyg(batch, b)
        assert pyg.edge_mask.shape == (graphs[gid].edge_index.size(1),)
        assert torch.equal(pyg.edge_index, graphs[gid].edge_index) and "index" not in pyg
        offset = int(tiny_graph_dataset.edge_ptr[gid])
        ids, scores = ours.instance(b)
        assert torch.equal(pyg.edge_mask[ids - offset], scores.abs())


@pytest.mark.parametrize("level", ["node", "graph"])
def test_every_registered_explainer_runs_through_the_api_at_each_level_it_declares(
        level, node_model, graph_model, tiny_node_dataset, tiny_graph_dataset):
    task = TaskLevel(level)
    model, data, index = ((node_model, tiny_node_dataset.data, [60, 64]) if task == TaskLevel.NODE
                          else (graph_model, tiny_graph_dataset.graphs(), [0, 1]))
    dataset = user_dataset(data, level)
    wrapped = UserModel(model, task, model_num_hops(model))
    ran, declined = [], {}
    for name in EXPLAINERS.names():
        if task not in EXPLAINERS.get(name).info.task_levels:
            continue
        fields = set(build_explainer(name).hparams())
        hparams = {k: v for k, v in SMALL.items() if k in fields}
        reason = build_explainer(name, **hparams).supports(wrapped, dataset)
        if reason is not None:  # declined up front, with its reason (e.g. too many edges)
            declined[name] = reason
            continue
        got = explain(model, data, explainer=name, index=index, task=level, seed=0, **hparams)
        got.validate()
        assert got.num_instances == 2 and got.edge_ids.numel() > 0, name
        ran.append(name)
    print(f"{level}: ran {ran}; declined {declined}")
    assert {"graphmask", "graphmask-instance", "pgexplainer", "gnnexplainer", "saliency",
            "integrated-gradients", "occlusion", "random"} <= set(ran), (ran, declined)


class DataModel(torch.nn.Module):
    """A model whose forward takes one Data (as some user code does)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, data):
        return self.inner(data.x, data.edge_index)


def test_a_model_that_takes_a_data_runs_through_forward_fn_and_gets_a_hint_without(
        node_model, tiny_node_dataset):
    data = tiny_node_dataset.data
    model = DataModel(node_model)
    with pytest.raises(TypeError, match="forward_fn="):
        explain(model, data, explainer="saliency", index=[60])
    forward_fn = lambda m, x, edge_index, **kw: m(Data(x=x, edge_index=edge_index, **kw))  # noqa: E731
    got = explain(model, data, explainer="saliency", index=[60, 64], forward_fn=forward_fn)
    direct = explain(node_model, data, explainer="saliency", index=[60, 64])
    assert torch.equal(got.edge_ids, direct.edge_ids)
    torch.testing.assert_close(got.edge_scores, direct.edge_scores)
    wrong = lambda m, x, edge_index, **kw: m(Data(x=x, edge_index=edge_index))[:1]  # noqa: E731
    with pytest.raises(ValueError, match=r"forward_fn: expected \[N, C\] logits"):
        explain(model, data, explainer="saliency", index=[60], forward_fn=wrong)
