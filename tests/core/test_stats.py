"""Paired bootstrap intervals and rank ranges (suite.core.stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from suite.core.stats import (
    RankRange,
    benjamini_hochberg,
    holm,
    is_bimodal,
    paired_difference,
    paired_mean_difference,
    paired_t_pvalue,
    percentile_interval,
    rank_ranges,
    resample_counts,
    seed_interval,
    segment_spearman,
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


# ----------------------------------------------------------------------------- multiplicity


PLANTED = [0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.216]


def test_benjamini_hochberg_rejects_the_known_set_and_matches_scipy():
    """Ten planted p-values at q = 0.05: thresholds k 0.05 / 10 = 0.005, 0.010, 0.015, ...;
    p_(2) = 0.008 <= 0.010 is the largest below its threshold, so exactly the two smallest go."""
    from scipy.stats import false_discovery_control

    reject = benjamini_hochberg(PLANTED, 0.05)
    assert reject.tolist() == [True, True] + [False] * 8
    assert (false_discovery_control(PLANTED, method="bh") <= 0.05).tolist() == reject.tolist()
    shuffled = [PLANTED[i] for i in (5, 0, 9, 2, 1, 7, 3, 8, 4, 6)]
    assert [p for p, r in zip(shuffled, benjamini_hochberg(shuffled)) if r] == [0.001, 0.008]
    # a step-up rule: one small p-value lifts a later one that alone would miss its threshold
    assert benjamini_hochberg([0.03, 0.04]).tolist() == [True, True]


def test_holm_stops_at_the_first_miss():
    """Thresholds 0.05 / 10 = 0.005, then 0.05 / 9 = 0.0056: 0.001 passes, 0.008 does not,
    and nothing after it is rejected."""
    assert holm(PLANTED, 0.05).tolist() == [True] + [False] * 9
    assert holm([0.01, 0.04], 0.05).tolist() == [True, True]   # 0.01 <= 0.025, 0.04 <= 0.05
    assert holm([0.03, 0.04], 0.05).tolist() == [False, False]  # 0.03 > 0.025: stop
    assert holm([]).tolist() == [] and benjamini_hochberg([]).tolist() == []
    with pytest.raises(ValueError, match="p-values"):
        holm([0.1, float("nan")])


def test_paired_t_pvalue_matches_scipy():
    from scipy.stats import ttest_rel

    treated, baseline = [0.9, 0.85, 0.95, 0.7, 0.88], [0.8, 0.86, 0.81, 0.72, 0.79]
    p = paired_t_pvalue(paired_difference(treated, baseline))
    assert p == pytest.approx(ttest_rel(treated, baseline).pvalue, rel=1e-9)
    assert math.isnan(paired_t_pvalue(paired_difference([1.0], [0.0])))
    assert paired_t_pvalue(paired_difference([1.0, 2.0], [0.5, 1.5])) == 0.0  # every pair +0.5
    for direction, alternative in ((1, "greater"), (-1, "less")):
        one = paired_t_pvalue(paired_difference(treated, baseline), direction)
        assert one == pytest.approx(ttest_rel(treated, baseline, alternative=alternative).pvalue,
                                    rel=1e-9)
    flat = paired_difference([1.0, 2.0], [0.5, 1.5])
    assert paired_t_pvalue(flat, 1) == 0.0 and paired_t_pvalue(flat, -1) == 1.0
    with pytest.raises(ValueError, match="direction"):
        paired_t_pvalue(flat, 2)


def test_segment_spearman_equals_scipy_per_segment_and_is_nan_when_undefined():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 30).astype(float)  # ties
    b = a + rng.standard_normal(30)
    ptr = np.array([0, 10, 22, 23, 30])
    a[23:30] = 1.0  # constant segment
    out = segment_spearman(a, b, ptr)
    for i in (0, 1):
        s, e = ptr[i], ptr[i + 1]
        assert out[i] == pytest.approx(spearmanr(a[s:e], b[s:e]).statistic)
    assert np.isnan(out[2]) and np.isnan(out[3])  # one value; constant side


def test_seed_interval_is_t_inside_the_range_and_bootstrap_outside_it():
    values = [0.95, 0.97, 0.96, 0.99, 0.94]
    t = seed_interval(values, bounds=(0.0, 1.0))
    low, high = scipy_stats.t.interval(0.95, 4, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert t.method == "t" and t.low == pytest.approx(low) and t.high == pytest.approx(high)
    # near the ceiling the t interval would pass 1.0: the bootstrap stays inside the values' range
    ceiling = seed_interval([1.0, 1.0, 1.0, 0.98, 0.80], bounds=(0.0, 1.0))
    assert ceiling.method == "bootstrap" and 0.80 <= ceiling.low <= ceiling.high <= 1.0
    bimodal = seed_interval([1.0, 0.2, 1.0, 0.3, 1.0], bounds=(0.0, 1.0))
    assert bimodal.method == "bootstrap" and "(seeds: 1.000 / 0.200" in bimodal.text()
    assert seed_interval([math.nan, 0.5]).method == "none"
    assert math.isnan(seed_interval([]).estimate)


def test_seed_t_interval_covers_the_true_mean_in_92_to_98_percent_of_500_samples():
    rng = np.random.default_rng(0)
    covered = 0
    for _ in range(500):
        sample = rng.normal(0.3, 0.1, size=5)
        interval = seed_interval(sample.tolist())
        covered += interval.low <= 0.3 <= interval.high
    assert 0.92 <= covered / 500 <= 0.98
