"""ROC-AUC and average precision, cross-checked against scikit-learn."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from suite.core.types import Explanation, TaskLevel
from suite.metrics.auc import (
    attribution_scores,
    average_precision,
    node_scores_from_edges,
    per_instance_roc_auc,
    roc_auc,
)


def _data(kind: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.rand(n, generator=gen) < 0.3
    if kind == "continuous":
        scores = torch.randn(n, generator=gen) + labels.float()
    elif kind == "ties":  # four distinct values only
        scores = torch.randint(0, 4, (n,), generator=gen).float() + labels.float() * (
            torch.rand(n, generator=gen) < 0.5).float()
    elif kind == "equal":
        scores = torch.full((n,), 0.7)
    else:  # binary scores, like a hard mask
        scores = (torch.rand(n, generator=gen) < 0.4).float()
    labels[0], labels[1] = True, False  # both classes present
    return scores, labels


@pytest.mark.parametrize("kind", ["continuous", "ties", "equal", "binary"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_matches_sklearn(kind, seed):
    scores, labels = _data(kind, 200, seed)
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-12)


@pytest.mark.parametrize("kind", ["continuous", "ties", "equal", "binary"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_average_precision_matches_sklearn(kind, seed):
    scores, labels = _data(kind, 200, seed)
    expected = average_precision_score(labels.numpy(), scores.numpy())
    assert average_precision(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_all_positive_average_precision_is_one_like_sklearn():
    scores = torch.tensor([0.1, 0.5, 0.5, 0.2])
    labels = torch.ones(4, dtype=torch.bool)
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels.numpy(), scores.numpy()))


def test_one_class_is_nan():
    scores = torch.tensor([0.1, 0.4, 0.3])
    assert math.isnan(roc_auc(scores, torch.zeros(3, dtype=torch.bool)))
    assert math.isnan(roc_auc(scores, torch.ones(3, dtype=torch.bool)))
    assert math.isnan(average_precision(scores, torch.zeros(3, dtype=torch.bool)))
    assert math.isnan(roc_auc(torch.zeros(0), torch.zeros(0, dtype=torch.bool)))


def test_rank_metrics_are_invariant_to_monotone_transforms():
    scores, labels = _data("continuous", 100, 3)
    assert roc_auc(scores.exp() * 5, labels) == pytest.approx(roc_auc(scores, labels))
    assert average_precision(torch.sigmoid(scores), labels) == pytest.approx(
        average_precision(scores, labels))
    assert roc_auc(-scores, labels) == pytest.approx(1 - roc_auc(scores, labels))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same number"):
        roc_auc(torch.rand(3), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc(torch.tensor([0.1, float("nan")]), torch.tensor([True, False]))
    with pytest.raises(ValueError, match="0/1"):
        roc_auc(torch.rand(2), torch.tensor([0, 2]))


def test_integer_labels_are_accepted():
    scores, labels = _data("continuous", 50, 4)
    assert roc_auc(scores, labels.long()) == roc_auc(scores, labels)


@pytest.mark.parametrize("kind", ["continuous", "ties"])
def test_per_instance_roc_auc_matches_a_loop_over_sklearn(kind):
    gen = torch.Generator().manual_seed(5)
    counts = torch.randint(0, 30, (25,), generator=gen)
    counts[3] = 0  # an empty instance
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    scores, labels = _data(kind, int(ptr[-1]), 6)
    labels[ptr[5]:ptr[6]] = True  # one instance with positives only
    got = per_instance_roc_auc(scores, labels, ptr)
    assert got.shape == (25,)
    for b in range(25):
        s, y = scores[ptr[b]:ptr[b + 1]], labels[ptr[b]:ptr[b + 1]]
        if y.all() or not y.any():
            assert math.isnan(got[b])
        else:
            assert float(got[b]) == pytest.approx(roc_auc_score(y.numpy(), s.numpy()), abs=1e-12)
    assert math.isnan(got[3]) and math.isnan(got[5])


def test_per_instance_roc_auc_checks_ptr():
    with pytest.raises(ValueError, match="ptr"):
        per_instance_roc_auc(torch.rand(5), torch.ones(5, dtype=torch.bool), torch.tensor([0, 4]))


def test_attribution_scores_take_absolute_values_of_signed_scores():
    scores = torch.tensor([-2.0, 0.5, -0.1])
    expl = Explanation(TaskLevel.NODE, torch.tensor([0]), torch.arange(3), torch.tensor([0, 3]), scores)
    assert torch.equal(attribution_scores(expl), scores)
    expl.signed = True
    assert torch.equal(attribution_scores(expl), scores.abs())


def test_node_scores_from_edges_is_the_max_over_incident_edges():
    gen = torch.Generator().manual_seed(7)
    edge_index = torch.randint(0, 12, (2, 40), generator=gen)
    scores = torch.rand(40, generator=gen)
    ptr = torch.tensor([0, 15, 15, 40])
    node_ids, node_ptr, node_scores = node_scores_from_edges(edge_index, scores, ptr)
    expected: list[tuple[int, int, float]] = []
    for b in range(3):
        best: dict[int, float] = {}
        for e in range(int(ptr[b]), int(ptr[b + 1])):
            for v in edge_index[:, e].tolist():
                best[v] = max(best.get(v, -math.inf), float(scores[e]))
        expected += [(b, v, best[v]) for v in sorted(best)]
    got_inst = torch.repeat_interleave(torch.arange(3), node_ptr.diff())
    assert [(int(b), int(v)) for b, v in zip(got_inst, node_ids)] == [(b, v) for b, v, _ in expected]
    assert torch.allclose(node_scores, torch.tensor([s for _, _, s in expected], dtype=torch.float64))
