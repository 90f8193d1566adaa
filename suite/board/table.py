"""The leaderboard: a pure function from the results store's cells frame to tables.

``build_leaderboard(frame)`` aggregates the finished cells of
``ResultsStore.cells_frame()`` (one row per cell) into one row per
(dataset, model, training, explainer): mean and sample standard deviation over
seeds of every score, the number of explained instances ``n`` (the minimum over
seeds) and the number of seeds. ``to_markdown`` renders it; ``write_leaderboard``
writes ``leaderboard.md``, ``leaderboard.html`` and the PNG plots. Nothing here
reads in-memory run state: every number traces back to a row of the store.

Ranking rule: within each (dataset, model, training), explainers are ranked by the
first of ``PROTOCOL_RANK_METRICS`` that has a value on that dataset (edge ROC-AUC
where the dataset has ground truth, else the deletion area, else fidelity+) with the
protocol's rank ranges (``suite.protocol.rank_group``); stores of protocol 1 by the
mean of the first of ``RANK_METRICS``, ties sharing the better rank.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from suite.board.numbers import finite, format_number
from suite.core.records import InstanceRecords
from suite.core.stats import segment_spearman
from suite.metrics.degenerate import row_reason
from suite.metrics.scorers import COLUMNS as SCORE_INFO
from suite.protocol import (
    PROTOCOL_VERSION,
    REFERENCE_SOURCE,
    FloorMetric,
    GroupEntry,
    rank_group,
)
from suite.store.frame import DONE, KEY, REQUIRED_COLUMNS
from suite.store.submissions import EXTERNAL_SOURCE

#: Score -> higher is better (registered columns).
COLUMN_DIRECTIONS: dict[str, bool] = {name: info.higher_is_better for name, info in SCORE_INFO.items()}

#: The headline score of the board.
HEADLINE = "edge_auc"

#: Ranking metrics in order of preference (all higher-is-better); see the module docstring.
RANK_METRICS: tuple[str, ...] = ("edge_auc", "fid_plus_acc", "characterization")

#: Known score columns, in display order. Other numeric columns of the frame that are
#: not in ``META_COLUMNS`` are aggregated too (scores of plug-in metrics).
SCORE_COLUMNS: tuple[str, ...] = (
    "edge_auc", "deletion_area", "insertion_area", "reference_corr",
    "edge_auc_instance", "edge_pr_auc", "node_auc",
    "fid_plus_acc", "fid_minus_acc", "fid_plus_prob", "fid_minus_prob", "characterization",
    "fid_plus_prob_soft", "fid_minus_prob_soft", "fid_plus_acc_soft", "fid_minus_acc_soft",
    "sparsity", "repr_fidelity", "unfaithfulness", "gea", "gea_edge", "edges_dropped_5pct",
    "drop_curve_area",
    "explanations_per_s", "explain_seconds", "fit_seconds", "seconds",
    "model_acc_test", "model_acc_val", "model_acc_train", "model_acc_ground_truth",
    "model_bal_acc_test", "model_majority_test", "explained_accuracy",
    "robust_acc_test", "robust_acc_val",
    "train_items_per_s", "train_seconds",
)

#: Score columns with this prefix are curve points: aggregated for plots, never tabled.
CURVE_PREFIX = "curve_"

#: Columns of the cells frame that describe a cell rather than score it.
META_COLUMNS: frozenset[str] = frozenset({
    "cell_key", "run_id", "dataset", "dataset_family", "task", "model", "training",
    "explainer", "explainer_source", "seed", "device", "device_name", "config", "status",
    "error", "n_instances", "suite_version", "git_commit", "git_dirty", "python", "started_at",
    "finished_at", "below_accuracy_floor", "protocol_version", "group_n", "model_floor",
    "model_gt_instances",
})  # and every ``<package>_version`` column

#: The conventions every number on the board follows (the header of every rendering).
CONVENTIONS: tuple[str, ...] = (
    "Headline: edge ROC-AUC against the ground-truth explanation, pooled over the directed "
    "edges of every explained target's computation subgraph (its k-hop neighbourhood, "
    "k = model depth; all edges of the graph for graph tasks); absolute values are taken "
    "for signed attribution methods.",
    "Every score cell is mean +- std over seeds (sample standard deviation, ddof = 1; a "
    "single seed shows the mean only). `n` is the number of explained instances per cell "
    "(the minimum over seeds); `seeds` the number of finished seeds. A seed run again with "
    "other settings counts once, with its most recent result.",
    "Faithfulness beside plausibility: Deletion and Insertion are the areas under the "
    "probability of the model's original prediction as each instance's explained edges are "
    "removed from the graph highest-scored first (deletion, lower is better: the "
    "explanation names what the prediction needs) or as only the highest-scored ones are "
    "kept (insertion, higher is better: they suffice), over the shares 0, 0.05, ..., 1; "
    "both directions of an undirected edge go together and degree normalisations are "
    "recomputed (real removal, not message scaling). They are the headline fidelity, the "
    "probability fidelity curves over k read as areas: fid+(q) = p_full - deletion(q), "
    "fid-(q) = p_full - insertion(q). Compare each with random's row. The "
    "faithful reference row, exact leave-one-edge-out occlusion (each undirected edge removed "
    "alone, the drop of that probability), is shown in its own section and never ranked; "
    "\"Corr. w/ occlusion\" is each explainer's mean per-instance Spearman correlation with "
    "it on the same instances.",
    "Secondary ground-truth scores: edge AUC averaged per instance, edge PR-AUC (average "
    "precision), node ROC-AUC.",
    "Secondary fidelity: fidelity+ / fidelity- use top-k hard masks (message scaling), k = the number of ground-truth edges among "
    "each instance's explained edges (an instance without any: 10% of its explained edges, "
    "rounded up; the matrix's metric options topk / topk_share change this), against the "
    "model's own full-graph prediction (ties in the top-k broken by a seeded key of the "
    "instance and the edge's endpoints, never by storage order): fid+ = change of the output when the top-k edges are "
    "removed (higher is better), fid- = change when only they are kept (lower is better); "
    "\"prob\" is the drop of the predicted class's probability, \"acc\" the share of "
    "predictions that change. Characterization is the harmonic mean of fid+ and 1 - fid- "
    "(accuracy form). \"soft\" columns use the scores divided by the instance's maximum as "
    "a soft mask instead of a top-k hard mask.",
    "Ground-truth-free: representation-fidelity (the suite's own definition in the spirit of "
    "Loveland et al., ICML 2021 XAI workshop, whose exact formula was not available) = "
    "1 - d(z, z_E) / mean_j d(z, z_R^j), d the cosine distance, z the embedding the classifier "
    "reads, z_E with only the explanation's top-k edges kept, z_R^j with k random edges of "
    "the same instance kept (10 draws): 1 = the explanation alone reproduces the "
    "representation, 0 = no better than chance. Unfaithfulness is GraphXAI's GEF, "
    "1 - exp(-KL(p_full || p_expl)) with the same top-k kept (lower is better).",
    "Dropped @5% (GraphMask's headline number): the largest share of each instance's "
    "explained edges that can be removed, lowest scores first, while the model's accuracy "
    "on the explained instances stays within 5% (relative) of its unmasked accuracy at every "
    "step of the grid 0, 0.05, ..., 1; the curves are plotted in edges_dropped.png.",
    "Throughput: explanations per second of the explainer's `explain` call on the named "
    "device (an amortised explainer's training time is reported apart as fit seconds).",
    "Model accuracy: test accuracy of the explained model, flagged \"below floor\" when "
    "the model is under the matrix's accuracy floor (its explanations explain a model "
    "that has not learned the task).",
    "Ranking (protocol 2): within each dataset, model and training mode, by edge AUC "
    "(datasets without ground truth: by faithfulness, the deletion area, lower first; "
    "fid+, accuracy form, in stores without it), every ranked explainer on exactly "
    "the same instances: by default the test instances with ground truth that the model "
    "predicts correctly. The headline cell shows the mean over seeds with a 95% paired "
    "bootstrap interval (2,000 resamples of the instances within each seed, fixed bootstrap "
    "seed); the rank is a range [1 + explainers significantly better, explainers not "
    "significantly worse]. Rows scored on other instances (own n), duplicates of a ranked "
    "explainer, degenerate explanations (scores constant on at least half the instances, or "
    "hard gates that keep or drop every edge of a scored layer) and models below their "
    "accuracy floor are shown with the reason, not ranked. "
    "A row whose seed values span more than 0.3 is marked bimodal with its per-seed values. "
    "Stores scored under protocol 1 are ranked by the mean and say so.",
    "Accuracy floors, on every seed (test accuracy and accuracy on the ground-truth test "
    "instances): 0.95 on BA-Shapes, Tree-Cycles, BA-2Motifs and benzene, 0.90 on BA-Community "
    "and Tree-Grid; elsewhere balanced accuracy 0.90 and above the majority class. Models are "
    "chosen on validation accuracy alone (`suite select-models`); the model cards list them.",
)


@dataclass(frozen=True)
class Column:
    """How one leaderboard column is shown.

    Attributes:
        key: a column of ``Leaderboard.table``; for ``kind`` ``score``/``rate``/``seconds``
            a score name whose ``<key>_mean`` and ``<key>_std`` columns are shown.
        label: header text.
        kind: ``text``, ``int``, ``score`` (3 decimals), ``rate`` or ``seconds``
            (significant digits): aggregated over seeds; ``fraction`` (3 decimals): one value.
        markdown: shown in the Markdown board (the HTML page shows every column).
        help: a tooltip in the HTML page.
    """

    key: str
    label: str
    kind: str
    markdown: bool = True
    help: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind != "text"

    @property
    def aggregated(self) -> bool:
        return self.kind in ("score", "rate", "seconds")


#: The columns of a dataset's table, in order.
DISPLAY_COLUMNS: tuple[Column, ...] = (
    Column("rank_text", "Rank", "text",
           help="rank range within dataset, model and training: [1 + explainers significantly "
                "better, explainers not significantly worse] (paired bootstrap, 95%)"),
    Column("explainer", "Explainer", "text"),
    Column("explainer_source", "Source", "text",
           help="suite, pyg (torch_geometric.explain) or baseline"),
    Column("model", "Model", "text"),
    Column("training", "Training", "text"),
    Column("edge_auc", "Edge AUC", "score", help="headline: pooled edge ROC-AUC"),
    Column("deletion_area", "Deletion", "score",
           help="faithfulness (necessity): area under the probability of the original "
                "prediction as the top-scored edges are removed from the graph; lower is better"),
    Column("insertion_area", "Insertion", "score",
           help="faithfulness (sufficiency): area under that probability with only the "
                "top-scored edges kept; higher is better"),
    Column("reference_corr", "Corr. w/ occlusion", "score",
           help="mean over instances of the Spearman correlation of the edge scores with the "
                "faithful reference's (leave-one-edge-out occlusion) on the same instances"),
    Column("edge_auc_instance", "Edge AUC (per inst.)", "score",
           help="mean of per-instance edge ROC-AUC"),
    Column("edge_pr_auc", "Edge PR-AUC", "score"),
    Column("node_auc", "Node AUC", "score"),
    Column("fid_plus_acc", "Fid+ acc", "score", help="top-k hard mask, higher is better"),
    Column("fid_minus_acc", "Fid- acc", "score", help="top-k hard mask, lower is better"),
    Column("fid_plus_prob", "Fid+ prob", "score"),
    Column("fid_minus_prob", "Fid- prob", "score"),
    Column("characterization", "Charact.", "score"),
    Column("fid_plus_prob_soft", "Fid+ prob (soft)", "score"),
    Column("fid_minus_prob_soft", "Fid- prob (soft)", "score"),
    Column("fid_plus_acc_soft", "Fid+ acc (soft)", "score", markdown=False),
    Column("fid_minus_acc_soft", "Fid- acc (soft)", "score", markdown=False),
    Column("sparsity", "Soft-mask sparsity", "score",
           help="1 - the mean of the scores divided by the instance's maximum (the suite's "
                "soft-mask measure; not GraphFramEx's share of edges outside a hard mask)"),
    Column("repr_fidelity", "Repr. fid.", "score",
           help="representation-fidelity (the suite's definition): 1 - d(z, z_expl) / d(z, z_random)"),
    Column("unfaithfulness", "Unfaith.", "score",
           help="GraphXAI's GEF: 1 - exp(-KL(p_full || p_expl)), top-k kept; lower is better"),
    Column("gea", "GEA", "score",
           help="GraphXAI's graph explanation accuracy: Jaccard of nodes scored > 0.1 x max with "
                "the ground-truth nodes"),
    Column("gea_edge", "GEA (edges)", "score", markdown=False,
           help="Jaccard of the top-k edges (k = ground-truth size) with the ground-truth edges"),
    Column("edges_dropped_5pct", "Dropped @5%", "score",
           help="share of edges removed least-important first with accuracy within 5%"),
    Column("drop_curve_area", "Drop-curve area", "score", markdown=False,
           help="area under accuracy vs share of edges dropped"),
    Column("explanations_per_s", "Expl./s", "rate",
           help="explanations per second on the named device"),
    Column("explain_seconds", "Explain s", "seconds", markdown=False),
    Column("fit_seconds", "Fit s", "seconds",
           help="training time of amortised explainers (fit), apart from explain"),
    Column("seconds", "Cell s", "seconds", markdown=False, help="wall time of the whole cell"),
    Column("model_acc_test", "Model acc (test)", "score"),
    Column("model_acc_ground_truth", "Model acc (GT inst.)", "score", markdown=False,
           help="accuracy on the test instances that have ground truth"),
    Column("robust_acc_test", "Robust acc (test)", "score",
           help="test accuracy under the attack the model was trained against"),
    Column("robust_acc_val", "Robust acc (val)", "score", markdown=False),
    Column("model_acc_val", "Model acc (val)", "score", markdown=False),
    Column("model_acc_train", "Model acc (train)", "score", markdown=False),
    Column("train_items_per_s", "Train items/s", "rate", markdown=False),
    Column("train_seconds", "Train s", "seconds", markdown=False),
    Column("n", "n", "int", help="explained instances per cell (min over seeds)"),
    Column("seeds", "Seeds", "int"),
    Column("device", "Device", "text", markdown=False),
    Column("note", "Note", "text", help="why a row is not ranked; bimodal seed values"),
)

#: The columns of a model card table.
CARD_COLUMNS: tuple[Column, ...] = (
    Column("model", "Model", "text"),
    Column("training", "Training", "text"),
    Column("seed", "Seed", "text"),
    Column("model_acc_train", "Train acc", "fraction"),
    Column("model_acc_val", "Val acc", "fraction"),
    Column("model_acc_test", "Test acc", "fraction"),
    Column("model_bal_acc_test", "Test bal. acc", "fraction"),
    Column("model_acc_ground_truth", "Acc on GT test inst.", "fraction"),
    Column("model_gt_instances", "GT test n", "int"),
    Column("model_floor", "Floor", "fraction"),
    Column("group_n", "Explained n", "int"),
    Column("explained_accuracy", "Acc on explained", "fraction"),
    Column("architecture", "Architecture", "text"),
    Column("training_config", "Training config", "text"),
)

#: The columns of the failed/skipped table.
PROBLEM_COLUMNS: tuple[Column, ...] = (
    Column("dataset", "Dataset", "text"),
    Column("model", "Model", "text"),
    Column("training", "Training", "text"),
    Column("explainer", "Explainer", "text"),
    Column("status", "Status", "text"),
    Column("seeds", "Seeds", "text"),
    Column("reason", "Reason", "text"),
)


@dataclass(frozen=True)
class Provenance:
    """Where the board's numbers come from (over the finished cells)."""

    suite_versions: tuple[str, ...] = ()
    git_commits: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()  # "torch 2.13.0", from the ``<package>_version`` columns
    dirty: bool = False  # some cell ran from a working tree with uncommitted changes
    run_ids: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)  # status -> number of cells
    submitted: int = 0  # finished submitted cells (their provenance is not the above)


