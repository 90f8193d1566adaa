"""The random baseline: uniform, seeded per (seed, instance), batch == parts."""

from __future__ import annotations

import torch

from suite.core.seeding import generator
from suite.explainers import build_explainer


def _ids(dataset) -> torch.Tensor:
    return torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])


def test_scores_are_the_per_instance_draws(tiny_gcn, tiny_node_dataset):
    ids = _ids(tiny_node_dataset)
    exp = build_explainer("random").explain(tiny_gcn, tiny_node_dataset, ids, seed=11)
    for b, instance in enumerate(ids.tolist()):
        _, scores = exp.instance(b)
        expected = torch.rand(scores.numel(), generator=generator(11, instance))
        assert torch.equal(scores, expected)
    assert exp.edge_scores.min() >= 0 and exp.edge_scores.max() < 1
    assert exp.node_scores is not None and exp.node_ptr[-1] == exp.node_scores.numel()


def test_batch_equals_its_parts_and_seed_matters(tiny_gin_graph, tiny_graph_dataset):
    ids = _ids(tiny_graph_dataset)
    explainer = build_explainer("random")
    whole = explainer.explain(tiny_gin_graph, tiny_graph_dataset, ids, seed=3)
    parts = [explainer.explain(tiny_gin_graph, tiny_graph_dataset, ids[i:i + 3], seed=3)
             for i in range(0, ids.numel(), 3)]
    assert torch.equal(whole.edge_scores, torch.cat([p.edge_scores for p in parts]))
    assert torch.equal(whole.node_scores, torch.cat([p.node_scores for p in parts]))
    other = explainer.explain(tiny_gin_graph, tiny_graph_dataset, ids, seed=4)
    assert not torch.equal(whole.edge_scores, other.edge_scores)


def test_roughly_uniform(tiny_gin_graph, tiny_graph_dataset):
    exp = build_explainer("random").explain(tiny_gin_graph, tiny_graph_dataset,
                                            torch.arange(tiny_graph_dataset.num_graphs), seed=0)
    # mean of n uniforms: 1/2 +- 1/sqrt(12 n); six standard errors
    n = exp.edge_scores.numel()
    assert abs(float(exp.edge_scores.mean()) - 0.5) < 6 / (12 * n) ** 0.5
