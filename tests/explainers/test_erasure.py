"""Erasure search against a one-subset-at-a-time brute force."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch_geometric.data import Data

from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel
from suite.explainers.base import build_explainer
from suite.explainers.erasure import subset_masks
from suite.graph.masking import edge_mask
from suite.models import build_model


def _small_graphs(num_graphs: int = 6, seed: int = 0) -> BenchmarkDataset:
    """Random graphs of 4-5 nodes and 3-7 directed edges, random features, 2 classes."""
    gen = torch.Generator().manual_seed(seed)
    xs, eis, node_ptr, edge_ptr = [], [], [0], [0]
    for _ in range(num_graphs):
        n = int(torch.randint(4, 6, (1,), generator=gen))
        m = int(torch.randint(3, 8, (1,), generator=gen))
        pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
        pick = torch.randperm(len(pairs), generator=gen)[:m].sort().values
        ei = torch.tensor([pairs[i] for i in pick]).t() + node_ptr[-1]
        xs.append(torch.randn(n, 3, generator=gen))
        eis.append(ei)
        node_ptr.append(node_ptr[-1] + n)
        edge_ptr.append(edge_ptr[-1] + m)
    node_ptr_t = torch.tensor(node_ptr)
    batch = torch.repeat_interleave(torch.arange(num_graphs), node_ptr_t.diff())
    ids = torch.arange(num_graphs)
    return BenchmarkDataset(
        info=DatasetInfo("tiny-random", TaskLevel.GRAPH, "synthetic", False, "test", "test"),
        data=Data(x=torch.cat(xs), edge_index=torch.cat(eis, dim=1), batch=batch),
        y=torch.randint(2, (num_graphs,), generator=gen), num_classes=2,
        splits={"train": ids, "val": ids, "test": ids}, explain_ids={"val": ids, "test": ids},
        node_ptr=node_ptr_t, edge_ptr=torch.tensor(edge_ptr))


def _brute_force(model, graph: Data) -> torch.Tensor:
    m = graph.edge_index.size(1)
    with torch.no_grad():
        pred = model(graph.x, graph.edge_index).argmax(-1)
        best, best_key = None, None
        for bits in itertools.product([1.0, 0.0], repeat=m):
            keep = torch.tensor(bits[::-1])
            with edge_mask(model, keep):
                log_probs = model(graph.x, graph.edge_index).log_softmax(-1)
            if log_probs.argmax(-1) != pred:
                continue
            key = (float((1 - keep).sum()), float(log_probs[0, pred]))
            if best_key is None or key > best_key:
                best, best_key = keep, key
    return best


def test_subset_masks_enumerate_every_subset_once():
    masks = subset_masks(3)
    assert masks.shape == (8, 3)
    assert masks[0].tolist() == [1, 1, 1] and masks[-1].tolist() == [0, 0, 0]
    assert len({tuple(r) for r in masks.tolist()}) == 8


@pytest.mark.parametrize("subsets_per_pass", [4096, 5])
def test_erasure_search_equals_brute_force(subsets_per_pass):
    dataset = _small_graphs()
    torch.manual_seed(0)
    model = build_model("gin", dataset, hidden=8, num_layers=2).eval()
    explainer = build_explainer("erasure-search", subsets_per_pass=subsets_per_pass)
    assert explainer.supports(model, dataset) is None
    expl = explainer.explain(model, dataset, torch.arange(dataset.num_graphs), seed=0)
    expl.validate()
    dropped_any = False
    for b in range(dataset.num_graphs):
        ids, scores = expl.instance(b)
        assert torch.equal(ids, torch.arange(int(dataset.edge_ptr[b]), int(dataset.edge_ptr[b + 1])))
        expected = _brute_force(model, dataset.graph(b))
        assert torch.equal(scores, expected), b
        lo, hi = int(expl.edge_ptr[b]), int(expl.edge_ptr[b + 1])
        assert torch.equal(expl.meta["hard_gates"][0, lo:hi], expected.bool())
        dropped_any |= bool((scores == 0).any())
    assert dropped_any  # the search did drop edges somewhere


def test_erasure_search_refuses_large_graphs_and_node_tasks(tiny_graph_dataset, tiny_gin_graph,
                                                            tiny_node_dataset, tiny_gcn):
    explainer = build_explainer("erasure-search")
    assert "max_edges=12" in explainer.supports(tiny_gin_graph, tiny_graph_dataset)
    assert "node-level" in explainer.supports(tiny_gcn, tiny_node_dataset)
    with pytest.raises(ValueError, match="max_edges"):
        build_explainer("erasure-search", max_edges=40)
