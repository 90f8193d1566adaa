"""Batched == one target at a time on the FULL graph (the correctness reference).

For every per-instance explainer of the suite, the masks of one batched run over
the disjoint union of computation subgraphs equal, at atol 1e-5 for a fixed seed,
the masks of ``batched=False`` runs (each target alone on the whole graph, only its
own explainable edges free), and each target's prediction in the batch equals its
full-graph prediction. A batched GNNExplainer step is one model call for the batch.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Data

from suite.core.types import TaskLevel
from suite.explainers import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.models import build_model

#: explainer -> hyper-parameters for these tests (fewer IG steps: equality, not quality)
CASES = {
    "random": {},
    "saliency": {},
    "grad-x-input": {},
    "integrated-gradients": {"steps": 6},
    "gnnexplainer": {"epochs": 100},
}
#: the full-graph reference runs 101 model passes per target: fewer targets keep it quick
MAX_TARGETS = {"gnnexplainer": 7}


def _train(model, dataset, epochs: int):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    kwargs = {"batch": dataset.data.batch} if dataset.task == TaskLevel.GRAPH else {}
    for _ in range(epochs):
        opt.zero_grad()
        out = model(dataset.data.x, dataset.data.edge_index, **kwargs)
        torch.nn.functional.cross_entropy(out, dataset.y).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module", params=["gcn", "gat", "gin"])
def node_case(request, tiny_node_dataset):
    """(model, dataset): the trained fixture GCN; a GAT (on random features, so attention
    is not uniform) and a GIN, trained briefly here."""
    if request.param == "gcn":
        return request.getfixturevalue("tiny_gcn"), tiny_node_dataset
    dataset = tiny_node_dataset
    if request.param == "gat":
        x = torch.randn(dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
        dataset = dataclasses.replace(dataset, data=Data(x=x, edge_index=dataset.data.edge_index))
    torch.manual_seed(1)
    model = build_model(request.param, dataset, hidden=16, num_layers=3)
    return _train(model, dataset, 60), dataset


def _ids(dataset) -> torch.Tensor:
    return torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])


def _assert_same(batched, single) -> None:
    assert torch.equal(batched.instance_ids, single.instance_ids)
    assert torch.equal(batched.edge_ids, single.edge_ids)
    assert torch.equal(batched.edge_ptr, single.edge_ptr)
    torch.testing.assert_close(batched.edge_scores, single.edge_scores, atol=1e-5, rtol=0)
    assert (batched.node_scores is None) == (single.node_scores is None)
    if batched.node_scores is not None:
        assert torch.equal(batched.node_ids, single.node_ids)
        assert torch.equal(batched.node_ptr, single.node_ptr)
        torch.testing.assert_close(batched.node_scores, single.node_scores, atol=1e-5, rtol=0)
    if "target" in batched.meta:
        assert torch.equal(batched.meta["target"], single.meta["target"])


def _full_graph_predictions(model, dataset, ids) -> torch.Tensor:
    d = dataset.data
    with torch.no_grad():
        if dataset.task == TaskLevel.NODE:
            return model(d.x, d.edge_index)[ids]
        return model(d.x, d.edge_index, d.batch)[ids]


@pytest.mark.parametrize("name", list(CASES))
def test_node_batched_equals_full_graph(name, node_case):
    model, dataset = node_case
    ids = _ids(dataset)[: MAX_TARGETS.get(name)]
    batched = build_explainer(name, **CASES[name]).explain(model, dataset, ids, seed=5)
    single = build_explainer(name, batched=False, **CASES[name]).explain(model, dataset, ids, seed=5)
    batched.validate()
    _assert_same(batched, single)
    if "target" in batched.meta:
        assert torch.equal(batched.meta["target"], _full_graph_predictions(model, dataset, ids).argmax(-1))


@pytest.mark.parametrize("name", list(CASES))
def test_graph_batched_equals_one_graph_at_a_time(name, tiny_gin_graph, tiny_graph_dataset):
    ids = _ids(tiny_graph_dataset)
    batched = build_explainer(name, **CASES[name]).explain(tiny_gin_graph, tiny_graph_dataset, ids, seed=5)
    single = build_explainer(name, batched=False, **CASES[name]).explain(
        tiny_gin_graph, tiny_graph_dataset, ids, seed=5)
    _assert_same(batched, single)


@pytest.mark.parametrize("name", list(CASES))
def test_batch_equals_its_parts(name, tiny_gcn, tiny_node_dataset):
    ids = _ids(tiny_node_dataset)
    explainer = build_explainer(name, **CASES[name])
    whole = explainer.explain(tiny_gcn, tiny_node_dataset, ids, seed=9)
    parts = [explainer.explain(tiny_gcn, tiny_node_dataset, ids[i:i + 4], seed=9) for i in range(0, ids.numel(), 4)]
    torch.testing.assert_close(whole.edge_scores, torch.cat([p.edge_scores for p in parts]), atol=1e-5, rtol=0)


def test_batch_predictions_equal_full_graph_predictions(node_case, tiny_gin_graph, tiny_graph_dataset):
    for model, dataset in (node_case, (tiny_gin_graph, tiny_graph_dataset)):
        ids = _ids(dataset)
        batch = instance_batch(dataset, ids, model.num_layers)
        with torch.no_grad():
            union = batch.select_outputs(model(batch.x, batch.edge_index, **batch.model_kwargs()))
        full = _full_graph_predictions(model, dataset, ids)
        torch.testing.assert_close(union, full, atol=1e-5, rtol=0)
        assert torch.equal(union.argmax(-1), full.argmax(-1))


class _CallCounter:
    def __init__(self, model) -> None:
        self.calls = 0
        self.handle = model.register_forward_pre_hook(self._count)

    def _count(self, module, args) -> None:
        self.calls += 1


@pytest.mark.parametrize("size", [1, 4, 14])
def test_gnnexplainer_is_one_model_call_per_step(size, tiny_gcn, tiny_node_dataset):
    """``epochs`` masked forward+backward passes plus ONE unmasked prediction pass, whatever B."""
    epochs = 7
    counter = _CallCounter(tiny_gcn)
    try:
        build_explainer("gnnexplainer", epochs=epochs).explain(tiny_gcn, tiny_node_dataset, _ids(tiny_node_dataset)[:size], 0)
    finally:
        counter.handle.remove()
    assert counter.calls == epochs + 1


@pytest.mark.parametrize("name,calls", [("saliency", 1), ("grad-x-input", 1), ("random", 0)])
def test_single_pass_methods_call_the_model_once(name, calls, tiny_gin_graph, tiny_graph_dataset):
    counter = _CallCounter(tiny_gin_graph)
    try:
        build_explainer(name).explain(tiny_gin_graph, tiny_graph_dataset, _ids(tiny_graph_dataset), 0)
    finally:
        counter.handle.remove()
    assert counter.calls == calls
