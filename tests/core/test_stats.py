"""Paired bootstrap intervals and rank ranges (suite.core.stats)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from suite.core.stats import (
    RankRange,
    is_bimodal,
    paired_mean_difference,
    percentile_interval,
    rank_ranges,
    resample_counts,
    weighted_mean,
    weighted_pooled_auc,
)


def _instances(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = rng.integers(3, 12, size=n)
    owner = np.repeat(np.arange(n), sizes)
    labels = rng.random(owner.size) < 0.3
    scores = np.round(rng.random(owner.size) + 0.4 * labels, 1)  # rounded: ties on purpose
    return scores, labels, owner


def test_pooled_auc_of_a_resample_equals_sklearn_on_the_copied_edges():
    rng = np.random.default_rng(0)
    scores, labels, owner = _instances(rng, 20)
    counts = resample_counts(20, resamples=5, seed=3)
    got = weighted_pooled_auc(scores, labels, owner, counts)
    for row, value in zip(counts, got):
        picked = np.concatenate([np.flatnonzero(owner == i).repeat(0) if c == 0 else
                                 np.tile(np.flatnonzero(owner == i), c) for i, c in enumerate(row)])
        assert value == pytest.approx(roc_auc_score(labels[picked], scores[picked]), abs=1e-12)


def test_all_ones_counts_give_the_plain_pooled_auc_and_one_class_gives_nan():
    rng = np.random.default_rng(1)
    scores, labels, owner = _instances(rng, 8)
    ones = np.ones((1, 8), dtype=int)
    assert weighted_pooled_auc(scores, labels, owner, ones)[0] == pytest.approx(
        roc_auc_score(labels, scores))
    assert np.isnan(weighted_pooled_auc(scores, np.zeros_like(labels), owner, ones)[0])


def test_resamples_are_deterministic_and_sum_to_n():
    a, b = resample_counts(30, seed=2), resample_counts(30, seed=2)
    assert np.array_equal(a, b) and a.shape == (2000, 30)
    assert (a.sum(axis=1) == 30).all()
    assert not np.array_equal(a, resample_counts(30, seed=3))


def test_interval_covers_the_true_mean_difference_in_92_to_98_percent_of_500_samples():
    rng = np.random.default_rng(0)
    true_difference, n, covered = 0.05, 40, 0
    for trial in range(500):
        shared = rng.normal(0.7, 0.15, size=n)  # instance difficulty, common to both explainers
        a = shared + true_difference + rng.normal(0, 0.1, size=n)
        b = shared + rng.normal(0, 0.1, size=n)
        interval = paired_mean_difference(a, b, resample_counts(n, seed=trial))
        covered += interval.low <= true_difference <= interval.high
    assert 0.92 <= covered / 500 <= 0.98


def test_weighted_mean_skips_nan_values():
    counts = np.array([[1, 1, 1], [3, 0, 0]])
    assert np.allclose(weighted_mean(np.array([1.0, np.nan, 3.0]), counts), [2.0, 1.0])


def test_rank_ranges_separate_clear_winners_and_merge_ties():
    rng = np.random.default_rng(0)
    counts = resample_counts(50, seed=0)
    shared = rng.normal(0, 0.1, size=50)
    values = {"best": 0.9 + shared, "tie-a": 0.6 + shared + rng.normal(0, 0.05, 50),
              "tie-b": 0.6 + shared + rng.normal(0, 0.05, 50), "worst": 0.2 + shared}
    replicates = {k: weighted_mean(v, counts) for k, v in values.items()}
    ranges = rank_ranges({k: float(v.mean()) for k, v in values.items()}, replicates)
    assert ranges["best"] == RankRange(1, 1) and ranges["worst"] == RankRange(4, 4)
    assert ranges["tie-a"] == ranges["tie-b"] == RankRange(2, 3)
    assert ranges["tie-a"].text() == "2-3" and ranges["best"].text() == "1"
    lower = rank_ranges({k: float(v.mean()) for k, v in values.items()}, replicates,
                        higher_is_better=False)
    assert lower["worst"] == RankRange(1, 1)


def test_bimodal_and_interval_helpers():
    assert is_bimodal([0.94, 0.12, 0.97]) and not is_bimodal([0.9, 0.8, 0.85])
    assert not is_bimodal([0.9, float("nan")])
    interval = percentile_interval(0.5, np.linspace(0, 1, 1001))
    assert interval.low == pytest.approx(0.025) and interval.high == pytest.approx(0.975)
    assert np.isnan(percentile_interval(0.5, np.array([np.nan])).low)