@dataclass
class Leaderboard:
    """The aggregated board.

    Attributes:
        table: one row per (dataset, model, training, explainer): the ``KEY`` columns,
            ``dataset_family``, ``task``, ``explainer_source``, ``device`` (device
            names, comma-joined), ``n``, ``seeds``, ``below_floor`` (seeds whose
            model is below the accuracy floor), ``rank`` (float, NaN = unranked),
            ``rank_metric``, ``protocol``, ``section`` (ranked, unranked, below-floor),
            ``rank_text`` (the rank range), ``rank_low``/``rank_high`` (the rank metric's
            interval), ``lead``/``lead_low``/``lead_high`` (the paired difference from
            random), ``note``, and ``<score>_mean`` / ``<score>_std`` for every score.
            Sorted by dataset, model, training, rank.
        problems: failed and skipped cells (``PROBLEM_COLUMNS``), seeds grouped.
        scores: the aggregated score names, known ones first.
        rank_metric: dataset -> the score it is ranked by (absent: none available).
        provenance: versions, commits and devices of the finished cells.
        cards: the model cards, one row per (dataset, model, training, seed)
            (``CARD_COLUMNS``).
    """

    table: pd.DataFrame
    problems: pd.DataFrame
    scores: tuple[str, ...]
    rank_metric: dict[str, str]
    provenance: Provenance
    cards: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.table["dataset"].astype(str)))

    def section(self, dataset: str) -> pd.DataFrame:
        """The rows of one dataset, in rank order (ranked, unranked, then below the floor)."""
        return self.table[self.table["dataset"].astype(str) == dataset]

    def card(self, dataset: str) -> pd.DataFrame:
        """The model card rows of one dataset."""
        if self.cards.empty:
            return self.cards
        return self.cards[self.cards["dataset"].astype(str) == dataset]

    def columns(self, dataset: str, markdown: bool = False) -> list[Column]:
        """The columns shown for ``dataset``: scores without any value there are left out."""
        part = self.section(dataset)
        known = {c.key for c in DISPLAY_COLUMNS}
        extras = [Column(s, s, "score") for s in self.scores
                  if s not in known and not s.startswith(CURVE_PREFIX)]
        shown = []
        for col in (*DISPLAY_COLUMNS, *([] if markdown else extras)):
            if markdown and not col.markdown:
                continue
            if col.aggregated and not part[f"{col.key}_mean"].notna().any():
                continue
            shown.append(col)
        return shown


