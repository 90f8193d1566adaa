"""``suite report adversarial``: does adversarial training change post-hoc explanations?

The study of issue 4 (Loveland et al., ICML 2021 XAI workshop, arXiv 2106.13427, claim
that adversarially trained GNNs get explanations that better reflect what the model
learned; their recipe and metric formula were not available, see REFERENCES.md).
It runs the ``adversarial`` matrix preset (synthetic ground-truth datasets x GCN, GIN x
{standard, adv-features, adv-structure} x explainers x 5 seeds) into a results store
under the output directory (a rerun resumes: finished cells are kept), then compares
every adversarial mode with standard training:

- **Paired, seed-matched differences** ``adv - standard`` of edge AUC, representation
  fidelity, unfaithfulness and fidelity+ (accuracy form) for each (dataset, model,
  explainer): seed ``s`` of the adversarial mode is paired with seed ``s`` of standard
  training (same dataset draw, same explained instances, same model initialisation);
  mean difference with a two-sided 95% confidence interval from the t distribution
  with ``n - 1`` degrees of freedom over the ``n`` paired seeds (:func:`paired_difference`).
  A difference "exceeds seed noise" when its CI excludes 0. With 2 seeds the interval is
  very wide (t = 12.71).
- **Robustness, measured**: clean test accuracy and test accuracy under each adversarial
  mode's attack for *every* trained model, standard ones included (the cached models
  are loaded and attacked with the same attack config and seed as in training:
  :func:`measure_robustness`), with the same paired differences.
- Optionally, an **epsilon sweep** of ``adv-features``: the matrix format has one entry per
  training-mode name (no aliases such as ``adv-features@0.05``), so the sweep runs one
  derived matrix per epsilon into the same store and tells the models apart by their
  recorded training config (:func:`sweep_matrices`).

Writes ``adversarial.md`` (tables and generated findings) and PNG plots into the output
directory. ``--quick``: a small derived matrix (BA-Shapes, GCN, 2 seeds, 3 explainers,
fewer epochs and attack steps) for a first look and the tests.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from suite.board.plots import _colours, _empty, _figure, _save
from suite.core.paths import Paths
from suite.core.stats import (
    CONFIDENCE,
    is_flat,
    paired_difference,
    paired_t_pvalue,
    seed_interval,
    t_critical,
)
from suite.datasets import load_dataset
from suite.execution.runner import run_matrix
from suite.matrix import (
    BY_DATASET_KEY,
    ONLY_DATASETS_KEY,
    expand,
    parse_matrix,
    plugins,
    preset_document,
    resolved_parameters,
)
from suite.metrics import COLUMNS
from suite.reports import REPORTS, ReportRequest
from suite.store.database import ResultsStore
from suite.training import ModelCache, build_training, train_or_load
from suite.training.attacks import robust_accuracy
from suite_studies.adversarial.design import (
    BASELINE,
    StudyDesign,
    claims,
    difference_bounds,
    family_tests,
    matched,
    seed_differences,
    usable,
    usable_models,
)
from suite_studies.claims import Claim, claims_markdown
from suite_studies.versioning import StudyVersion, record_configuration

#: The study's name in its version record.
STUDY = "adversarial"
#: Version 2: ten seeds (five find effects, five confirm them), multiplicity control,
#: default floors, every ground-truth instance a candidate, claims (README: what changed).
STUDY_VERSION = 2

#: Explanation scores compared (store columns; direction from ``suite.metrics.COLUMNS``).
COMPARED: tuple[str, ...] = ("edge_auc", "repr_fidelity", "unfaithfulness", "fid_plus_acc")

#: Confidence level of every interval.
LEVEL = CONFIDENCE

REPORT_FILE = "adversarial.md"
DIFF_PLOT = "adversarial_differences.png"
ACC_PLOT = "adversarial_accuracy.png"
SWEEP_PLOT = "adversarial_epsilon_sweep.png"
CSV_FILE = "adversarial_cells.csv"

#: ``adv-features`` epsilons of the sweep (per task level; the study's own value is added).
SWEEP_EPSILONS: dict[str, tuple[float, ...]] = {"node": (0.03, 0.3), "graph": (0.02, 0.15)}

#: What the full study's sweep covers: a subset, for time (one seed: on 2 shared cores at
#: load 11-19 seed 1 of the main matrix took 26 min with 2 Ray workers; see the preset).
SWEEP_DATASETS: tuple[str, ...] = ("ba-shapes", "ba-2motifs")
SWEEP_EXPLAINERS: tuple[str, ...] = ("saliency", "gnnexplainer", "random")
SWEEP_SEEDS = 1
SWEEP_MODE = "adv-features"


# ------------------------------------------------------------------------------ statistics


def _higher_is_better(metric: str) -> bool:
    info = COLUMNS.get(metric)
    return True if info is None else info.higher_is_better


def paired_table(frame: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str],
                 baseline: str = BASELINE, accuracy: str | None = None,
                 seeds: Sequence[int] | None = None, band: float | None = None) -> pd.DataFrame:
    """Seed-matched ``mode - baseline`` differences of ``metrics`` within each ``keys`` group.

    ``frame`` has one row per (``keys``, ``training``, ``seed``) (done cells); every
    training other than ``baseline`` is compared with it, over ``seeds`` (default: all) and,
    with ``band``, only the pairs whose ``accuracy`` columns differ by at most ``band``.
    Columns: ``*keys``, ``training``, ``metric``, ``n``, ``baseline_mean``, ``mode_mean``,
    ``diff``, ``sd``, ``lo``, ``hi`` (95% interval of :func:`suite.core.stats.seed_interval`
    within the difference's range), ``method`` (t or bootstrap), ``p`` (two-sided paired t,
    unadjusted), ``excludes_zero``, ``acc_diff`` (mean ``accuracy`` difference of the same
    pairs), ``higher_is_better``.
    """
    columns = [*keys, "training", "metric", "n", "baseline_mean", "mode_mean", "diff", "sd",
               "lo", "hi", "method", "p", "excludes_zero", "acc_diff", "higher_is_better"]
    diffs = seed_differences(frame, keys, metrics, accuracy, baseline)
    if seeds is not None:
        diffs = diffs[diffs["seed"].isin(list(seeds))]
    if band is not None:
        diffs = matched(diffs, band)
    rows = []
    for group, part in diffs.groupby([*keys, "training", "metric"], sort=False):
        metric = group[-1]
        paired = paired_difference(part["mode"].tolist(), part["baseline"].tolist())
        interval = seed_interval(part["diff"].tolist(), difference_bounds(metric))
        rows.append({
            **dict(zip([*keys, "training", "metric"], group)), "n": paired.n,
            "baseline_mean": float(part["baseline"].mean()),
            "mode_mean": float(part["mode"].mean()), "diff": interval.estimate,
            "sd": paired.sd, "lo": interval.low, "hi": interval.high,
            "method": interval.method, "p": paired_t_pvalue(paired),
            "excludes_zero": bool(interval.low > 0 or interval.high < 0),
            "acc_diff": float(part["acc_diff"].mean()),
            "higher_is_better": _higher_is_better(metric)})
    return pd.DataFrame(rows, columns=columns)


def _nanmean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


# ------------------------------------------------------------------------------ findings


def _where(row: Mapping[str, Any]) -> str:
    return f"{row['dataset']}/{row['model']}"


def _direction(diff: float, higher_is_better: bool) -> str:
    word = "higher" if diff > 0 else "lower"
    better = (diff > 0) == higher_is_better
    return f"{word} ({'better' if better else 'worse'})"


def family_findings(family: pd.DataFrame, design: StudyDesign) -> list[str]:
    """Plain sentences: per adversarial mode and metric, how many comparisons were tested,
    which effects the discovery seeds found (Benjamini-Hochberg) and which the fresh seeds
    confirmed (Holm), with their direction."""
    if family.empty:
        return ["No comparison had two usable pairs on the discovery seeds (models below "
                "their floors or degenerate explanations): nothing was tested."]
    out = []
    seeds = (f"seeds {_seed_range(design.discovery)}", f"seeds {_seed_range(design.confirmation)}")
    for mode in dict.fromkeys(family["training"]):
        for metric in dict.fromkeys(family["metric"]):
            part = family[(family["training"] == mode) & (family["metric"] == metric)]
            if part.empty:
                continue
            hib = _higher_is_better(metric)
            goal = "higher is better" if hib else "lower is better"
            found = part[part["found"]]
            head = (f"{metric} ({goal}), {mode} vs {BASELINE}: {len(part)} comparisons tested "
                    f"on {seeds[0]}")
            if found.empty:
                out.append(f"{head}; no effect found at false discovery rate {design.fdr:.2f}.")
                continue
            items = []
            for _, r in found.sort_values("diff").iterrows():
                verdict = ("confirmed" if r["confirmed"] else "not confirmed")
                again = ("no usable pair" if not r["n_confirm"] else
                         f"{r['diff_confirm']:+.3f}, n={int(r['n_confirm'])}")
                items.append(f"{r['explainer']} on {_where(r)} {_direction(r['diff'], hib)} "
                             f"({r['diff']:+.3f}, n={int(r['n'])}; on {seeds[1]}: {again}, "
                             f"{verdict})")
            confirmed = int(found["confirmed"].sum())
            out.append(f"{head}; {len(found)} found, {confirmed} confirmed: "
                       + "; ".join(items) + ".")
    return out


def _seed_range(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def model_findings(acc_diffs: pd.DataFrame) -> list[str]:
    """Sentences on robustness (accuracy under the mode's own attack) and the clean cost."""
    out: list[str] = []
    if acc_diffs.empty:
        return out
    for (dataset, model, mode), part in acc_diffs.groupby(["dataset", "model", "training"],
                                                          sort=False):
        by_metric = {r["metric"]: r for _, r in part.iterrows()}
        own = by_metric.get(f"robust@{mode}")
        clean = by_metric.get("clean")
        if own is None or clean is None or own["n"] == 0:
            continue
        verdict = ("beyond seed noise" if own["excludes_zero"] else
                   "within seed noise" if own["n"] >= 2 else "a single seed, no interval")
        cost = ("beyond seed noise" if clean["excludes_zero"] else
                "within seed noise" if clean["n"] >= 2 else "a single seed")
        text = (f"{dataset}/{model}: {mode} changed test accuracy under its own attack from "
                f"{own['baseline_mean']:.3f} ({BASELINE}) to {own['mode_mean']:.3f} "
                f"({_fmt_diff(own)}, {verdict}); clean test accuracy "
                f"{clean['baseline_mean']:.3f} -> {clean['mode_mean']:.3f} "
                f"({_fmt_diff(clean)}, {cost})")
        out.append(text + ".")
    return out


def _fmt_diff(row: Mapping[str, Any]) -> str:
    if math.isnan(row["lo"]):
        return f"{row['diff']:+.3f}, n={int(row['n'])}"
    flat = ", identical in every seed" if is_flat(row["sd"]) else ""
    return f"{row['diff']:+.3f} [{row['lo']:+.3f}, {row['hi']:+.3f}], n={int(row['n'])}{flat}"


# ------------------------------------------------------------------------------ matrices


def adversarial_document(seed: int = 0) -> dict[str, Any]:
    """The ``adversarial`` preset as plain data, seeds shifted by ``seed``."""

    _, raw = preset_document("adversarial")
    raw = copy.deepcopy(raw)
    raw["seeds"] = [seed + s for s in raw["seeds"]]
    return raw


def quick_document(seed: int = 0) -> dict[str, Any]:
    """A small derived matrix (one to two minutes on 2 CPU cores): BA-Shapes, GCN, 2 seeds,
    saliency / gnnexplainer (50 epochs) / random on 20 instances, 150 training epochs for
    every mode, cheaper attacks (adv-features: 5 PGD steps; adv-structure: 3 steps, 3
    samples), no epsilon sweep. Far too small for conclusions: a first look."""
    raw = adversarial_document(seed)
    raw["name"] = "adversarial-quick"
    raw["seeds"] = raw["seeds"][:2]
    raw["max_instances"] = 20
    raw["datasets"] = {"ba-shapes": raw["datasets"]["ba-shapes"]}
    raw["models"] = {"gcn": _restricted(raw["models"]["gcn"], ["ba-shapes"])}
    raw["trainings"] = {name: _restricted(entry, ["ba-shapes"])
                        for name, entry in raw["trainings"].items()}
    raw["explainers"] = {name: raw["explainers"][name]
                         for name in ("saliency", "gnnexplainer", "random")}
    raw["explainers"]["gnnexplainer"] = {**raw["explainers"]["gnnexplainer"], "epochs": 50}
    for params in raw["trainings"].values():
        params["by_task"]["node"] = {**params["by_task"]["node"], "epochs": 150}
    raw["trainings"]["adv-features"]["steps"] = 5
    raw["trainings"]["adv-structure"].update({"steps": 3, "samples": 3})
    return raw


def _restricted(entry: Mapping[str, Any], datasets: Sequence[str]) -> dict[str, Any] | None:
    """A model or training entry with its ``only_datasets`` / ``by_dataset`` cut to
    ``datasets`` (a derived matrix must not name datasets it lacks); None when its
    ``only_datasets`` keeps none of them."""

    out = copy.deepcopy(dict(entry))
    if ONLY_DATASETS_KEY in out:
        kept = [d for d in out[ONLY_DATASETS_KEY] if d in datasets]
        if not kept:
            return None
        out[ONLY_DATASETS_KEY] = kept
    if BY_DATASET_KEY in out:
        kept_params = {d: v for d, v in out[BY_DATASET_KEY].items() if d in datasets}
        if kept_params:
            out[BY_DATASET_KEY] = kept_params
        else:
            del out[BY_DATASET_KEY]
    return out


def sweep_documents(raw: Mapping[str, Any], epsilons: Mapping[str, Sequence[float]] | None = None,
                    datasets: Sequence[str] | None = None,
                    explainers: Sequence[str] | None = None,
                    seeds: int | None = None) -> list[dict[str, Any]]:
    """One matrix per extra ``adv-features`` epsilon (the format allows one entry per mode
    name): ``raw`` restricted to ``datasets``, ``explainers`` and its first ``seeds`` seeds
    (None: all) with only the ``adv-features`` training, its epsilon set per task level from
    ``epsilons``; ``only_datasets`` / ``by_dataset`` entries are cut to the kept datasets.
    Cells of the study's own epsilon and of standard training come from the main matrix."""
    epsilons = dict(epsilons or SWEEP_EPSILONS)
    rounds = max(len(v) for v in epsilons.values()) if epsilons else 0
    docs = []
    for i in range(rounds):
        doc = copy.deepcopy(dict(raw))
        doc["name"] = f"{raw.get('name', 'adversarial')}-sweep{i}"
        if datasets is not None:
            doc["datasets"] = {d: doc["datasets"][d] for d in datasets if d in doc["datasets"]}
        if explainers is not None:
            doc["explainers"] = {e: doc["explainers"][e] for e in explainers
                                 if e in doc["explainers"]}
        if seeds is not None:
            doc["seeds"] = list(doc["seeds"])[:seeds]
        kept = list(doc["datasets"])
        doc["models"] = {name: entry for name, entry in
                         ((n, _restricted(e or {}, kept)) for n, e in doc["models"].items())
                         if entry is not None}
        mode = _restricted(doc["trainings"][SWEEP_MODE], kept) or {}
        by_task = mode.setdefault("by_task", {})
        for level, values in epsilons.items():
            if i < len(values):
                by_task[level] = {**by_task.get(level, {}), "epsilon": values[i]}
        doc["trainings"] = {SWEEP_MODE: mode}
        docs.append(doc)
    return docs


# ------------------------------------------------------------------------------ robustness


def attack_specs(config: Any) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """dataset -> {adversarial training name: (attack name, attack config)} of ``config``.

    Per dataset, not per task level: a training mode's ``by_dataset`` overrides (e.g. an
    epsilon for one dataset) reach its attack, exactly as they reach its training
    (``ResolvedParameters.training``).
    """

    resolved = resolved_parameters(config)
    reg = plugins()
    out: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for dataset in resolved.datasets:
        level = reg.datasets.entry(dataset).metadata["info"].task.value
        out[dataset] = {}
        for name in resolved.trainings:
            if resolved.excluded("trainings", name, dataset):
                continue
            mode = build_training(name, **resolved.training(name, dataset, level))
            spec = getattr(mode, "attack_spec", None)
            if spec is not None:
                out[dataset][name] = spec()
    return out


def measure_robustness(cells: Sequence[Any], specs: Mapping[str, Mapping[str, tuple[str, dict]]],
                       paths: Paths, device: str = "cpu",
                       progress: Callable[[str], None] = lambda _line: None) -> pd.DataFrame:
    """Test accuracy of every trained model of ``cells`` under every attack of ``specs``
    (dataset -> {mode: (attack, config)}, :func:`attack_specs`).

    Each distinct model (``Cell.model_key``) is loaded from the model cache with the
    arguments the runner uses (``train_or_load``; trained now if missing) and attacked
    with :func:`~suite.training.attacks.robust_accuracy` on the test split, seed = the
    cell's seed (so an adversarial model under its own attack reproduces its recorded
    ``robust_acc_test`` on CPU, and every model of a seed sees the same random draws).

    Returns one row per (model, attack): ``model_key``, ``dataset``, ``model``,
    ``training``, ``seed``, ``epsilon`` (the training's, NaN if none), ``attack`` (the
    adversarial training whose attack was used), ``robust_acc_test``.
    """

    rows, datasets, seen = [], {}, set()
    cache = ModelCache(paths.model_cache)
    for cell in cells:
        if cell.model_key in seen:
            continue
        seen.add(cell.model_key)
        if cell.dataset_key not in datasets:
            datasets[cell.dataset_key] = load_dataset(cell.dataset, seed=cell.seed,
                                                      cache_dir=paths.dataset_cache,
                                                      **cell.dataset_params)
        dataset = datasets[cell.dataset_key]
        model, _result, _cached = train_or_load(
            cell.model, cell.model_hparams, cell.training, cell.training_config, dataset,
            dataset_params=dataset.params or {"seed": cell.seed, **cell.dataset_params},
            seed=cell.seed, device=device, cache=cache)
        for attack_mode, (attack, attack_config) in specs.get(cell.dataset, {}).items():
            acc = robust_accuracy(model, dataset, "test", attack, attack_config, cell.seed, device)
            rows.append({"model_key": cell.model_key, "dataset": cell.dataset,
                         "model": cell.model, "training": cell.training, "seed": cell.seed,
                         "epsilon": float(cell.training_config.get("epsilon", math.nan)),
                         "attack": attack_mode, "robust_acc_test": acc})
        progress(f"robustness {cell.dataset}/{cell.model}/{cell.training}/seed{cell.seed}: "
                 + ", ".join(f"{r['attack']} {r['robust_acc_test']:.3f}"
                             for r in rows if r["model_key"] == cell.model_key))
    return pd.DataFrame(rows, columns=["model_key", "dataset", "model", "training", "seed",
                                       "epsilon", "attack", "robust_acc_test"])


def model_frame(frame: pd.DataFrame, robustness: pd.DataFrame,
                cells_by_key: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trained model: dataset, model, training, seed, model_key, ``clean``
    (test accuracy), ``below_floor`` (below its dataset's floor) and ``robust@<mode>`` per
    attack."""
    done = frame[frame["status"] == "done"].copy()
    if done.empty:
        return pd.DataFrame(columns=["dataset", "model", "training", "seed", "model_key",
                                     "clean", "below_floor"])
    done["model_key"] = [cells_by_key[k].model_key for k in done["cell_key"]]
    below = pd.to_numeric(done.get("below_accuracy_floor", pd.Series(0.0, index=done.index)),
                          errors="coerce").fillna(0.0)
    done["below_floor"] = below > 0
    models = (done.groupby("model_key", sort=False)
              .agg(dataset=("dataset", "first"), model=("model", "first"),
                   training=("training", "first"), seed=("seed", "first"),
                   clean=("model_acc_test", "first"), below_floor=("below_floor", "first"))
              .reset_index())
    if not robustness.empty:
        wide = robustness.pivot_table(index="model_key", columns="attack",
                                      values="robust_acc_test", aggfunc="first")
        wide.columns = [f"robust@{c}" for c in wide.columns]
        models = models.merge(wide, how="left", left_on="model_key", right_index=True)
    return models


# ------------------------------------------------------------------------------ the study


@dataclass
class AdversarialStudy:
    """The study's numbers (rendered by :meth:`markdown` and the plot functions).

    Attributes:
        config: the matrix that was run (a ``MatrixConfig``).
        frame: its cells (``ResultsStore.cells_frame`` rows of this matrix only).
        models: :func:`model_frame` of its models.
        differences: :func:`paired_table` of the explanation scores (every done pair).
        accuracy_differences: :func:`paired_table` of clean and robust accuracies.
        matched_differences: :func:`paired_table` of the explanation scores over the pairs
            whose clean accuracies differ by at most ``design.accuracy_band``.
        design: the seeds that find and confirm, the error rates.
        family: :func:`~suite_studies.adversarial.design.family_tests` of the usable pairs.
        claims: the seed paper's claims, tested on the usable pairs.
        version: the study version and configuration hash recorded with the results.
        sweep: per sweep model and explainer: epsilon, clean, robust@<mode>, scores
            (None when no sweep ran).
        run_text: the runner's summary line(s).
        quick: whether this is the quick configuration.
        seconds: wall time.
        notes: extra lines for the Markdown's notes.
        planned: the matrix's runnable cells (0: unknown; then the frame's count is used).
    """

    config: Any
    frame: pd.DataFrame
    models: pd.DataFrame
    differences: pd.DataFrame
    accuracy_differences: pd.DataFrame
    matched_differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    design: StudyDesign = field(default_factory=StudyDesign)
    family: pd.DataFrame = field(default_factory=pd.DataFrame)
    claims: list[Claim] = field(default_factory=list)
    version: StudyVersion | None = None
    sweep: pd.DataFrame | None = None
    run_text: str = ""
    quick: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    planned: int = 0

    def findings(self) -> list[str]:
        return (model_findings(self.accuracy_differences)
                + family_findings(self.family, self.design))

    def markdown(self) -> str:
        cfg = self.config
        seeds = list(cfg.seeds)
        done = int((self.frame["status"] == "done").sum()) if not self.frame.empty else 0
        modes = [m for m in cfg.trainings if m != BASELINE]
        n_cmp = int((self.differences["n"] >= 2).sum()) if not self.differences.empty else 0
        lines = [
            "# Adversarial training and explanations (`suite report adversarial"
            f"{' --quick' if self.quick else ''}`)",
            "",
            "Question (issue 4; Loveland et al., ICML 2021 XAI workshop, arXiv 2106.13427): do "
            "explanations of adversarially trained GNNs reflect the model and the ground truth "
            "better than those of standardly trained ones? The paper's recipe and metric "
            "formula were not available: every setting below is ours, none is the paper's.",
            "",
            f"Matrix `{cfg.name}`: datasets {', '.join(cfg.datasets)}; models "
            f"{', '.join(cfg.models)}; trainings {', '.join(cfg.trainings)}; explainers "
            f"{', '.join(cfg.explainers)}; seeds {seeds}; at most {cfg.max_instances} explained "
            f"test instances per cell. {done} of {self.planned or len(self.frame)} cells done"
            + (" (the others were not run: see Notes)." if self.planned and done < self.planned
               else "."),
            "",
            "How to read: every difference is adversarial minus standard, paired by seed (same "
            "dataset draw, explained instances and initialisation), mean over the paired seeds "
            f"with a {LEVEL:.0%} interval: Student's t over seeds, or the percentile bootstrap "
            "(marked `boot.`) where the t interval leaves the difference's range or the seeds "
            "disagree by more than 0.3; `*` = that interval excludes 0, unadjusted for the "
            f"{n_cmp} comparisons of these tables (about {(1 - LEVEL) * n_cmp:.1f} would exclude "
            "0 by chance alone); `(sd 0)` = every seed changed by the same amount."
            + (f" With {len(seeds)} seeds t = {t_critical(len(seeds) - 1):.2f}: the intervals "
               "are wide." if 2 <= len(seeds) <= 3 else "")
            + " Which effects hold up under multiplicity control and on fresh seeds, and the "
            "seed paper's claims, are in the last two sections" + self._version_text() + ".",
            "",
            "Metrics: edge AUC vs ground truth; repr_fidelity = the suite's own representation "
            "fidelity, 1 - d(z, z_E) / mean_j d(z, z_R^j) with cosine distance of the "
            "classifier's input embedding (explanation's top-k edges vs k random edges; 1 = "
            "reproduces it, 0 = no better than random; in the spirit of the paper, whose "
            "formula was not available); unfaithfulness = GraphXAI's GEF 1 - exp(-KL(p_full || "
            "p_expl)) with the top-k edges kept (lower is better); fid_plus_acc = share of "
            "predictions that change when the top-k edges are removed. k = the instance's "
            "ground-truth edge count.",
            "",
            "## Models: clean and robust test accuracy",
            "",
            "Mean +- std over seeds. Robust accuracy = test accuracy under the attack each "
            "adversarial mode trains against (same config and seed), measured for every model, "
            "standard ones included.",
            "",
        ]
        lines += self._model_table()
        lines += ["", "Paired differences (mode - standard):", ""]
        lines += self._accuracy_diff_table()
        for metric in COMPARED:
            table = self._diff_table(metric, modes)
            if table:
                lines += ["", f"## {metric} ({'higher' if _higher_is_better(metric) else 'lower'} "
                          "is better)", ""] + table
        lines += ["", "## Findings (generated from the numbers above)", ""]
        lines += [f"- {line}" for line in self.findings()]
        lines += ["", "## Effects found and confirmed", ""] + self._family_section()
        lines += ["", "## Claims", ""] + self._claims_section()
        if self.sweep is not None and not self.sweep.empty:
            lines += ["", "## Epsilon sweep (adv-features)", ""] + self._sweep_table()
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        problems = self.frame[self.frame["status"] != "done"] if not self.frame.empty else None
        if problems is not None and not problems.empty:
            lines += ["", "Cells not done (grouped by status and reason):", ""]
            reasons = problems.assign(reason=problems["error"].map(_first_line))
            for (status, reason), part in reasons.groupby(["status", "reason"], sort=False):
                where = ", ".join(dict.fromkeys(f"{d}/{m}" for d, m in
                                                zip(part["dataset"], part["model"])))
                lines.append(f"- {len(part)} {status}: {reason or '-'} ({where})")
        sweep_plot = f", `{SWEEP_PLOT}`" if self.sweep is not None and not self.sweep.empty else ""
        lines += ["", f"Plots: `{DIFF_PLOT}`, `{ACC_PLOT}`{sweep_plot}. Cells: `{CSV_FILE}`. "
                  f"Run: {_first_line(self.run_text) or '-'}. Generated in {self.seconds:.0f} s.",
                  ""]
        return "\n".join(lines)

    def _version_text(self) -> str:
        if self.version is None:
            return ""
        return (f" (study version {self.version.version}, configuration "
                f"{self.version.config_hash})")

    def _usable_text(self) -> str:
        return (f"Usable pairs: both models at or above their dataset's floor "
                f"(`suite.protocol.floor_for`) and both explanations non-degenerate "
                f"(`suite.metrics.degenerate`); of {len(self.frame[self.frame['status'] == 'done'])}"
                f" done cells, {len(usable(self.frame))} are usable.")

    def _family_section(self) -> list[str]:
        design, family = self.design, self.family
        lines = [
            f"{self._usable_text()} Every (dataset, model, explainer, mode, metric) comparison "
            f"with at least two usable pairs on seeds {_seed_range(design.discovery)} is one "
            f"test (two-sided paired t); Benjamini-Hochberg keeps the false discovery rate at "
            f"{design.fdr:.2f} over the {len(family)} tests. Each effect found is retested on "
            f"seeds {_seed_range(design.confirmation)}, one-sided in the direction found, with "
            f"Holm's correction at {design.fwer:.2f} over the effects found.", ""]
        found = family[family["found"]] if not family.empty else family
        if found.empty:
            return lines + ["No effect found."]
        lines += ["| dataset | model | explainer | mode | metric | found on seeds "
                  f"{_seed_range(design.discovery)} (p) | on seeds "
                  f"{_seed_range(design.confirmation)} (one-sided p) | confirmed |",
                  "|---|---|---|---|---|---|---|---|"]
        found = in_matrix_order(found, self.config)
        for _, r in found.iterrows():
            first = (f"{r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}], n={int(r['n'])} "
                     f"({r['p']:.2g})")
            again = ("no usable pair" if not r["n_confirm"] else
                     f"{r['diff_confirm']:+.3f}, n={int(r['n_confirm'])} ({r['p_confirm']:.2g})")
            lines.append(f"| {r['dataset']} | {r['model']} | {r['explainer']} | {r['training']}"
                         f" | {r['metric']} | {first} | {again} | "
                         f"{'yes' if r['confirmed'] else 'no'} |")
        return lines

    def _claims_section(self) -> list[str]:
        design = self.design
        return [
            "One row per claim of the seed paper, tested on the usable pairs of all seeds "
            f"({', '.join(str(s) for s in design.seeds)}): the per-seed mean over the usable "
            "comparisons of the paired difference, with its 95% interval over seeds. "
            "Supported = the whole interval on the claimed side of 0; a claim without two "
            "seeds of usable pairs is inconclusive. Each explanation claim is repeated over "
            f"the pairs whose clean accuracies differ by at most {design.accuracy_band:.2f} "
            "(clean accuracy changes with the training mode and confounds the comparison).",
            "", claims_markdown(self.claims).rstrip()]

    def _model_table(self) -> list[str]:
        models = self.models
        if models.empty:
            return ["(no model finished)"]
        robust_cols = sorted(c for c in models.columns if c.startswith("robust@"))
        head = ["dataset", "model", "training", "clean acc",
                *[f"acc under {c.removeprefix('robust@')} attack" for c in robust_cols], "seeds",
                "below floor"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        models = in_matrix_order(models, self.config)
        for (d, m, t), part in models.groupby(["dataset", "model", "training"], sort=False):
            cells = [d, m, t, _mean_sd(part["clean"])]
            cells += [_mean_sd(part[c]) for c in robust_cols]
            cells.append(str(part["seed"].nunique()))
            below = part[part["below_floor"].astype(bool)] if "below_floor" in part else part[:0]
            cells.append(f"{len(below)} (seeds {', '.join(str(s) for s in sorted(below['seed']))})"
                         if len(below) else "0")
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def _accuracy_diff_table(self) -> list[str]:
        diffs = self.accuracy_differences
        if diffs.empty:
            return ["(no paired models)"]
        metrics = list(dict.fromkeys(diffs["metric"]))
        head = ["dataset", "model", "training",
                *[("clean acc" if m == "clean" else f"acc under {m.removeprefix('robust@')} attack")
                  for m in metrics]]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        diffs = in_matrix_order(diffs, self.config)
        for (d, m, t), part in diffs.groupby(["dataset", "model", "training"], sort=False):
            by_metric = {r["metric"]: r for _, r in part.iterrows()}
            lines.append("| " + " | ".join([d, m, t, *[_diff_text(by_metric.get(x))
                                                         for x in metrics]]) + " |")
        return lines

    def _diff_table(self, metric: str, modes: list[str]) -> list[str]:
        diffs = self.differences
        if diffs.empty:
            return []
        part = diffs[diffs["metric"] == metric]
        if part.empty or not (part["n"] > 0).any():
            return []
        head = ["dataset", "model", "explainer", BASELINE,
                *[x for m in modes for x in (f"{m} - {BASELINE}", "matched clean acc.")]]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        done = self.frame[self.frame["status"] == "done"]
        part = in_matrix_order(part, self.config)
        for (d, m, e), rows in part.groupby(["dataset", "model", "explainer"], sort=False):
            base = done[(done["dataset"] == d) & (done["model"] == m) & (done["explainer"] == e)
                        & (done["training"] == BASELINE)]
            by_mode = {r["training"]: r for _, r in rows.iterrows()}
            cells = [d, m, e, _mean_sd(base[metric]) if metric in base else "-"]
            same = self.matched_differences
            same = (same[(same["metric"] == metric) & (same["dataset"] == d)
                         & (same["model"] == m) & (same["explainer"] == e)]
                    if not same.empty else same)
            by_mode_matched = {r["training"]: r for _, r in same.iterrows()}
            cells += [x for mode in modes for x in (_diff_text(by_mode.get(mode)),
                                                    _diff_text(by_mode_matched.get(mode), True))]
            lines.append("| " + " | ".join(cells) + " |")
        return lines

    def _sweep_table(self) -> list[str]:
        sweep = self.sweep
        assert sweep is not None
        score_cols = [c for c in ("edge_auc", "repr_fidelity") if c in sweep]
        robust_cols = [c for c in sweep.columns if c.startswith("robust@")]
        head = ["dataset", "model", "epsilon", "clean acc",
                *[f"acc under {c.removeprefix('robust@')} attack" for c in robust_cols],
                "explainer", *score_cols, "seeds"]
        lines = ["Mean +- std over seeds; epsilon 0 = standard training. Robust accuracy "
                 "under the study's own adv-features attack (a fixed epsilon), so every "
                 "epsilon is judged by the same attack.", "",
                 "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        keys = ["dataset", "model", "epsilon", "explainer"]
        for (d, m, eps, e), part in sweep.groupby(keys, sort=True):
            cells = [d, m, f"{eps:g}", _mean_sd(part["clean"]),
                     *[_mean_sd(part[c]) for c in robust_cols], e,
                     *[_mean_sd(part[c]) for c in score_cols], str(part["seed"].nunique())]
            lines.append("| " + " | ".join(cells) + " |")
        return lines


def in_matrix_order(frame: pd.DataFrame, config: Any) -> pd.DataFrame:
    """``frame`` sorted by the matrix's order of datasets, models, trainings and explainers
    (columns it lacks are ignored; rows keep their order within equal keys)."""
    if frame.empty:
        return frame
    keys = []
    for column, names in (("dataset", config.datasets), ("model", config.models),
                          ("training", config.trainings), ("explainer", config.explainers)):
        if column in frame:
            rank = {name: i for i, name in enumerate(names)}
            keys.append(frame[column].map(lambda v, r=rank: r.get(v, len(r))).rename(column))
    if not keys:
        return frame
    order = pd.concat(keys, axis=1).reset_index(drop=True)
    index = order.sort_values(list(order.columns), kind="stable").index
    return frame.iloc[index]


def _first_line(text: Any) -> str:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return text.splitlines()[0] if text.strip() else ""


def _mean_sd(values: pd.Series) -> str:
    values = pd.to_numeric(values, errors="coerce").dropna()
    if values.empty:
        return "-"
    if len(values) == 1:
        return f"{values.iloc[0]:.3f}"
    return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}"


def _diff_text(row: Mapping[str, Any] | None, with_n: bool = False) -> str:
    """``+0.052 [+0.010, +0.094] *`` (``boot.`` for a bootstrap interval, ``(sd 0)`` when
    every seed moved alike, ``n=3`` with ``with_n``)."""
    if row is None or row["n"] == 0:
        return "-"
    n = f", n={int(row['n'])}" if with_n else ""
    if math.isnan(row["lo"]):
        return f"{row['diff']:+.3f} (n={int(row['n'])}, no CI)"
    star = " *" if row["excludes_zero"] else ""
    how = " boot." if row.get("method") == "bootstrap" else ""
    flat = " (sd 0)" if is_flat(row["sd"]) else ""
    return f"{row['diff']:+.3f} [{row['lo']:+.3f}, {row['hi']:+.3f}]{how}{star}{flat}{n}"


def analyse(frame: pd.DataFrame, models: pd.DataFrame, design: StudyDesign,
            modes: Sequence[str], metrics: Sequence[str] = COMPARED) -> dict[str, Any]:
    """The study's numbers from a matrix's cells and models: ``differences`` (every done
    pair), ``matched_differences`` (pairs within ``design.accuracy_band`` of clean accuracy),
    ``accuracy_differences``, ``family`` (find and confirm on the usable pairs) and
    ``claims``; keyword arguments of :class:`AdversarialStudy`."""
    done = frame[frame["status"] == "done"] if not frame.empty else frame
    keys = ("dataset", "model", "explainer")
    metrics = [m for m in metrics if m in done]
    acc_metrics = ["clean", *sorted(c for c in models.columns if c.startswith("robust@"))]
    accuracy = "model_acc_test" if "model_acc_test" in done else None
    kept = usable(done)
    kept_differences = seed_differences(kept, keys, metrics, accuracy)
    kept_models = seed_differences(usable_models(models), ("dataset", "model"), acc_metrics)
    return {
        "differences": paired_table(done, keys, metrics, accuracy=accuracy),
        "matched_differences": paired_table(done, keys, metrics, accuracy=accuracy,
                                            band=design.accuracy_band),
        "accuracy_differences": paired_table(models, ("dataset", "model"), acc_metrics),
        "family": family_tests(kept_differences, keys, design),
        "claims": claims(kept_differences, kept_models, modes, design),
    }


def _run(config: Any, store_path: Path, paths: Paths, device: str,
         progress: Callable[[str], None], bar: bool = False, run: bool = True
         ) -> tuple[pd.DataFrame, list[Any], str]:
    """Run ``config`` into the store; its cells' frame rows, its cells, the run summary.
    ``run=False``: only read what the store holds (cells never run are left out)."""

    cells, skipped = expand(config)
    keys = {c.key for c in cells} | {c.key for c, _ in skipped}
    with ResultsStore(store_path) as store:
        if run:
            text = run_matrix(config, store, paths, progress=bar).text()
        frame = store.cells_frame()
    frame = frame[frame["cell_key"].isin(keys)].reset_index(drop=True)
    if not run:
        held = int(frame["status"].isin(["done", "skipped"]).sum())
        text = (f"{config.name}: not run (read from the store): {held} of {len(keys)} cells "
                "done or skipped")
    progress(text.splitlines()[0])
    return frame, cells, text


def run_study(raw: Mapping[str, Any], store_path: str | Path, paths: Paths | None = None,
              device: str = "cpu", progress: Callable[[str], None] | None = None,
              sweep: Sequence[Mapping[str, Any]] = (), quick: bool = False,
              bar: bool = False, run: bool = True, design: StudyDesign | None = None,
              record_in: str | Path | None = None) -> AdversarialStudy:
    """Run the matrix ``raw`` (plain data) and the ``sweep`` matrices into ``store_path``,
    measure robustness and compute the paired differences (module docstring). ``bar``:
    the runner's progress bar over cells (on stderr). ``run=False``: analyse only the
    cells the store already holds (a study cut short); pairs need both seeds done.
    ``design``: which seeds find and which confirm (default: the first and second half of
    the matrix's seeds). ``record_in``: a folder in which the configuration is recorded
    before anything runs (refused when it holds another under the same study version)."""

    say = progress or (lambda _line: None)
    paths = paths or Paths.from_env()
    start = time.perf_counter()
    config = parse_matrix(dict(raw), source="report:adversarial").with_device(device)
    design = design or StudyDesign.halves(config.seeds)
    version = (record_configuration(record_in, STUDY, STUDY_VERSION, {
        "matrix": dict(raw), "sweep": [dict(d) for d in sweep], "design": design.record()})
        if record_in is not None else None)
    frame, cells, run_text = _run(config, Path(store_path), paths, device, say, bar, run)
    by_key = {c.key: c for c in cells}
    specs = attack_specs(config)
    done_cells = [by_key[k] for k in frame.loc[frame["status"] == "done", "cell_key"]]
    robustness = measure_robustness(done_cells, specs, paths, device, say)
    models = model_frame(frame, robustness, by_key)
    modes = [m for m in config.trainings if m != BASELINE]
    study = AdversarialStudy(config=config, frame=frame, models=models, design=design,
                             version=version, run_text=run_text, quick=quick,
                             planned=len(cells), **analyse(frame, models, design, modes))
    if sweep:
        study.sweep = _run_sweep(config, frame, models, by_key, sweep, Path(store_path), paths,
                                 device, specs, say, bar, run)
    study.seconds = time.perf_counter() - start
    return study


def _run_sweep(config: Any, frame: pd.DataFrame, models: pd.DataFrame,
               by_key: Mapping[str, Any], documents: Sequence[Mapping[str, Any]],
               store_path: Path, paths: Paths, device: str,
               specs: Mapping[str, Mapping[str, tuple[str, dict]]],
               say: Callable[[str], None], bar: bool = False, run: bool = True) -> pd.DataFrame:
    """Run the sweep matrices; rows: per (model, explainer) of the sweep's datasets, models,
    explainers and seeds, with standard training as epsilon 0 and the main study's
    adv-features cells at their epsilon (on the sweep's seeds only)."""

    parts, all_cells = [], dict(by_key)
    sweep_specs = {dataset: {SWEEP_MODE: spec[SWEEP_MODE]} for dataset, spec in specs.items()
                   if SWEEP_MODE in spec}
    for doc in documents:
        sub = parse_matrix(dict(doc), source="report:adversarial-sweep").with_device(device)
        sub_frame, sub_cells, _text = _run(sub, store_path, paths, device, say, bar, run)
        all_cells.update({c.key: c for c in sub_cells})
        done = [all_cells[k] for k in sub_frame.loc[sub_frame["status"] == "done", "cell_key"]]
        robust = measure_robustness(done, sweep_specs, paths, device, say)
        parts.append((sub_frame, model_frame(sub_frame, robust, all_cells)))
    datasets = set().union(*(set(p[0]["dataset"]) for p in parts)) if parts else set()
    explainers = set().union(*(set(p[0]["explainer"]) for p in parts)) if parts else set()
    seeds = set().union(*(set(p[0]["seed"]) for p in parts)) if parts else set()
    # the study's own points on the sweep's seeds only, so every epsilon averages the same seeds
    main = frame[frame["training"].isin([BASELINE, SWEEP_MODE]) & frame["seed"].isin(seeds)]
    parts.append((main, models[models["training"].isin([BASELINE, SWEEP_MODE])]))
    rows = []
    for cells_frame, model_rows in parts:
        done = cells_frame[(cells_frame["status"] == "done")
                           & cells_frame["dataset"].isin(datasets)
                           & cells_frame["explainer"].isin(explainers)]
        if done.empty:
            continue
        keyed = model_rows.set_index("model_key")
        for _, row in done.iterrows():
            cell = all_cells[row["cell_key"]]
            mrow = keyed.loc[cell.model_key]
            rows.append({
                "dataset": row["dataset"], "model": row["model"], "explainer": row["explainer"],
                "seed": int(row["seed"]),
                "epsilon": (0.0 if cell.training == BASELINE
                            else float(cell.training_config.get("epsilon", math.nan))),
                "clean": float(mrow["clean"]),
                **{c: float(mrow[c]) for c in keyed.columns if c == f"robust@{SWEEP_MODE}"},
                **{c: float(row[c]) for c in ("edge_auc", "repr_fidelity") if c in row}})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ plots


def plot_differences(study: AdversarialStudy, path: str | Path) -> Path:
    """Forest plot: paired differences with 95% CIs, one panel per (metric, adversarial mode),
    explainers on the y axis, one marker per dataset/model (filled: CI excludes 0)."""

    diffs = study.differences
    if diffs.empty or not (diffs["n"] > 0).any():
        return _empty(Path(path), "no paired differences (no adversarial mode finished)")
    diffs = in_matrix_order(diffs[diffs["n"] > 0], study.config)
    metrics = [m for m in COMPARED if m in set(diffs["metric"])]
    modes = list(dict.fromkeys(diffs["training"]))
    explainers = list(dict.fromkeys(diffs["explainer"]))
    setups = list(dict.fromkeys(zip(diffs["dataset"], diffs["model"])))
    colours = _colours([f"{d}/{m}" for d, m in setups])
    fig = _figure(4.2 * len(modes) + 1.5, 1.2 + (0.32 * len(explainers) + 0.6) * len(metrics)
                  * max(1.0, len(setups) / 4))
    axes = fig.subplots(len(metrics), len(modes), squeeze=False)
    step = 0.8 / max(len(setups), 1)
    for i, metric in enumerate(metrics):
        for j, mode in enumerate(modes):
            ax = axes[i][j]
            part = diffs[(diffs["metric"] == metric) & (diffs["training"] == mode)]
            for s, (d, m) in enumerate(setups):
                sel = part[(part["dataset"] == d) & (part["model"] == m)]
                for _, r in sel.iterrows():
                    y = explainers.index(r["explainer"]) - 0.4 + step * (s + 0.5)
                    colour = colours[f"{d}/{m}"]
                    if not math.isnan(r["lo"]):
                        ax.plot([r["lo"], r["hi"]], [y, y], color=colour, lw=1.2)
                    ax.plot([r["diff"]], [y], "o", color=colour, ms=4.5,
                            mfc=colour if r["excludes_zero"] else "white")
            ax.axvline(0.0, color="0.4", lw=0.8, ls="--")
            ax.set_yticks(range(len(explainers)), explainers if j == 0 else [""] * len(explainers),
                          fontsize="small")
            ax.set_ylim(len(explainers) - 0.5, -0.5)
            better = "higher" if _higher_is_better(metric) else "lower"
            ax.set_title(f"{metric}: {mode} - {BASELINE} ({better} is better)", fontsize="small")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[f"{d}/{m}"], marker="o", label=f"{d}/{m}")
               for d, m in setups]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), frameon=False,
               fontsize="small", bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Paired differences (mean, 95% t CI over seeds; filled = CI excludes 0)",
                 y=1.04, fontsize="medium")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, Path(path))


