"""PNG plots of a leaderboard (matplotlib, imported where used; no pyplot, no global state).

Figures are drawn on ``matplotlib.figure.Figure`` with the Agg canvas directly, so
plotting never touches the process-wide backend and works headless.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from suite.core.paths import atomic_write
from suite.metrics.drop_curve import DROP_GRID, curve_column

if TYPE_CHECKING:
    from suite.board.table import Leaderboard

#: Saved without the matplotlib version in the PNG, so reruns give identical bytes.
_PNG_METADATA = {"Software": None}
_DPI = 110


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", metadata=_PNG_METADATA,
                                                  bbox_inches="tight"))
    return path


def _empty(path: Path, message: str) -> Path:
    fig = _figure(6, 2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    return _save(fig, path)


def _colours(names: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _group_label(row: pd.Series, multi_setup: bool) -> str:
    if not multi_setup:
        return str(row["dataset"])
    return f"{row['dataset']}\n{row['model']}/{row['training']}"


def plot_auc_per_explainer(board: "Leaderboard", path: str | Path,
                           metric: str = "edge_auc") -> Path:
    """Grouped bars: mean ``metric`` per explainer (bars) per dataset (groups), std error bars.

    A group is a (dataset, model, training) triple; model and training appear in the
    labels only when the board holds more than one of them. Datasets without the
    metric are left out.
    """
    table = board.table[board.table[f"{metric}_mean"].notna()]
    if table.empty:
        return _empty(Path(path), f"no {metric} in the store (no dataset with ground truth)")
    setups = list(dict.fromkeys(zip(table["dataset"], table["model"], table["training"])))
    multi = table[["model", "training"]].drop_duplicates().shape[0] > 1
    explainers = sorted(table["explainer"].astype(str).unique())
    colours = _colours(explainers)
    width = 0.8 / len(explainers)
    fig = _figure(min(4 + 0.35 * len(setups) * len(explainers), 40), 4.2)
    ax = fig.add_subplot()
    labels = []
    for g, setup in enumerate(setups):
        rows = table[(table["dataset"] == setup[0]) & (table["model"] == setup[1])
                     & (table["training"] == setup[2])]
        labels.append(_group_label(rows.iloc[0], multi))
        for _, row in rows.iterrows():
            i = explainers.index(str(row["explainer"]))
            std = row[f"{metric}_std"]
            ax.bar(g - 0.4 + width * (i + 0.5), row[f"{metric}_mean"], width,
                   yerr=0.0 if not math.isfinite(std) else std, capsize=2,
                   color=colours[str(row["explainer"])])
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xticks(range(len(setups)), labels)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"{metric} (mean +- std over seeds)")
    ax.set_title(f"{metric} per explainer and dataset (dashed: random = 0.5)")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colours[e], label=e) for e in explainers], loc="upper left",
              bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    return _save(fig, Path(path))


def plot_auc_vs_throughput(board: "Leaderboard", path: str | Path,
                           metric: str = "edge_auc") -> Path:
    """Scatter of mean ``metric`` against explanations per second (log x), one point per row.

    Colour = explainer, marker = dataset; vertical bars are the std over seeds.
    """
    table = board.table
    keep = table[f"{metric}_mean"].notna() & (table["explanations_per_s_mean"] > 0)
    table = table[keep]
    if table.empty:
        return _empty(Path(path), f"no cell with both {metric} and a throughput")
    from matplotlib.lines import Line2D

    explainers = sorted(table["explainer"].astype(str).unique())
    datasets = list(dict.fromkeys(table["dataset"].astype(str)))
    colours = _colours(explainers)
    markers = dict(zip(datasets, "osD^vP*Xhp<>" * (len(datasets) // 12 + 1)))
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for _, row in table.iterrows():
        std = row[f"{metric}_std"]
        ax.errorbar(row["explanations_per_s_mean"], row[f"{metric}_mean"],
                    yerr=0.0 if not math.isfinite(std) else std,
                    fmt=markers[str(row["dataset"])], color=colours[str(row["explainer"])],
                    markersize=7, capsize=2, alpha=0.85)
    ax.set_xscale("log")
    ax.set_ylim(min(0.0, float(table[f"{metric}_mean"].min()) - 0.05), 1.05)
    devices = ", ".join(board.provenance.devices) or "unknown device"
    ax.set_xlabel(f"explanations per second (log scale; {devices})")
    ax.set_ylabel(f"{metric} (mean over seeds)")
    ax.set_title(f"{metric} vs throughput")
    ax.grid(True, which="major", alpha=0.3)
    handles = [Line2D([], [], color=colours[e], marker="o", linestyle="", label=e)
               for e in explainers]
    handles += [Line2D([], [], color="black", marker=markers[d], linestyle="", label=d)
                for d in datasets]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              frameon=False)
    return _save(fig, Path(path))


def plot_edges_dropped(board: "Leaderboard", path: str | Path) -> Path:
    """Edges-dropped curves: accuracy (mean over seeds) vs share of explained edges removed,
    least important first; one panel per (dataset, model, training), one line per explainer.

    Reads the ``curve_drop_acc_*`` score columns (``suite.metrics.drop_curve``).
    """

    columns = [f"{curve_column(q)}_mean" for q in DROP_GRID]
    table = board.table
    if not set(columns) <= set(table.columns):
        return _empty(Path(path), "no edges-dropped curves in the store")
    table = table[table[columns].notna().all(axis=1)]
    if table.empty:
        return _empty(Path(path), "no edges-dropped curves in the store")
    setups = list(dict.fromkeys(zip(table["dataset"], table["model"], table["training"])))
    explainers = sorted(table["explainer"].astype(str).unique())
    colours = _colours(explainers)
    cols = min(4, len(setups))
    rows_n = math.ceil(len(setups) / cols)
    fig = _figure(3.2 * cols + 2.2, 2.8 * rows_n)
    axes = [fig.add_subplot(rows_n, cols, i + 1) for i in range(len(setups))]
    for ax, setup in zip(axes, setups):
        part = table[(table["dataset"] == setup[0]) & (table["model"] == setup[1])
                     & (table["training"] == setup[2])]
        for _, row in part.iterrows():
            ax.plot(DROP_GRID, [row[c] for c in columns], color=colours[str(row["explainer"])],
                    linewidth=1.2)
        base = float(part[columns[0]].iloc[0])
        ax.axhspan(base * 0.95, base * 1.05, color="grey", alpha=0.15, linewidth=0)
        ax.set_title(f"{setup[0]} / {setup[1]} / {setup[2]}", fontsize="small")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.grid(True, alpha=0.3)
    for ax in axes[-cols:]:
        ax.set_xlabel("share of explained edges dropped")
    for ax in axes[::cols]:
        ax.set_ylabel("accuracy")
    from matplotlib.lines import Line2D

    fig.legend(handles=[Line2D([], [], color=colours[e], label=e) for e in explainers],
               loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize="small", frameon=False)
    fig.suptitle("Edges dropped least-important first (band: within 5% of unmasked)",
                 fontsize="medium")
    return _save(fig, Path(path))
