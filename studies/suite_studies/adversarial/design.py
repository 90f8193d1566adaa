"""The adversarial study's design: seeds that find effects, fresh seeds that confirm them,
and the paper's claims, pooled over the models that learned their task.

Fixed before any seed of the study's version 2 ran:

- **Usable pairs.** A seed's (standard, adversarial) pair of cells counts only when both
  models meet their dataset's floor (``suite.protocol.floor_for``, recorded per cell as
  ``below_accuracy_floor``) and both explanations changed something (not degenerate:
  ``suite.metrics.degenerate.row_reason``).
- **Find, then confirm.** Every (dataset, model, explainer, adversarial mode, metric)
  comparison with at least two usable pairs on the *discovery* seeds is one test of a
  family: two-sided paired t test, Benjamini-Hochberg at false discovery rate ``fdr``.
  Each effect found is retested on the *confirmation* seeds (never used to find it),
  one-sided in the direction found, Holm over the effects found at family-wise error
  ``fwer``; only a retest that rejects counts as confirmed.
- **Matched clean accuracy.** Beside each effect as measured, the same effect over only
  the pairs whose clean test accuracies differ by at most ``accuracy_band``.
- **Claims** (:func:`claims`): per adversarial mode, the precondition (more accurate under
  its own attack) and one claim per metric of :data:`CLAIMED`; each is the per-seed mean of
  the usable pairs' differences (random explainer left out), with a 95% interval over all
  seeds (:func:`suite.core.stats.seed_interval`). These claims were stated before the run,
  so they use every seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from suite.core.stats import (
    FAMILY_ALPHA,
    benjamini_hochberg,
    holm,
    paired_difference,
    paired_t_pvalue,
    seed_interval,
)
from suite.metrics.degenerate import row_reason
from suite_studies.claims import Claim

#: The training mode every adversarial mode is compared with.
BASELINE = "standard"
#: The explainer whose scores carry no explanation (left out of the pooled claims).
RANDOM = "random"
#: Largest clean-accuracy difference of a "matched" pair.
ACCURACY_BAND = 0.05
#: Metrics with a claim of the seed paper: metric -> (claimed direction, what it says).
CLAIMED: dict[str, tuple[int, str]] = {
    "edge_auc": (1, "match the ground truth better (edge AUC)"),
    "repr_fidelity": (1, "reproduce the model's representation better (representation "
                         "fidelity, ground-truth-free)"),
    "unfaithfulness": (-1, "are more faithful to the model's prediction (GEF unfaithfulness "
                           "lower)"),
}
#: Valid range of a paired difference of each compared metric (others: unbounded).
DIFFERENCE_BOUNDS: dict[str, tuple[float, float]] = {
    "edge_auc": (-1.0, 1.0), "unfaithfulness": (-1.0, 1.0), "fid_plus_acc": (-1.0, 1.0),
    "clean": (-1.0, 1.0),
}


def difference_bounds(metric: str) -> tuple[float, float]:
    """The range a paired difference of ``metric`` can take (accuracies: [-1, 1])."""
    if metric in DIFFERENCE_BOUNDS or metric.startswith("robust@"):
        return DIFFERENCE_BOUNDS.get(metric, (-1.0, 1.0))
    return (-math.inf, math.inf)


@dataclass(frozen=True)
class StudyDesign:
    """Which seeds find effects, which confirm them, and the error rates (see the module)."""

    discovery: tuple[int, ...] = (0, 1, 2, 3, 4)
    confirmation: tuple[int, ...] = (5, 6, 7, 8, 9)
    fdr: float = FAMILY_ALPHA
    fwer: float = FAMILY_ALPHA
    accuracy_band: float = ACCURACY_BAND

    def __post_init__(self) -> None:
        if set(self.discovery) & set(self.confirmation):
            raise ValueError("confirmation: its seeds must not find the effects they confirm "
                             f"(shared: {sorted(set(self.discovery) & set(self.confirmation))})")

    @classmethod
    def halves(cls, seeds: Sequence[int]) -> "StudyDesign":
        """The first half of ``seeds`` finds, the second confirms (one seed each at least)."""
        seeds = tuple(int(s) for s in seeds)
        cut = max(1, len(seeds) // 2)
        return cls(discovery=seeds[:cut], confirmation=seeds[cut:])

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.discovery + self.confirmation

    def record(self) -> dict[str, Any]:
        return {"discovery": list(self.discovery), "confirmation": list(self.confirmation),
                "fdr": self.fdr, "fwer": self.fwer, "accuracy_band": self.accuracy_band}


# ----------------------------------------------------------------------------- usable pairs


def exclusion(row: Mapping[str, Any]) -> str:
    """Why a done cell cannot support a claim ('' when it can): its model is below its
    floor, or its explanation is degenerate."""
    below = row.get("below_accuracy_floor", 0.0)
    if isinstance(below, (int, float)) and math.isfinite(below) and below > 0:
        floor = row.get("model_floor", math.nan)
        return ("model below its floor" + (f" {floor:.2f}" if isinstance(floor, float)
                                           and math.isfinite(floor) else ""))
    reason = row_reason(dict(row))
    return f"degenerate explanation: {reason}" if reason else ""


def usable(frame: pd.DataFrame) -> pd.DataFrame:
    """The done cells of ``frame`` that can support a claim (:func:`exclusion`)."""
    if frame.empty:
        return frame
    done = frame[frame["status"] == "done"]
    keep = [not exclusion(row) for row in done.to_dict("records")]
    return done[np.asarray(keep, dtype=bool)] if len(done) else done


def usable_models(models: pd.DataFrame) -> pd.DataFrame:
    """The models (``model_frame`` rows) that meet their floor."""
    if models.empty or "below_floor" not in models:
        return models
    return models[~models["below_floor"].astype(bool)]


# ----------------------------------------------------------------------------- per-seed differences


def seed_differences(frame: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str],
                     accuracy: str | None = None, baseline: str = BASELINE) -> pd.DataFrame:
    """One row per (``keys``, training, metric, seed) with both arms defined:
    ``diff = mode - baseline`` of ``metric``, and ``acc_diff`` the same difference of the
    ``accuracy`` column (NaN without one). A seed appearing twice in an arm is averaged."""
    columns = [*keys, "training", "metric", "seed", "baseline", "mode", "diff", "acc_diff"]
    rows: list[dict[str, Any]] = []
    if frame.empty:
        return pd.DataFrame(columns=columns)
    for group, part in frame.groupby(list(keys), sort=False, dropna=False):
        group = group if isinstance(group, tuple) else (group,)
        arms = {name: arm.groupby("seed").mean(numeric_only=True)
                for name, arm in part.groupby("training", sort=False)}
        base = arms.get(baseline)
        if base is None:
            continue
        for mode in [m for m in dict.fromkeys(part["training"]) if m != baseline]:
            treated = arms[mode]
            for metric in metrics:
                if metric not in base or metric not in treated:
                    continue
                for seed in sorted(set(base.index) & set(treated.index)):
                    b, t = float(base.at[seed, metric]), float(treated.at[seed, metric])
                    if math.isnan(b) or math.isnan(t):
                        continue
                    acc = (float(treated.at[seed, accuracy]) - float(base.at[seed, accuracy])
                           if accuracy and accuracy in base else math.nan)
                    rows.append({**dict(zip(keys, group)), "training": mode, "metric": metric,
                                 "seed": int(seed), "baseline": b, "mode": t, "diff": t - b,
                                 "acc_diff": acc})
    return pd.DataFrame(rows, columns=columns)


def matched(differences: pd.DataFrame, band: float = ACCURACY_BAND) -> pd.DataFrame:
    """The pairs whose clean accuracies differ by at most ``band``."""
    return differences[differences["acc_diff"].abs() <= band + 1e-12]


# ----------------------------------------------------------------------------- find and confirm


def _test(values: Sequence[float], direction: int = 0) -> tuple[float, float, float, float]:
    """(mean, low, high, p) of per-seed differences: t test, ``direction`` as in
    :func:`~suite.core.stats.paired_t_pvalue`."""
    diff = paired_difference(list(values), [0.0] * len(values))
    return diff.mean, diff.lo, diff.hi, paired_t_pvalue(diff, direction)


def family_tests(differences: pd.DataFrame, keys: Sequence[str], design: StudyDesign
                 ) -> pd.DataFrame:
    """Find effects on the discovery seeds and retest them on the confirmation seeds.

    ``differences``: :func:`seed_differences` of the usable pairs. One row per comparison
    with at least two discovery pairs: ``n``, ``diff``, ``lo``, ``hi``, ``p`` (discovery,
    two-sided), ``found`` (Benjamini-Hochberg at ``design.fdr``), and for the effects found
    ``n_confirm``, ``diff_confirm``, ``lo_confirm``, ``hi_confirm``, ``p_confirm`` (one-sided
    in the direction found) and ``confirmed`` (Holm at ``design.fwer`` over the found).
    """
    group_keys = [*keys, "training", "metric"]
    rows = []
    for group, part in differences.groupby(group_keys, sort=False):
        found_on = part[part["seed"].isin(design.discovery)]["diff"].tolist()
        if len(found_on) < 2:
            continue
        again = part[part["seed"].isin(design.confirmation)]["diff"].tolist()
        mean, low, high, p = _test(found_on)
        rows.append({**dict(zip(group_keys, group)), "n": len(found_on), "diff": mean,
                     "lo": low, "hi": high, "p": p, "n_confirm": len(again),
                     "confirm_values": again})
    table = pd.DataFrame(rows, columns=[*group_keys, "n", "diff", "lo", "hi", "p", "n_confirm",
                                        "confirm_values"])
    table["found"] = benjamini_hochberg(table["p"].tolist(), design.fdr) if len(table) else []
    for column in ("diff_confirm", "lo_confirm", "hi_confirm", "p_confirm"):
        table[column] = math.nan
    table["confirmed"] = False
    found = table.index[table["found"]]
    for index in found:
        values = table.at[index, "confirm_values"]
        direction = 1 if table.at[index, "diff"] > 0 else -1
        mean, low, high, p = _test(values, direction)
        table.loc[index, ["diff_confirm", "lo_confirm", "hi_confirm", "p_confirm"]] = (
            mean, low, high, 1.0 if math.isnan(p) else p)
    if len(found):
        table.loc[found, "confirmed"] = holm(table.loc[found, "p_confirm"].tolist(), design.fwer)
    return table.drop(columns="confirm_values")


# ----------------------------------------------------------------------------- claims


def pooled(differences: pd.DataFrame, metric: str, mode: str) -> dict[int, float]:
    """seed -> mean over the usable comparisons (random left out) of ``mode``'s difference."""
    part = differences[(differences["metric"] == metric) & (differences["training"] == mode)]
    if "explainer" in part:
        part = part[part["explainer"] != RANDOM]
    return {int(s): float(v) for s, v in part.groupby("seed")["diff"].mean().items()}