def plot_accuracy(study: AdversarialStudy, path: str | Path) -> Path:
    """Grouped bars per dataset/model: clean and robust test accuracy per training mode
    (mean over seeds, std error bars)."""

    models = study.models
    if models.empty:
        return _empty(Path(path), "no trained model finished")
    models = in_matrix_order(models, study.config)
    setups = list(dict.fromkeys(zip(models["dataset"], models["model"])))
    columns = ["clean", *sorted(c for c in models.columns if c.startswith("robust@"))]
    labels = ["clean" if c == "clean" else f"under {c.removeprefix('robust@')} attack"
              for c in columns]
    colours = _colours(labels)
    cols = min(len(setups), 3)
    rows_n = math.ceil(len(setups) / cols)
    fig = _figure(4.4 * cols, 3.2 * rows_n + 0.6)
    axes = fig.subplots(rows_n, cols, squeeze=False)
    for k, (d, m) in enumerate(setups):
        ax = axes[k // cols][k % cols]
        part = models[(models["dataset"] == d) & (models["model"] == m)]
        trainings = list(dict.fromkeys(part["training"]))
        width = 0.8 / len(columns)
        for c, (col, label) in enumerate(zip(columns, labels)):
            means = [pd.to_numeric(part[part["training"] == t][col]).mean() for t in trainings]
            sds = [pd.to_numeric(part[part["training"] == t][col]).std(ddof=1) for t in trainings]
            ax.bar([x - 0.4 + width * (c + 0.5) for x in range(len(trainings))], means, width,
                   yerr=[0 if math.isnan(s) else s for s in sds], capsize=2,
                   color=colours[label], label=label)
        ax.set_xticks(range(len(trainings)), trainings, fontsize="small")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{d}/{m}", fontsize="small")
        ax.set_ylabel("test accuracy", fontsize="small")
    for k in range(len(setups), rows_n * cols):
        axes[k // cols][k % cols].axis("off")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=len(names), frameon=False,
               fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return _save(fig, Path(path))


def plot_sweep(sweep: pd.DataFrame, path: str | Path) -> Path:
    """Per dataset/model: accuracy (clean, robust) and explanation scores vs epsilon."""

    if sweep is None or sweep.empty:
        return _empty(Path(path), "no epsilon sweep")
    setups = list(dict.fromkeys(zip(sweep["dataset"], sweep["model"])))
    explainers = sorted(sweep["explainer"].unique())
    colours = _colours(explainers)
    fig = _figure(9.5, 3.0 * len(setups) + 0.4)
    axes = fig.subplots(len(setups), 2, squeeze=False)
    robust = f"robust@{SWEEP_MODE}"
    for k, (d, m) in enumerate(setups):
        part = sweep[(sweep["dataset"] == d) & (sweep["model"] == m)]
        per_model = part.drop_duplicates(["epsilon", "seed"])
        acc = per_model.groupby("epsilon")[[c for c in ("clean", robust) if c in part]].mean()
        ax = axes[k][0]
        for col, style in (("clean", "o-"), (robust, "s--")):
            if col in acc:
                ax.plot(acc.index, acc[col], style, label="clean" if col == "clean"
                        else f"under {SWEEP_MODE} attack")
        ax.set_xlabel("adv-features epsilon (0 = standard)", fontsize="small")
        ax.set_ylabel("test accuracy", fontsize="small")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{d}/{m}: robustness vs clean accuracy", fontsize="small")
        ax.legend(fontsize="x-small", frameon=False)
        ax = axes[k][1]
        for e in explainers:
            sel = part[part["explainer"] == e].groupby("epsilon")
            for col, style in (("edge_auc", "o-"), ("repr_fidelity", "s:")):
                if col in part:
                    means = sel[col].mean()
                    ax.plot(means.index, means.values, style, color=colours[e],
                            label=f"{e} {col}")
        ax.set_xlabel("adv-features epsilon (0 = standard)", fontsize="small")
        ax.set_title(f"{d}/{m}: edge_auc (solid), repr_fidelity (dotted)", fontsize="small")
        ax.legend(fontsize="xx-small", frameon=False, ncol=2, loc="upper center",
                  bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    return _save(fig, Path(path))


def write_study(study: AdversarialStudy, out_dir: str | Path) -> list[Path]:
    """Write the Markdown, the plots and the study's cells (CSV) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / REPORT_FILE
    md.write_text(study.markdown(), encoding="utf-8")
    csv = out / CSV_FILE
    study.frame.to_csv(csv, index=False)
    files = [md, plot_differences(study, out / DIFF_PLOT), plot_accuracy(study, out / ACC_PLOT)]
    if study.sweep is not None and not study.sweep.empty:
        files.append(plot_sweep(study.sweep, out / SWEEP_PLOT))
    return files + [csv]


def full_study(out_dir: str | Path, paths: Paths | None = None, device: str = "cpu",
               seed: int = 0, progress: Callable[[str], None] | None = None,
               run: bool = True, bar: bool = False) -> AdversarialStudy:
    """The full study (the preset and its sweep) with its store at ``OUT/store.sqlite``.
    ``run=False`` analyses what that store holds without running anything (a study cut
    short). To re-analyse a finished study, rerun ``suite report adversarial --out OUT``:
    every cell is read from the store, and the command line keeps torch at one thread (the
    robustness measurement over hundreds of small models took minutes, not seconds, with
    torch's default threads on 2 cores)."""
    out = Path(out_dir)
    raw = adversarial_document(seed)
    sweep = sweep_documents(raw, datasets=SWEEP_DATASETS, explainers=SWEEP_EXPLAINERS,
                            seeds=SWEEP_SEEDS)
    return run_study(raw, out / "store.sqlite", paths, device, progress, sweep=sweep, bar=bar,
                     run=run, record_in=out)


@REPORTS.register("adversarial", description="adversarial vs standard training (features, "
                  "structure): paired seed-matched differences of edge AUC, representation "
                  "fidelity, unfaithfulness and fidelity+, with clean and robust accuracy and an "
                  "epsilon sweep; --quick: BA-Shapes/GCN, 2 seeds",
                  citation="Loveland et al., ICML 2021 XAI workshop (arXiv 2106.13427)")
def adversarial_report(request: ReportRequest) -> list[Path]:
    """``suite report adversarial [--quick]``: store at ``OUT/store.sqlite`` (quick: everything
    under ``OUT/quick``, its own configuration), so a rerun resumes; seeds shifted by
    ``--seed``."""
    out = Path(request.out)
    if request.quick:
        out = out / "quick"
        study = run_study(quick_document(request.seed), out / "store.sqlite", request.paths,
                          request.device, request.progress, quick=True, record_in=out)
    else:
        study = full_study(out, request.paths, request.device, request.seed, request.progress,
                           bar=True)
    return write_study(study, out)