# ----------------------------------------------------------------------------- building


def build_leaderboard(frame: pd.DataFrame,
                      instances: Mapping[str, InstanceRecords] | None = None) -> Leaderboard:
    """Aggregate the cells frame of a results store into a ``Leaderboard`` (pure).

    ``instances`` (``ResultsStore.instance_records()``: cell key -> per-instance records)
    lets protocol-2 groups be ranked by ``suite.protocol.rank_group`` (rank ranges and
    intervals); groups scored under protocol 1 keep the first wave's rule (by the mean).

    Only ``status == "done"`` cells are scored; every other cell is listed in
    ``problems`` with its reason unless the same (dataset, model, training,
    explainer, seed) also finished. When one (dataset, model, training, explainer,
    seed) was run with several configurations, only the most recently finished
    cell counts. Score columns may be missing (treated as NaN).
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the cells frame lacks column(s) {', '.join(missing)}; expected the columns of "
            f"ResultsStore.cells_frame() (got {', '.join(map(str, frame.columns)) or 'none'})"
        )
    frame = frame.copy()
    for col in KEY:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), "-").astype(str)
    frame["status"] = frame["status"].astype(str)
    frame = latest_cells(frame)
    scores = _score_names(frame)
    numeric = {name: (pd.to_numeric(frame[name], errors="coerce") if name in frame
                      else pd.Series(np.nan, index=frame.index)) for name in scores}
    frame = pd.concat([frame.drop(columns=[n for n in scores if n in frame]),
                       pd.DataFrame(numeric, index=frame.index)], axis=1)
    done = _with_reference_correlation(frame[frame["status"] == DONE], instances or {})
    table = _aggregate(done, scores)
    rank_metric = _rank(table, done, instances or {})
    return Leaderboard(table=table, problems=_problems(frame), scores=scores,
                       rank_metric=rank_metric, provenance=_provenance(frame, done),
                       cards=model_cards(done))


def _with_reference_correlation(done: pd.DataFrame,
                                instances: Mapping[str, InstanceRecords]) -> pd.DataFrame:
    """``done`` with :data:`REFERENCE_CORR` per cell: the mean, over the instances it shares
    with the reference row (``explainer_source`` :data:`~suite.protocol.REFERENCE_SOURCE`)
    of the same dataset, model, training and seed, of the Spearman correlation of the two
    rows' edge scores on that instance; NaN where there is none."""
    if not instances or "explainer_source" not in done or "cell_key" not in done:
        return done
    values = pd.Series(np.nan, index=done.index, dtype=float)
    is_reference = done["explainer_source"].astype(str) == REFERENCE_SOURCE
    for _, cells in done.groupby([*KEY[:3], "seed"], sort=False):
        mine = is_reference[cells.index]
        for ref_key in cells.loc[mine, "cell_key"]:
            ref_records = instances.get(str(ref_key))
            if ref_records is None:
                continue
            for index, key in cells.loc[~mine, "cell_key"].items():
                records = instances.get(str(key))
                if records is not None:
                    values[index] = shared_instance_correlation(records, ref_records)
    return done.assign(**{REFERENCE_CORR: values})