def _pooled_claim(claim: str, test: str, per_seed: Mapping[int, float], metric: str,
                  direction: int) -> Claim:
    values = [per_seed[s] for s in sorted(per_seed)]
    if len(values) < 2:
        return Claim(claim, test, math.nan, math.nan, math.nan, direction,
                     excluded=f"{len(values)} seed(s) with a usable pair")
    interval = seed_interval(values, difference_bounds(metric))
    return Claim(claim, f"{test}, {len(values)} seeds ({interval.method} interval)",
                 interval.estimate, interval.low, interval.high, direction)


def claims(explanation_differences: pd.DataFrame, accuracy_differences: pd.DataFrame,
           modes: Sequence[str], design: StudyDesign) -> list[Claim]:
    """The seed paper's claims (module docstring), per adversarial mode, on usable pairs:
    ``explanation_differences`` from :func:`seed_differences` of :func:`usable` cells
    (``acc_diff`` = clean accuracy), ``accuracy_differences`` of :func:`usable_models`."""
    out = []
    for mode in modes:
        out.append(_pooled_claim(
            f"Training against the {mode} attack makes the model more accurate under that "
            "attack (precondition)",
            f"test accuracy under the attack, {mode} - {BASELINE}, mean over the (dataset, "
            "model) pairs above their floors",
            pooled(accuracy_differences, f"robust@{mode}", mode), "clean", 1))
        for metric, (direction, says) in CLAIMED.items():
            for label, diffs in (("", explanation_differences),
                                 (" at matched clean accuracy",
                                  matched(explanation_differences, design.accuracy_band))):
                band = (f", pairs with |clean accuracy difference| <= {design.accuracy_band:.2f}"
                        if label else "")
                out.append(_pooled_claim(
                    f"Explanations of {mode}-trained models {says}{label}",
                    f"{metric}, {mode} - {BASELINE}, mean over usable (dataset, model, "
                    f"explainer) pairs, random left out{band}",
                    pooled(diffs, metric, mode), metric, direction))
    return out


__all__ = ["ACCURACY_BAND", "BASELINE", "CLAIMED", "StudyDesign", "claims",
           "difference_bounds", "exclusion", "family_tests", "matched", "pooled",
           "seed_differences", "usable", "usable_models"]
