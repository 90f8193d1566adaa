"""Paired bootstrap intervals and rank ranges over explained instances.

Every explainer of a comparison group is scored on the same instances, so one
resample of the instances (drawn once per seed from a fixed bootstrap seed) is
applied to every explainer: differences between explainers are then paired, and
the spread of the instances that are hard for everyone cancels out.

A resample is held as multinomial *counts* ``[R, n]`` (how often each of ``n``
instances is drawn), so a pooled statistic over a resample is a weighted
statistic over the original instances; no data is copied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata
from scipy.stats import t as student_t

#: Bootstrap resamples per interval.
RESAMPLES = 2000
#: The fixed seed every bootstrap starts from (mixed with the cell's seed).
BOOTSTRAP_SEED = 2027
#: Two-sided confidence of every interval.
CONFIDENCE = 0.95
#: Seed means spanning more than this are reported per seed ("bimodal").
BIMODAL_SPAN = 0.3


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided ``CONFIDENCE`` interval ``[low, high]``."""

    estimate: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return bool(self.low > 0 or self.high < 0)


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """``[resamples, n]`` int counts of a with-replacement resample of ``n`` instances.

    Deterministic in ``(n, resamples, seed)``: stream ``(BOOTSTRAP_SEED, seed)``.
    Every row sums to ``n``.
    """
    if n < 1:
        raise ValueError(f"n: need at least one instance to resample (got {n})")
    rng = np.random.default_rng([BOOTSTRAP_SEED, int(seed)])
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