def shared_instance_correlation(records: InstanceRecords, reference: InstanceRecords) -> float:
    """Mean per-instance Spearman correlation of ``records``' edge scores with
    ``reference``'s over the instances both explain with the same number of edges (their
    edges then correspond one to one); NaN when none is defined."""
    where = {int(i): b for b, i in enumerate(reference.instance_ids)}
    ours, theirs, ptr = [], [], [0]
    for b, instance in enumerate(records.instance_ids):
        r = where.get(int(instance))
        if r is None:
            continue
        mine = records.edge_scores[records.edge_ptr[b]:records.edge_ptr[b + 1]]
        other = reference.edge_scores[reference.edge_ptr[r]:reference.edge_ptr[r + 1]]
        if mine.size != other.size:
            continue
        ours.append(mine)
        theirs.append(other)
        ptr.append(ptr[-1] + mine.size)
    if not ours:
        return math.nan
    per_instance = segment_spearman(np.concatenate(ours), np.concatenate(theirs), np.array(ptr))
    return float(np.nanmean(per_instance)) if np.isfinite(per_instance).any() else math.nan


def _short(params: Any) -> str:
    if not isinstance(params, Mapping):
        return "-"
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items())) or "defaults"


def model_cards(done: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, model, training, seed) of the finished cells: the model's
    accuracies, floor, explained instances, architecture and training config, and the
    dataset's parameters (``dataset_params``, shown under the dataset's heading)."""
    keys = ["dataset", "model", "training", "seed"]
    columns = ["dataset", *[c.key for c in CARD_COLUMNS if c.key != "seed"], "seed",
               "dataset_params"]
    if done.empty or "config" not in done:
        return pd.DataFrame(columns=columns)
    rows = []
    for key, cells in done.groupby(keys, sort=True):
        first = cells.iloc[0]
        try:
            config = json.loads(first["config"])
        except (TypeError, ValueError):
            config = {}
        row = dict(zip(keys, key))
        for col in CARD_COLUMNS:
            if col.numeric and col.key in cells:
                row[col.key] = pd.to_numeric(cells[col.key], errors="coerce").max()
        row["seed"] = _seed_text(key[3])
        row["architecture"] = f"{first['model']}: {_short(config.get('model_hparams'))}"
        row["training_config"] = _short(config.get("training_config"))
        row["dataset_params"] = _short(config.get("dataset_params"))
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=columns)


def latest_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells a board counts: one per cell key (the last record) and, when one
    (dataset, model, training, explainer, seed) was run with several configurations
    (config hashes), only the most recently finished, so a board never averages two
    configurations under one name."""
    if "cell_key" in frame.columns:  # a cell recorded twice (rerun): the last record wins
        frame = frame.drop_duplicates("cell_key", keep="last")
    if "finished_at" in frame.columns:
        frame = frame.sort_values("finished_at", kind="stable", na_position="first")
    return frame.drop_duplicates([*KEY, "seed"], keep="last")


