"""``suite compare``: named explainers (built-in or plug-in) against the current board.

:func:`compare` runs the named explainers over a matrix's datasets, models,
training modes and seeds (the other explainers of the matrix are dropped; an
explainer the matrix configures keeps its parameters) into the results store,
so resume and the store's provenance apply, then compares them with the board
of that store. Per (dataset, model, training) it reports the compared
explainer's score, its rank on the board, the best other explainer, and the
paired difference over seeds (the same seed is the same trained model, so seeds
pair up) with a 95% t interval; the difference *exceeds seed noise* when that
interval excludes 0 (at least two shared seeds are needed). The score is the
board's rank metric of the dataset (edge AUC where there is ground truth).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from suite.board.table import Leaderboard, build_leaderboard, latest_cells
from suite.core.records import InstanceRecords
from suite.core.stats import PairedDifference, paired_difference
from suite.explainers import EXPLAINERS
from suite.matrix import MatrixConfig
from suite.store.frame import DONE, KEY

#: Confidence level of the difference intervals.
LEVEL = 0.95


def compare_matrix(config: MatrixConfig, explainers: Sequence[str]) -> MatrixConfig:
    """``config`` with only ``explainers`` (canonical names; the matrix's parameters kept)."""

    names = [EXPLAINERS.resolve(name) for name in explainers]
    if not names:
        raise ValueError("compare: name at least one explainer (--explainer NAME)")
    return dataclasses.replace(
        config, name=f"{config.name}-compare",
        explainers={name: dict(config.explainers.get(name, {})) for name in names})


@dataclass
class Comparison:
    """The side-by-side: ``rows`` (one per compared explainer and dataset/model/training)
    and ``board`` (the store's board, compared explainers included)."""

    explainers: tuple[str, ...]
    matrix: str
    rows: pd.DataFrame
    board: Leaderboard

    def markdown(self) -> str:
        return comparison_markdown(self)


def _seed_scores(done: pd.DataFrame, key: tuple[str, ...], metric: str) -> dict[int, float]:
    rows = done
    for col, value in zip(KEY, key):
        rows = rows[rows[col] == value]
    if metric not in rows:
        return {}
    values = pd.to_numeric(rows[metric], errors="coerce")
    return {int(s): float(v) for s, v in zip(rows["seed"], values) if not math.isnan(v)}


def build_comparison(frame: pd.DataFrame, explainers: Sequence[str], matrix: str = "",
                     instances: Mapping[str, InstanceRecords] | None = None) -> Comparison:
    """Compare ``explainers`` with the rest of the board of ``frame`` (a store's cells frame,
    with its per-instance records ``instances`` for protocol-2 ranks); pure."""
    board = build_leaderboard(frame, instances)
    cells = frame.copy()
    for col in KEY:
        cells[col] = cells[col].astype(str)
    done = latest_cells(cells)
    done = done[done["status"].astype(str) == DONE]
    names = tuple(explainers)
    out = []
    table = board.table
    for _, row in table[table["explainer"].isin(names)].iterrows():
        group = table[(table["dataset"] == row["dataset"]) & (table["model"] == row["model"])
                      & (table["training"] == row["training"])]
        metric = board.rank_metric.get(str(row["dataset"]))
        others = group[~group["explainer"].isin(names)]
        record: dict[str, Any] = {k: row[k] for k in (*KEY, "seeds")}
        record.update(metric=metric or "-", rank=row["rank"], of=len(group),
                      mean=row.get(f"{metric}_mean", math.nan) if metric else math.nan,
                      std=row.get(f"{metric}_std", math.nan) if metric else math.nan)
        best = others.dropna(subset=["rank"]).sort_values("rank", kind="stable") if metric else others.iloc[:0]
        if best.empty:
            record.update(reference="-", ref_mean=math.nan, ref_std=math.nan,
                          diff=PairedDifference(0, math.nan, math.nan, math.nan, math.nan, math.nan))
        else:
            ref = best.iloc[0]
            mine = _seed_scores(done, tuple(str(row[k]) for k in KEY), metric)
            theirs = _seed_scores(done, tuple(str(ref[k]) for k in KEY), metric)
            seeds = sorted(set(mine) & set(theirs))
            record.update(reference=ref["explainer"], ref_mean=ref[f"{metric}_mean"],
                          ref_std=ref[f"{metric}_std"],
                          diff=paired_difference([mine[s] for s in seeds],
                                                 [theirs[s] for s in seeds]))
        out.append(record)
    return Comparison(explainers=names, matrix=matrix, rows=pd.DataFrame(out), board=board)


def _score(mean: Any, std: Any) -> str:
    if not isinstance(mean, float) or math.isnan(mean):
        return "-"
    return f"{mean:.3f}" + (f" ± {std:.3f}" if isinstance(std, float) and not math.isnan(std) else "")


def _noise(diff: PairedDifference) -> str:
    if diff.n == 0:
        return "-"
    if diff.n < 2:
        return "unknown (1 seed)"
    return ("yes, better" if diff.lo > 0 else "yes, worse") if diff.excludes_zero else "no"


def comparison_markdown(result: Comparison) -> str:
    """The comparison as Markdown: the summary table, then each dataset's board column."""
    names = ", ".join(f"`{n}`" for n in result.explainers)
    lines = [f"# suite compare: {names} vs the board", "",
             f"Matrix `{result.matrix}`. Score: the board's rank metric of each dataset (mean ± "
             "std over seeds). Difference: compared minus the best other explainer on the board, "
             f"mean over shared seeds (one seed = one trained model) with a {LEVEL:.0%} paired t "
             "interval; it *exceeds seed noise* when the interval excludes 0.", ""]
    if result.rows.empty:
        lines.append("No finished cells of the compared explainers.")
        return "\n".join(lines) + "\n"
    lines += ["| dataset | model | training | explainer | metric | score | rank | best other | "
              "its score | difference [95% CI] | exceeds seed noise |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in result.rows.iterrows():
        rank = "-" if pd.isna(r["rank"]) else f"{int(r['rank'])}/{r['of']}"
        lines.append(f"| {r['dataset']} | {r['model']} | {r['training']} | **{r['explainer']}** | "
                     f"{r['metric']} | {_score(r['mean'], r['std'])} | {rank} | {r['reference']} | "
                     f"{_score(r['ref_mean'], r['ref_std'])} | {r['diff'].text()} | "
                     f"{_noise(r['diff'])} |")
    lines += ["", "## Side by side with every explainer on the board", ""]
    table = result.board.table
    for (dataset, model, training), part in result.rows.groupby(["dataset", "model", "training"],
                                                                 sort=False):
        metric = result.board.rank_metric.get(str(dataset))
        group = table[(table["dataset"] == dataset) & (table["model"] == model)
                      & (table["training"] == training)]
        lines += [f"### {dataset} / {model} / {training} ({metric or 'no rank metric'})", "",
                  "| rank | explainer | source | score | seeds |", "|---|---|---|---|---|"]
        for _, g in group.iterrows():
            name = f"**{g['explainer']}**" if g["explainer"] in result.explainers else g["explainer"]
            rank = "-" if pd.isna(g["rank"]) else str(int(g["rank"]))
            score = _score(g.get(f"{metric}_mean"), g.get(f"{metric}_std")) if metric else "-"
            lines.append(f"| {rank} | {name} | {g['explainer_source']} | {score} | {int(g['seeds'])} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