def weighted_mean(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``[R]`` weighted means of per-instance ``values`` [n] under ``counts`` [R, n]
    (NaN values are left out, with their weight)."""
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    weights = counts[:, ok].astype(np.float64)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weights @ values[ok] / total, np.nan)


def pair_wins(scores: np.ndarray, labels: np.ndarray, owner: np.ndarray,
              n: int) -> np.ndarray:
    """``[n, n]`` matrix ``A``: ``A[i, j]`` = the number of (positive edge of instance ``i``,
    negative edge of instance ``j``) pairs the positive wins, ties counting one half.

    The pooled ROC-AUC of a resample with instance counts ``w`` is then
    ``w^T A w / ((w . pos) (w . neg))`` (``pos``/``neg``: positive and negative edges per
    instance), so resamples cost ``O(n^2)`` each, whatever the number of edges.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    owner = np.asarray(owner, dtype=np.int64)
    positive, positive_owner = scores[labels], owner[labels]
    wins = np.zeros((n, n))
    for j in range(n):
        negatives = np.sort(scores[(owner == j) & ~labels])
        if negatives.size == 0 or positive.size == 0:
            continue
        below = np.searchsorted(negatives, positive, side="left")
        upto = np.searchsorted(negatives, positive, side="right")
        wins[:, j] = np.bincount(positive_owner, weights=below + 0.5 * (upto - below), minlength=n)
    return wins


def weighted_pooled_auc(scores: np.ndarray, labels: np.ndarray, owner: np.ndarray,
                        counts: np.ndarray) -> np.ndarray:
    """``[R]`` ROC-AUC of the pooled edges of a resample, for each row of ``counts``.

    ``scores`` [M] and ``labels`` [M] (bool) are the explained edges of all instances,
    ``owner`` [M] the instance position (0..n-1) of each edge and ``counts`` [R, n]
    the resamples. Each edge weighs its instance's count, so a row of ones gives the
    plain pooled AUC: P(score of a positive > score of a negative) + 0.5 P(tie), over
    weighted pairs (:func:`pair_wins`). NaN where a resample has no positive or no
    negative edge.
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    owner = np.asarray(owner, dtype=np.int64)
    if not scores.shape == labels.shape == owner.shape:
        raise ValueError(f"scores {scores.shape}, labels {labels.shape} and owner {owner.shape} "
                         "must have one entry per explained edge")
    weights = np.atleast_2d(counts).astype(np.float64)
    n = weights.shape[1]
    wins = pair_wins(scores, labels, owner, n)
    positives = np.bincount(owner[labels], minlength=n).astype(np.float64)
    negatives = np.bincount(owner[~labels], minlength=n).astype(np.float64)
    pairs = (weights @ positives) * (weights @ negatives)
    won = np.einsum("ri,ij,rj->r", weights, wins, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, won / pairs, np.nan)


def percentile_interval(estimate: float, replicates: np.ndarray,
                        confidence: float = CONFIDENCE) -> Interval:
    """The percentile bootstrap interval of ``replicates`` [R] around ``estimate``."""
    finite = np.asarray(replicates, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return Interval(float(estimate), np.nan, np.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(estimate), float(low), float(high))


def paired_mean_difference(a: np.ndarray, b: np.ndarray, counts: np.ndarray,
                           confidence: float = CONFIDENCE) -> Interval:
    """Mean of ``a - b`` over paired instances [n] with its percentile bootstrap interval."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return percentile_interval(float(np.nanmean(diff)), weighted_mean(diff, counts), confidence)


@dataclass(frozen=True)
class RankRange:
    """An explainer's rank range within its group.

    ``best`` = 1 + the number of explainers significantly better, ``worst`` = the
    number of explainers not significantly worse (itself included), so
    ``1 <= best <= worst <= n``; explainers whose ranges overlap cannot be told apart.
    """

    best: int
    worst: int

    def text(self) -> str:
        return str(self.best) if self.best == self.worst else f"{self.best}-{self.worst}"


def rank_ranges(estimates: Mapping[str, float], replicates: Mapping[str, np.ndarray],
                higher_is_better: bool = True,
                confidence: float = CONFIDENCE) -> dict[str, RankRange]:
    """Rank ranges from paired replicates (the same resamples for every name).

    ``a`` is significantly better than ``b`` when the two-sided ``confidence``
    interval of the paired difference ``replicates[a] - replicates[b]`` lies above
    zero (below zero when lower is better).
    """
    names = list(estimates)
    sign = 1.0 if higher_is_better else -1.0
    better = {name: 0 for name in names}  # how many are significantly better than name
    worse = {name: 0 for name in names}  # how many are significantly worse than name
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            diff = sign * (np.asarray(replicates[a]) - np.asarray(replicates[b]))
            gap = percentile_interval(0.0, diff, confidence)
            if gap.low > 0:
                better[b] += 1
                worse[a] += 1
            elif gap.high < 0:
                better[a] += 1
                worse[b] += 1
    return {name: RankRange(1 + better[name], len(names) - worse[name]) for name in names}


def segment_spearman(a: np.ndarray, b: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """[B] Spearman rank correlation of ``a`` and ``b`` (both [M]) within each segment
    ``ptr[i]:ptr[i+1]`` of ``ptr`` [B+1]: the Pearson correlation of their average ranks
    (ties share a rank). NaN where a segment has fewer than two values or either side is
    constant there."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ptr = np.asarray(ptr, dtype=np.int64)
    out = np.full(ptr.size - 1, np.nan)
    for i, (start, end) in enumerate(zip(ptr[:-1], ptr[1:])):
        if end - start < 2:
            continue
        ra, rb = rankdata(a[start:end]), rankdata(b[start:end])
        ra, rb = ra - ra.mean(), rb - rb.mean()
        norm = math.sqrt(float(ra @ ra) * float(rb @ rb))
        if norm > 0:
            out[i] = float(ra @ rb) / norm
    return out


def is_bimodal(seed_values: Sequence[float], span: float = BIMODAL_SPAN) -> bool:
    """True when the finite per-seed values span more than ``span`` (max - min)."""
    finite = [float(v) for v in seed_values if np.isfinite(v)]
    return len(finite) > 1 and max(finite) - min(finite) > span


# --------------------------------------------------------------------------- paired t intervals over seeds


def t_critical(df: int, level: float = CONFIDENCE) -> float:
    """Two-sided critical value ``t_{(1 + level) / 2, df}`` of Student's t distribution."""
    if df < 1:
        raise ValueError(f"df: must be >= 1 (got {df})")
    return float(student_t.ppf(0.5 + level / 2, df))


@dataclass(frozen=True)
class PairedDifference:
    """Mean of paired differences ``treated_s - baseline_s`` with a t confidence interval.

    Attributes:
        n: pairs with both values defined.
        mean: mean difference (NaN when n = 0).
        sd: sample standard deviation of the differences (ddof = 1; NaN when n < 2).
        lo, hi: the ``level`` confidence interval ``mean -+ t_{df=n-1} * sd / sqrt(n)``
            (NaN when n < 2).
        t: the critical value used (NaN when n < 2).
    """

    n: int
    mean: float
    sd: float
    lo: float
    hi: float
    t: float

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies entirely above or below 0 (the change exceeds seed noise)."""
        return not math.isnan(self.lo) and (self.lo > 0 or self.hi < 0)

    def text(self, digits: int = 3) -> str:
        """``+0.052 [+0.010, +0.094]`` (``*`` appended when the CI excludes 0)."""
        if self.n == 0:
            return "-"
        if math.isnan(self.lo):
            return f"{self.mean:+.{digits}f} (n={self.n}, no CI)"
        star = " *" if self.excludes_zero else ""
        flat = " (sd 0)" if is_flat(self.sd) else ""  # every seed moved alike: a point interval
        return (f"{self.mean:+.{digits}f} [{self.lo:+.{digits}f}, {self.hi:+.{digits}f}]"
                f"{star}{flat}")


def is_flat(sd: float) -> bool:
    """A standard deviation of (numerically) zero: every pair differed by the same amount."""
    return not math.isnan(sd) and sd <= 1e-12


def paired_difference(treated: Sequence[float], baseline: Sequence[float],
                      level: float = CONFIDENCE) -> PairedDifference:
    """Paired difference of two equally long sequences (already matched position by position).

    ``d_s = treated_s - baseline_s`` over the pairs where both are defined (not NaN);
    ``mean = (1/n) sum d_s``, ``sd = sqrt(sum (d_s - mean)^2 / (n - 1))``, and the CI is
    ``mean -+ t_{(1+level)/2, n-1} * sd / sqrt(n)`` (:func:`t_critical`).
    """
    if len(treated) != len(baseline):
        raise ValueError(f"treated and baseline must be paired (got {len(treated)} and "
                         f"{len(baseline)} values)")
    diffs = [float(a) - float(b) for a, b in zip(treated, baseline)
             if not (math.isnan(float(a)) or math.isnan(float(b)))]
    n = len(diffs)
    if n == 0:
        return PairedDifference(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = sum(diffs) / n
    if n < 2:
        return PairedDifference(1, mean, math.nan, math.nan, math.nan, math.nan)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    t = t_critical(n - 1, level)
    half = t * sd / math.sqrt(n)
    return PairedDifference(n, mean, sd, mean - half, mean + half, t)


# --------------------------------------------------------------------------- multiplicity


#: Error rate controlled over a family of tests (FDR for Benjamini-Hochberg, FWER for Holm).
FAMILY_ALPHA = 0.05


def _pvalues(pvalues: Sequence[float]) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64).reshape(-1)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values: expected numbers in [0, 1] (no NaN)")
    return p


def benjamini_hochberg(pvalues: Sequence[float], alpha: float = FAMILY_ALPHA) -> np.ndarray:
    """Rejections [m] (bool) that control the false discovery rate at ``alpha``
    (Benjamini and Hochberg, 1995): with ``p_(1) <= ... <= p_(m)`` sorted, reject the ``k``
    smallest, ``k`` the largest index with ``p_(k) <= k alpha / m``."""
    p = _pvalues(pvalues)
    m = p.size
    reject = np.zeros(m, dtype=bool)
    if m == 0:
        return reject
    order = np.argsort(p, kind="stable")
    below = p[order] <= alpha * np.arange(1, m + 1) / m
    if below.any():
        reject[order[: int(np.nonzero(below)[0].max()) + 1]] = True
    return reject


def holm(pvalues: Sequence[float], alpha: float = FAMILY_ALPHA) -> np.ndarray:
    """Rejections [m] (bool) that control the family-wise error rate at ``alpha`` (Holm,
    1979): walk the sorted p-values, rejecting ``p_(k)`` while ``p_(k) <= alpha / (m - k + 1)``,
    and stop at the first that is not."""
    p = _pvalues(pvalues)
    m = p.size
    reject = np.zeros(m, dtype=bool)
    for rank, index in enumerate(np.argsort(p, kind="stable")):
        if p[index] > alpha / (m - rank):
            break
        reject[index] = True
    return reject


def paired_t_pvalue(difference: PairedDifference, direction: int = 0) -> float:
    """p-value of the paired t test of ``difference`` (H0: mean difference 0): two-sided
    when ``direction`` is 0, one-sided against ``H1: mean > 0`` (+1) or ``mean < 0`` (-1).
    NaN with fewer than two pairs; 0 or 1 when every pair differed by the same amount."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction: expected -1, 0 or +1 (got {direction!r})")
    if difference.n < 2 or math.isnan(difference.sd):
        return math.nan
    if is_flat(difference.sd):
        if direction == 0:
            return 1.0 if difference.mean == 0 else 0.0
        return 0.0 if difference.mean * direction > 0 else 1.0
    statistic = difference.mean / (difference.sd / math.sqrt(difference.n))
    if direction == 0:
        return float(2 * student_t.sf(abs(statistic), difference.n - 1))
    return float(student_t.sf(direction * statistic, difference.n - 1))


# --------------------------------------------------------------------------- intervals over seeds


@dataclass(frozen=True)
class SeedInterval:
    """The mean of per-seed values with its ``CONFIDENCE`` interval.

    Attributes:
        estimate: mean of the finite per-seed values (NaN when there are none).
        low, high: the interval (NaN with fewer than two finite values).
        method: ``"t"`` (Student's t over seeds), ``"bootstrap"`` (percentile bootstrap of
            the seed mean: the t interval left ``bounds`` or the values are bimodal) or
            ``"none"``.
        values: the per-seed values, in seed order (NaN kept).
    """

    estimate: float
    low: float
    high: float
    method: str
    values: tuple[float, ...]

    @property
    def bimodal(self) -> bool:
        return is_bimodal(self.values)

    def text(self, digits: int = 3, signed: bool = False) -> str:
        """``0.952 [0.910, 0.994]``; the per-seed values follow when they are bimodal."""
        fmt = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        if math.isnan(self.estimate):
            return "-"
        out = fmt.format(self.estimate)
        if not math.isnan(self.low):
            out += f" [{fmt.format(self.low)}, {fmt.format(self.high)}]"
        if self.bimodal:
            out += " (seeds: " + " / ".join(fmt.format(v) for v in self.values) + ")"
        return out


def seed_interval(values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf),
                  level: float = CONFIDENCE, resamples: int = RESAMPLES) -> SeedInterval:
    """Mean of per-seed ``values`` [S] with an interval that respects the measure's ``bounds``.

    Student's t (``mean -+ t_{S-1} sd / sqrt(S)``) where its assumptions are plausible:
    the values are not bimodal (:func:`is_bimodal`) and the interval stays inside
    ``bounds`` (e.g. (0, 1) for an F1, (-1, 1) for a difference of two). Otherwise the
    percentile bootstrap of the seed mean (``resamples`` resamples of the seeds, stream
    ``BOOTSTRAP_SEED``), which cannot leave the range of the values. NaN values are left out.
    """
    kept = tuple(float(v) for v in values)
    finite = np.array([v for v in kept if math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return SeedInterval(math.nan, math.nan, math.nan, "none", kept)
    mean = float(finite.mean())
    if finite.size < 2:
        return SeedInterval(mean, math.nan, math.nan, "none", kept)
    half = t_critical(finite.size - 1, level) * float(finite.std(ddof=1)) / math.sqrt(finite.size)
    low, high = mean - half, mean + half
    if bounds[0] <= low and high <= bounds[1] and not is_bimodal(finite.tolist()):
        return SeedInterval(mean, low, high, "t", kept)
    means = weighted_mean(finite, resample_counts(finite.size, resamples)) if resamples else finite
    tail = (1 - level) / 2 * 100
    low, high = (float(q) for q in np.percentile(means, [tail, 100 - tail]))
    return SeedInterval(mean, low, high, "bootstrap", kept)