#: Columns of a cell that ``row_details`` reports with its config.
DETAIL_COLUMNS: tuple[str, ...] = ("cell_key", "seed", "run_id", "status", "suite_version",
                                   "git_commit", "git_dirty", "device", "device_name", "python",
                                   "finished_at", "origin", "plugin")


def row_details(frame: pd.DataFrame) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per board row (the ``KEY`` tuple): the configs and versions of the cells behind it.

    Value: ``{"cells": [{cell_key, seed, run_id, ..., "config": parsed JSON,
    "versions": {package: version}}, ...]}`` over the finished cells the board
    aggregates (:func:`latest_cells`), in seed order.
    """
    if frame.empty or not set(REQUIRED_COLUMNS) <= set(frame.columns):
        return {}
    frame = frame.copy()
    for col in KEY:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), "-").astype(str)
    done = latest_cells(frame)
    done = done[done["status"].astype(str) == DONE].sort_values("seed", kind="stable")
    versions = [c for c in done.columns if str(c).endswith("_version") and c != "suite_version"]
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for _, row in done.iterrows():
        cell: dict[str, Any] = {c: _plain(row[c]) for c in DETAIL_COLUMNS if c in row.index}
        try:
            cell["config"] = json.loads(row["config"]) if "config" in row.index else None
        except (TypeError, ValueError):
            cell["config"] = _plain(row.get("config"))
        cell["versions"] = {c[: -len("_version")]: _plain(row[c]) for c in versions
                            if _plain(row[c]) is not None}
        out.setdefault(tuple(str(row[k]) for k in KEY), {"cells": []})["cells"].append(cell)
    return out


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN and missing become None, numpy scalars Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    return value


def _score_names(frame: pd.DataFrame) -> tuple[str, ...]:
    extras = sorted(
        c for c in frame.columns
        if c not in META_COLUMNS and c not in SCORE_COLUMNS and not str(c).endswith("_version")
        and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    )
    return (*SCORE_COLUMNS, *extras)


def _aggregate(done: pd.DataFrame, scores: tuple[str, ...]) -> pd.DataFrame:
    meta = ["dataset_family", "task", "explainer_source", "device", "n", "seeds", "below_floor",
            "protocol", "section", "rank_text", "rank_low", "rank_high", "lead", "lead_low",
            "lead_high", "note"]
    stats = [f"{s}_{kind}" for s in scores for kind in ("mean", "std")]
    columns = [*KEY, *meta, "rank", "rank_metric", *stats]
    if done.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in KEY else float) for c in columns})
    grouped = done.groupby(list(KEY), sort=True)
    mean = grouped[list(scores)].mean().add_suffix("_mean")
    std = grouped[list(scores)].std(ddof=1).add_suffix("_std")
    parts = {
        "dataset_family": _first(grouped, done, "dataset_family"),
        "task": _first(grouped, done, "task"),
        "explainer_source": _first(grouped, done, "explainer_source"),
        "device": _joined(grouped, done, "device_name", fallback="device"),
        "n": grouped["n_instances"].min() if "n_instances" in done else grouped.size() * np.nan,
        "seeds": grouped["seed"].nunique(),
        "below_floor": (grouped["below_accuracy_floor"].agg(lambda s: int((pd.to_numeric(
            s, errors="coerce") > 0.5).sum())) if "below_accuracy_floor" in done
            else grouped.size() * 0),
        "protocol": (grouped["protocol_version"].agg(lambda s: int(pd.to_numeric(
            s, errors="coerce").fillna(1).min())) if "protocol_version" in done
            else grouped.size() * 0 + 1),
    }
    table = pd.concat([pd.DataFrame(parts), mean, std], axis=1).reset_index()
    table = table.assign(rank=np.nan, rank_metric=None, section="ranked", rank_text="-",
                         rank_low=np.nan, rank_high=np.nan, lead=np.nan, lead_low=np.nan,
                         lead_high=np.nan, note="")
    return table[columns].copy()


def _first(grouped: Any, done: pd.DataFrame, col: str) -> pd.Series:
    if col not in done:
        return grouped.size().map(lambda _: "-")
    return grouped[col].agg(lambda s: str(s.dropna().iloc[0]) if s.notna().any() else "-")


def _joined(grouped: Any, done: pd.DataFrame, col: str, fallback: str) -> pd.Series:
    use = col if col in done else fallback if fallback in done else None
    if use is None:
        return grouped.size().map(lambda _: "-")
    return grouped[use].agg(lambda s: ", ".join(sorted({str(v) for v in s.dropna()})) or "-")


#: Rank metrics of protocol-2 groups, in order of preference (per-instance decomposable).
PROTOCOL_RANK_METRICS: tuple[str, ...] = ("edge_auc", "deletion_area", "fid_plus_acc")

#: Sections of a dataset's table, in display order.
SECTIONS: tuple[str, ...] = ("ranked", "reference", "unranked", "below-floor")

#: The column of each cell's rank correlation with its group's faithful reference row.
REFERENCE_CORR = "reference_corr"


def _rank(table: pd.DataFrame, done: pd.DataFrame,
          instances: Mapping[str, InstanceRecords]) -> dict[str, str]:
    """Fill ``rank``/``rank_metric``/``section``/``rank_text``/interval columns in place
    and sort; returns dataset -> rank metric."""
    chosen: dict[str, str] = {}
    for dataset, part in table.groupby("dataset", sort=False):
        current = part["protocol"] >= PROTOCOL_VERSION
        metrics = PROTOCOL_RANK_METRICS if current.any() else RANK_METRICS
        for metric in metrics:
            if part[f"{metric}_mean"].notna().any():
                chosen[str(dataset)] = metric
                break
    for dataset, metric in chosen.items():
        table.loc[table["dataset"] == dataset, "rank_metric"] = metric
    for key, part in table.groupby(list(KEY[:3]), sort=False):
        metric = chosen.get(str(key[0]))
        if metric is None:
            table.loc[part.index, "section"] = "unranked"
            continue
        if (part["protocol"] >= PROTOCOL_VERSION).any():
            _rank_protocol_group(table, part, done, instances, key, metric)
        else:
            _rank_by_mean(table, part, metric)
    table["_order"] = table["section"].map({s: i for i, s in enumerate(SECTIONS)})
    table["_value"] = np.nan
    for dataset, metric in chosen.items():  # within a rank, the better estimate first
        rows = table["dataset"] == dataset
        sign = 1.0 if COLUMN_DIRECTIONS.get(metric, True) else -1.0
        table.loc[rows, "_value"] = -sign * table.loc[rows, f"{metric}_mean"]
    table.sort_values(["dataset", "model", "training", "_order", "rank", "_value", "explainer"],
                      na_position="last", inplace=True, kind="stable")
    table.drop(columns=["_order", "_value"], inplace=True)
    table.reset_index(drop=True, inplace=True)
    return chosen


def _rank_by_mean(table: pd.DataFrame, part: pd.DataFrame, metric: str) -> None:
    """Protocol 1: rank by the mean over seeds, ties sharing the better rank."""
    ranks = part[f"{metric}_mean"].rank(method="min", ascending=False, na_option="keep")
    table.loc[part.index, "rank"] = ranks
    table.loc[part.index, "rank_text"] = [format_number(r, "int") for r in ranks]
    table.loc[part.index, "section"] = ["ranked" if finite(r) else "unranked" for r in ranks]
    table.loc[part.index, "note"] = "protocol 1: ranked by the mean, no intervals"


def _configs(cells: pd.DataFrame) -> Iterator[dict]:
    """The parsed configs of ``cells`` (those that parse to a mapping)."""
    for text in cells.get("config", pd.Series(dtype=object)).dropna():
        try:
            config = json.loads(text)
        except (TypeError, ValueError):
            continue
        if isinstance(config, dict):
            yield config


def _floor_metric(cells: pd.DataFrame) -> str:
    """The floor's metric recorded in the cells' config (``FloorMetric``; accuracy when absent)."""
    for config in _configs(cells):
        return str(config.get("floor_metric") or FloorMetric.ACCURACY.value)
    return FloorMetric.ACCURACY.value


def _floor_reason(cells: pd.DataFrame) -> str:
    if "below_accuracy_floor" not in cells:
        return ""
    below = cells[pd.to_numeric(cells["below_accuracy_floor"], errors="coerce") > 0.5]
    if below.empty:
        return ""
    below = below.sort_values("seed", kind="stable")

    def per_seed(column: str) -> str:
        return " / ".join(format_number(v, "score") for v in below[column])

    seeds = ", ".join(_seed_text(s) for s in below["seed"])
    floor = below["model_floor"].iloc[0] if "model_floor" in below else math.nan
    text = f"model below its floor {format_number(floor, 'score')} on seed(s) {seeds}: "
    if _floor_metric(below) == FloorMetric.BALANCED.value and "model_bal_acc_test" in below:
        text += f"test balanced accuracy {per_seed('model_bal_acc_test')}"
        if "model_majority_test" in below and (below["model_bal_acc_test"] >= floor).any():
            text += (f", accuracy {per_seed('model_acc_test')} against the majority class "
                     f"{per_seed('model_majority_test')}")
        return text
    text += f"test accuracy {per_seed('model_acc_test') if 'model_acc_test' in below else ''}"
    if "model_acc_ground_truth" in below and below["model_acc_ground_truth"].notna().any():
        text += f", on ground-truth instances {per_seed('model_acc_ground_truth')}"
    return text


#: The row note of cells whose deletion/insertion curves scaled messages instead of
#: removing edges (metric option ``removal_semantics: scale``).
SCALED_NOTE = "deletion/insertion by message scaling (removal_semantics: scale), not removal"


def _scaled_removal(cells: pd.DataFrame) -> bool:
    """Whether any of ``cells`` scored its removal curves by message scaling."""
    return any((config.get("metric_options") or {}).get("removal_semantics") == "scale"
               for config in _configs(cells))


def _degenerate_reason(cells: pd.DataFrame) -> str:
    """Why an explainer's cells are degenerate, per seed (``suite.metrics.degenerate``)."""
    parts = []
    for _, cell in cells.sort_values("seed").iterrows():
        reason = row_reason(cell.to_dict())
        if reason:
            parts.append(f"seed {_seed_text(cell['seed'])}: {reason}")
    return "; ".join(parts)


