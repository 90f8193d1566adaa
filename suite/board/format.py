"""Cells and header lines of a board, shared by its Markdown and HTML renderings."""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import kendalltau

from suite.board.numbers import finite, format_number
from suite.board.table import Column, Leaderboard
from suite.protocol import REFERENCE_SOURCE


def format_cell(row: pd.Series, column: Column, plus_minus: str = "+-") -> str:
    """The text of ``column`` in ``row`` of ``Leaderboard.table``."""
    if column.aggregated:
        mean, std = row[f"{column.key}_mean"], row[f"{column.key}_std"]
        text = format_number(mean, column.kind)
        if (text != "-" and column.key == row.get("rank_metric") and finite(row.get("rank_low"))
                and finite(row.get("rank_high"))):
            return (f"{text} [{format_number(row['rank_low'], 'score')}, "
                    f"{format_number(row['rank_high'], 'score')}]")
        if text != "-" and finite(std):
            text += f" {plus_minus} {format_number(std, column.kind, like=mean)}"
        if column.key == "model_acc_test":
            text += floor_flag(row)
        return text
    value = row.get(column.key)
    if column.numeric:
        return format_number(value, column.kind)
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def sort_value(row: pd.Series, column: Column) -> str:
    """A machine-sortable value of a cell (the mean for scores; empty when missing)."""
    value = row.get(f"{column.key}_mean" if column.aggregated else column.key)
    if column.numeric:
        return repr(float(value)) if finite(value) else ""
    return "" if value is None else str(value)


def floor_flag(row: pd.Series) -> str:
    """`` (below floor)`` when the row's model is below the accuracy floor in some seed."""
    below, seeds = int(row.get("below_floor", 0) or 0), int(row.get("seeds", 0) or 0)
    if below <= 0:
        return ""
    return " (below floor)" if below >= seeds else f" (below floor in {below}/{seeds} seeds)"


def plausibility_faithfulness_tau(part: pd.DataFrame) -> dict[str, float]:
    """Per ``model (training)`` group of a dataset's rows: Kendall's tau-b between the mean
    edge AUC and minus the mean deletion area over the explainers that have both (the
    reference rows left out); groups with fewer than three such explainers are left out."""
    out: dict[str, float] = {}
    needed = {"edge_auc_mean", "deletion_area_mean", "explainer_source"}
    if not needed <= set(part.columns):
        return out
    rows = part[part["explainer_source"].astype(str) != REFERENCE_SOURCE]
    for (model, training), group in rows.groupby(["model", "training"], sort=False):
        both = group[["edge_auc_mean", "deletion_area_mean"]].dropna()
        if len(both) < 3:
            continue
        tau = kendalltau(both["edge_auc_mean"], -both["deletion_area_mean"]).statistic
        if math.isfinite(tau):
            out[f"{model} ({training})"] = float(tau)
    return out


def describe_dataset(board: Leaderboard, dataset: str) -> str:
    """One line under a dataset's heading: task, family and the rank metric."""
    part = board.section(dataset)
    task, family = str(part["task"].iloc[0]), str(part["dataset_family"].iloc[0])
    metric = board.rank_metric.get(dataset)
    ranked = f"ranked by {metric} (mean over seeds)" if metric else "not ranked (no ranking score)"
    devices = ", ".join(sorted(set(", ".join(part["device"].astype(str)).split(", "))))
    line = f"{task}-level task, {family}; {ranked}; throughput measured on {devices}."
    agreement = plausibility_faithfulness_tau(part)
    if agreement:
        line += (" Plausibility vs faithfulness, Kendall's tau between edge AUC and minus the "
                 "deletion area over the explainers (1 = the same order): "
                 + ", ".join(f"{group} {tau:+.2f}" for group, tau in agreement.items()) + ".")
    card = board.card(dataset)
    if not card.empty and "dataset_params" in card:
        params = sorted(set(card["dataset_params"].astype(str)))
        line += f" Dataset parameters: {'; '.join(params)}."
    return line


def provenance_lines(board: Leaderboard) -> list[str]:
    """``label: value`` lines saying where the numbers come from."""
    p = board.provenance
    counts = ", ".join(f"{v} {k}" for k, v in p.counts.items()) or "none"
    return [
        f"suite version: {', '.join(p.suite_versions) or 'unknown'}",
        f"git commit: {', '.join(p.git_commits) or 'unknown'}"
        + (" (some cells ran with uncommitted changes)" if p.dirty else ""),
        f"device: {', '.join(p.devices) or 'unknown'}",
        f"packages: {'; '.join(p.packages) or 'unknown'}",
        f"runs: {len(p.run_ids)}; cells: {counts}",
    ] + ([f"submitted cells: {p.submitted} (marked \"(submitted)\"; their versions, commit "
          "and device are the submitter's and are not listed above)"] if p.submitted else [])
