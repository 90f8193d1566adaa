"""GraphXAI's graph explanation accuracy (GEA): hand-built cases and a direct set computation."""

from __future__ import annotations

import math

import pytest
import torch

from suite.metrics import METRICS
from suite.metrics.explanation_accuracy import (
    best_alternative_accuracy,
    graph_explanation_accuracy,
    jaccard_per_instance,
    relative_threshold_mask,
)
from tests.metrics.test_scorers import _ctx, _explanation, _gt, _max_incident_scores, cell  # noqa: F401  (fixture)


def _set_jaccard(pred: set, truth: set) -> float:
    return len(pred & truth) / len(pred | truth)


def test_hand_built_jaccard_and_threshold():
    # instance 0: scores (0.9, 0.05, 0.5, 0.0), max 0.9 -> threshold 0.09 -> predicted {0, 2}
    # truth {0, 1}: |{0}| / |{0, 1, 2}| = 1/3
    # instance 1: scores (1, 1), truth {1}: predicted {0, 1} -> 1/2
    # instance 2: no ground truth -> NaN
    scores = torch.tensor([0.9, 0.05, 0.5, 0.0, 1.0, 1.0, 0.3])
    truth = torch.tensor([1, 1, 0, 0, 0, 1, 0], dtype=torch.bool)
    ptr = torch.tensor([0, 4, 6, 7])
    mask = relative_threshold_mask(scores, ptr)
    assert mask.tolist() == [True, False, True, False, True, True, True]
    gea = graph_explanation_accuracy(scores, truth, ptr)
    assert gea[:2].tolist() == pytest.approx([1 / 3, 1 / 2])
    assert math.isnan(float(gea[2]))
    # factor 0.6: instance 0 keeps {0} only -> 1/2
    assert float(graph_explanation_accuracy(scores, truth, ptr, factor=0.6)[0]) == pytest.approx(0.5)
    # an all-zero instance predicts nothing: Jaccard 0 against a non-empty truth
    zero = graph_explanation_accuracy(torch.zeros(3), torch.tensor([True, False, False]), torch.tensor([0, 3]))
    assert zero.tolist() == [0.0]


def test_perfect_and_disjoint_explanations():
    truth = torch.tensor([1, 0, 1, 0], dtype=torch.bool)
    ptr = torch.tensor([0, 4])
    assert graph_explanation_accuracy(truth.float(), truth, ptr).tolist() == [1.0]
    assert graph_explanation_accuracy((~truth).float(), truth, ptr).tolist() == [0.0]


def test_random_cases_match_a_direct_set_computation():
    gen = torch.Generator().manual_seed(3)
    sizes = [5, 1, 9, 4, 7]
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    scores = torch.rand(int(ptr[-1]), generator=gen)
    truth = torch.rand(int(ptr[-1]), generator=gen) < 0.4
    truth[ptr[:-1]] = True  # every instance has ground truth
    got = graph_explanation_accuracy(scores, truth, ptr, factor=0.5)
    for b, (lo, hi) in enumerate(zip(ptr[:-1].tolist(), ptr[1:].tolist())):
        s, t = scores[lo:hi].tolist(), truth[lo:hi].tolist()
        pred = {i for i, v in enumerate(s) if v > 0.5 * max(s)}
        gt = {i for i, v in enumerate(t) if v}
        assert float(got[b]) == pytest.approx(_set_jaccard(pred, gt))


def test_best_alternative_takes_the_max():
    pred = torch.tensor([1, 1, 1, 0, 0, 0], dtype=torch.bool)
    ring_a = torch.tensor([1, 1, 1, 1, 0, 0], dtype=torch.bool)   # J = 3/4
    ring_b = torch.tensor([0, 0, 1, 1, 1, 1], dtype=torch.bool)   # J = 1/6
    assert best_alternative_accuracy(pred, [ring_b, ring_a]) == pytest.approx(3 / 4)
    # the union of both rings is a different (lower) number: 3/6
    union = jaccard_per_instance(pred, ring_a | ring_b, torch.tensor([0, 6]))
    assert float(union[0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="alternatives"):
        best_alternative_accuracy(pred, [])


def test_bad_input_raises_one_line():
    with pytest.raises(ValueError, match="gea_factor"):
        relative_threshold_mask(torch.rand(3), torch.tensor([0, 3]), factor=1.5)
    with pytest.raises(ValueError, match="ptr"):
        jaccard_per_instance(torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool),
                             torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="same shape"):
        jaccard_per_instance(torch.ones(3, dtype=torch.bool), torch.ones(2, dtype=torch.bool),
                             torch.tensor([0, 3]))


def test_scorer_matches_sets_per_instance(cell):  # noqa: F811
    dataset, _, batch = cell
    gt = _gt(cell)
    scores = gt * 0.4 + torch.rand(gt.numel(), generator=torch.Generator().manual_seed(4))
    out = METRICS.get("explanation-accuracy")(_ctx(cell, scores))
    perfect = METRICS.get("explanation-accuracy")(_ctx(cell, gt))
    assert perfect["gea_edge"] == 1.0
    # independent computation: per instance, node scores = max over incident explained edges
    expl = _explanation(dataset, batch, scores)
    node_values, edge_values = [], []
    for b in range(expl.num_instances):
        ids, s = expl.instance(b)
        best = _max_incident_scores(dataset, ids, s)
        top = max(best.values())
        pred = {v for v, value in best.items() if value > 0.1 * top}
        truth = {v for v in best if bool(dataset.gt_node_mask[v])}
        if truth:
            node_values.append(_set_jaccard(pred, truth))
        edge_truth = {e for e in ids.tolist() if bool(dataset.gt_edge_mask[e])}
        if edge_truth:
            order = sorted(range(len(ids)), key=lambda i: (-float(s[i]), i))[:len(edge_truth)]
            edge_values.append(_set_jaccard({int(ids[i]) for i in order}, edge_truth))
    assert out["gea"] == pytest.approx(sum(node_values) / len(node_values))
    assert out["gea_edge"] == pytest.approx(sum(edge_values) / len(edge_values))
    # the threshold factor is an option
    strict = METRICS.get("explanation-accuracy")(_ctx(cell, scores, options={"gea_factor": 0.99}))
    assert strict["gea"] != out["gea"]