def _rank_protocol_group(table: pd.DataFrame, part: pd.DataFrame, done: pd.DataFrame,
                         instances: Mapping[str, InstanceRecords], key: tuple[Any, ...],
                         metric: str) -> None:
    """Protocol 2: ``suite.protocol.rank_group`` over the group's explainers."""
    in_group = (done["dataset"] == key[0]) & (done["model"] == key[1]) & (done["training"] == key[2])
    cells = done[in_group]
    entries = []
    scaled: dict[str, bool] = {}
    for index, row in part.iterrows():
        mine = cells[cells["explainer"] == row["explainer"]]
        scaled[str(row["explainer"])] = _scaled_removal(mine)
        group_n = ({int(s): int(v) for s, v in zip(mine["seed"], mine["group_n"]) if finite(v)}
                   if "group_n" in mine else {})
        entries.append(GroupEntry(
            name=str(row["explainer"]), protocol=int(row["protocol"]),
            below_floor=_floor_reason(mine), degenerate=_degenerate_reason(mine),
            reference=str(row["explainer_source"]) == REFERENCE_SOURCE,
            records={int(s): instances.get(str(k)) for s, k in zip(mine["seed"], mine["cell_key"])}
            if "cell_key" in mine else {},
            group_n=group_n))
    higher = COLUMN_DIRECTIONS.get(metric, True)
    standings = rank_group(entries, metric, higher)
    for index, row in part.iterrows():
        standing = standings[str(row["explainer"])]
        notes = [standing.reason] if standing.reason else []
        if standing.bimodal and standing.seed_values:
            notes.append("bimodal over seeds: " + " / ".join(
                format_number(v, "score") for _, v in sorted(standing.seed_values.items())))
        if scaled[str(row["explainer"])]:
            notes.append(SCALED_NOTE)
        table.loc[index, "section"] = standing.section
        table.loc[index, "note"] = "; ".join(notes)
        table.loc[index, "rank_low"] = standing.interval.low
        table.loc[index, "rank_high"] = standing.interval.high
        table.loc[index, ["lead", "lead_low", "lead_high"]] = (
            standing.lead.estimate, standing.lead.low, standing.lead.high)
        if standing.rank is not None:
            table.loc[index, "rank"] = float(standing.rank.best)
            table.loc[index, "rank_text"] = standing.rank.text()


def _problems(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c.key for c in PROBLEM_COLUMNS]
    seed_key = [*KEY, "seed"]
    finished = set(map(tuple, frame.loc[frame["status"] == DONE, seed_key].astype(str).values))
    bad = frame[frame["status"] != DONE]
    keep = [tuple(r) not in finished for r in bad[seed_key].astype(str).values]
    bad = bad[keep]
    if bad.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    errors = bad["error"] if "error" in bad else pd.Series(None, index=bad.index)
    bad = bad.assign(reason=[_reason(e) for e in errors])
    rows = []
    for key, part in bad.groupby([*KEY, "status", "reason"], sort=True):
        seeds = sorted({_seed_text(s) for s in part["seed"]}, key=_natural)
        rows.append({**dict(zip([*KEY, "status", "reason"], key)), "seeds": ", ".join(seeds)})
    return _explainers_joined(pd.DataFrame(rows, columns=columns), frame["explainer"].nunique())


def _explainers_joined(problems: pd.DataFrame, explainers: int) -> pd.DataFrame:
    """One row per (dataset, model, training, status, reason, seeds), its explainers joined
    ("all N explainers" when every explainer of the store is there): a model skipped on a
    dataset is one row, not one per explainer."""
    if problems.empty:
        return problems
    rest = [c for c in problems.columns if c != "explainer"]
    rows = []
    for key, part in problems.groupby(rest, sort=False):
        names = sorted(part["explainer"], key=_natural)
        every = explainers > 1 and len(names) == explainers
        shown = f"all {explainers} explainers" if every else ", ".join(names)
        rows.append({**dict(zip(rest, key)), "explainer": shown})
    return pd.DataFrame(rows, columns=problems.columns)


def _reason(error: Any) -> str:
    if error is None or (isinstance(error, float) and math.isnan(error)):
        return "(no reason recorded)"
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return "(no reason recorded)"
    text = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return text if len(text) <= 300 else text[:297] + "..."


def _seed_text(seed: Any) -> str:
    if finite(seed) and float(seed) == int(float(seed)):
        return str(int(float(seed)))
    return "-" if seed is None or (isinstance(seed, float) and math.isnan(seed)) else str(seed)


def _natural(text: str) -> tuple[int, Any]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _provenance(frame: pd.DataFrame, done: pd.DataFrame) -> Provenance:
    """Over the store's own cells: a submission's versions, commit and device are its own
    claims and are not mixed into the board's provenance (its rows are counted apart)."""
    submitted = int((done["explainer_source"].astype(str) == EXTERNAL_SOURCE).sum()) \
        if "explainer_source" in done else 0
    if submitted:
        frame = frame[frame["explainer_source"].astype(str) != EXTERNAL_SOURCE]
        done = done[done["explainer_source"].astype(str) != EXTERNAL_SOURCE]

    def unique(col: str, rows: pd.DataFrame = done) -> tuple[str, ...]:
        if col not in rows:
            return ()
        return tuple(sorted({str(v) for v in rows[col].dropna() if str(v)}))

    if "device" in done and "device_name" in done:
        devices = tuple(sorted({f"{d} ({n})" if str(n) not in ("", str(d)) else str(d)
                                for d, n in zip(done["device"].fillna("-"),
                                                done["device_name"].fillna(""))}))
    else:
        devices = unique("device_name") or unique("device")
    packages = tuple(f"{col[: -len('_version')]} {', '.join(unique(col))}"
                     for col in sorted(done.columns, key=lambda c: str(c)[: -len("_version")])
                     if str(col).endswith("_version") and col != "suite_version" and unique(col))
    dirty = "git_dirty" in done and bool(done["git_dirty"].map(_truthy).any())
    counts = {str(k): int(v) for k, v in frame["status"].value_counts().sort_index().items()}
    return Provenance(suite_versions=unique("suite_version"), git_commits=unique("git_commit"),
                      devices=devices, packages=packages, dirty=dirty,
                      run_ids=unique("run_id", frame), counts=counts, submitted=submitted)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return finite(value) and bool(float(value))
