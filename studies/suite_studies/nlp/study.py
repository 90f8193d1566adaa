"""The NLP study over seeds: GraphMask and the other explainers on gold dependency trees,
every number with its interval, and the seed paper's claims.

:func:`run_study` runs :func:`~suite_studies.nlp.report.run_task` for every task once per
seed (model initialisation, explained instances and explainers seeded with it; the
treebank's splits are fixed) and keeps each seed's numbers in ``OUT/seeds/seed-S.json``
(an interrupted study resumes at the first missing seed). :class:`NLPStudy` aggregates
them: each method's numbers as the mean over seeds with a 95% interval
(:func:`suite.core.stats.seed_interval`), and one claims table whose claims and nulls are
fixed here, before any seed ran:

- on every task, dropping the edges GraphMask drops keeps the model's accuracy within 5
  points (kept-only minus unmasked accuracy, null -0.05), counted only where GraphMask
  dropped edges;
- on the tasks with ground truth (the deciding arcs), GraphMask's arc F1 beats per-instance
  GraphMask's and each soft method's (paired by seed; soft methods thresholded without
  ground truth).

A seed whose model is below its dataset's floor (:func:`suite.protocol.floor_for`) is left
out of every claim on that task.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from suite.core.files import atomic_write
from suite.core.paths import Paths
from suite.core.stats import seed_interval
from suite.reports import REPORTS, ReportRequest
from suite_studies.claims import Claim, claims_markdown
from suite_studies.nlp.report import (
    MethodRow,
    NLPConfig,
    NLPReport,
    TaskResult,
    plot_f1,
    plot_sentences,
    run_task,
)
from suite_studies.seeds import configuration_record, finite, run_seeds
from suite_studies.versioning import StudyVersion

#: The study's name in its version record.
STUDY = "nlp"
#: Version 2: five seeds with intervals, every method at its published defaults, soft
#: thresholds without ground truth, floors, claims (README: what changed).
STUDY_VERSION = 2
#: Seeds of the full study.
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: Largest accuracy drop (kept-only vs unmasked) that still "keeps the model's accuracy".
PRESERVE_MARGIN = 0.05
#: Methods GraphMask's arc F1 is compared with, where they ran.
COMPARED: tuple[str, ...] = ("graphmask-instance", "gnnexplainer", "integrated-gradients",
                             "saliency")
#: Numbers of a method row with their valid ranges.
MEASURES: dict[str, tuple[float, float]] = {
    "precision": (0.0, 1.0), "recall": (0.0, 1.0), "f1": (0.0, 1.0), "auc": (0.0, 1.0),
    "edge_f1": (0.0, 1.0), "retained": (0.0, 1.0), "acc_masked": (0.0, 1.0),
}


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs: the per-seed configuration and the seeds."""

    report: NLPConfig = dataclasses.field(default_factory=NLPConfig)
    seeds: tuple[int, ...] = SEEDS

    @classmethod
    def quick(cls) -> "StudyConfig":
        """Two seeds of the quick per-seed configuration."""
        return cls(report=NLPConfig.quick(), seeds=(0, 1))

    def record(self) -> dict[str, Any]:
        """The configuration whose hash is recorded with the results."""
        return configuration_record(self.report, self.seeds)


def task_record(task: TaskResult) -> dict[str, Any]:
    """One task of one seed as plain data."""
    return {"name": task.name, "accuracy": dict(task.accuracy), "acc_unmasked": task.acc_unmasked,
            "below": task.below, "stats": dict(task.stats),
            "rows": [dataclasses.asdict(r) for r in task.rows],
            "layer_shares": {str(layer): {rel: list(kn) for rel, kn in table.items()}
                             for layer, table in task.layer_shares.items()},
            "drawings": task.drawings}


@dataclass
class NLPStudy:
    """Per-seed records (``{"seed", "seconds", "tasks": [task_record, ...]}``) and their aggregate."""

    config: StudyConfig
    records: list[dict[str, Any]]
    version: StudyVersion | None = None

    def tasks(self) -> list[str]:
        return [t["name"] for t in self.records[0]["tasks"]] if self.records else []

    def _task(self, record: dict[str, Any], name: str) -> dict[str, Any] | None:
        return next((t for t in record["tasks"] if t["name"] == name), None)

    def methods(self, name: str) -> list[str]:
        task = self._task(self.records[0], name) if self.records else None
        return [r["method"] for r in task["rows"]] if task else []

    def below(self, record: dict[str, Any], name: str) -> str:
        task = self._task(record, name)
        return "not run" if task is None else task["below"]

    def value(self, record: dict[str, Any], name: str, method: str, measure: str) -> float:
        task = self._task(record, name)
        row = next((r for r in task["rows"] if r["method"] == method), None) if task else None
        return math.nan if row is None or row["error"] else finite(row[measure])

    def values(self, name: str, method: str, measure: str, floors: bool = False) -> list[float]:
        return [math.nan if floors and self.below(r, name) else self.value(r, name, method, measure)
                for r in self.records]

    def has_truth(self, name: str) -> bool:
        return any(not math.isnan(v) for v in self.values(name, "graphmask", "f1"))

    # ------------------------------------------------------------------ claims

    def claims(self) -> list[Claim]:
        out = []
        for name in self.tasks():
            kept = [r for r in self.records if not self.below(r, name)]
            retained = [self.value(r, name, "graphmask", "retained") for r in kept]
            why = ""
            if len(kept) < 2:
                why = (f"{len(kept)} seed(s) with the model at its floor (below it on "
                       f"{len(self.records) - len(kept)} of {len(self.records)})")
            elif all(v >= 1.0 for v in retained if not math.isnan(v)):
                why = "GraphMask kept every edge: no selection to judge"
            drop = [self.value(r, name, "graphmask", "acc_masked")
                    - finite(self._task(r, name)["acc_unmasked"]) for r in kept]
            out.append(self._claim(
                f"{name}: dropping the edges GraphMask drops keeps the model's accuracy within "
                f"{PRESERVE_MARGIN:.0%}", "kept-only minus unmasked accuracy on the explained "
                f"test instances; null -{PRESERVE_MARGIN:.2f}", drop, -PRESERVE_MARGIN, why))
            if not self.has_truth(name):
                continue
            for other in COMPARED:
                if other not in self.methods(name):
                    continue
                diff = [self.value(r, name, "graphmask", "f1") - self.value(r, name, other, "f1")
                        for r in kept]
                out.append(self._claim(
                    f"{name}: GraphMask finds the deciding arcs better than {other}",
                    f"paired arc F1 difference graphmask - {other}", diff, 0.0, why))
        return out

    @staticmethod
    def _claim(claim: str, test: str, values: Sequence[float], null: float, why: str) -> Claim:
        finite = [v for v in values if not math.isnan(v)]
        if why or len(finite) < 2:
            return Claim(claim, test, math.nan, math.nan, math.nan, null=null,
                         excluded=why or f"{len(finite)} seed(s) with a value")
        interval = seed_interval(finite, (-1.0, 1.0))
        return Claim(claim, f"{test}, {len(finite)} seeds ({interval.method} interval)",
                     interval.estimate, interval.low, interval.high, null=null)

    # ------------------------------------------------------------------ rendering

    def markdown(self) -> str:
        cfg = self.config.report
        lines = [
            "# GraphMask on gold dependency trees over seeds (`suite report nlp`)", "",
            f"Study version {STUDY_VERSION}"
            + (f", configuration {self.version.config_hash}" if self.version else "")
            + f"; seeds {', '.join(str(s) for s in self.config.seeds)}. UD English EWT (gold "
            "trees, CC BY-SA 4.0); gated syntactic GCN (Marcheggiani & Titov 2017), trained per "
            "seed. Every method keeps its published defaults (dep-role's GraphMask trains on its "
            "fit verbs' neighbourhoods and judges its dev criterion on balanced validation "
            "verbs, structural options). Kept edges: GraphMask's hard gates; soft methods "
            "above the threshold that keeps the fewest arcs whose kept-only validation "
            f"accuracy stays within {cfg.threshold_tolerance:.0%} of the unmasked one (no "
            "ground truth); arc AUC is threshold-free. Scored on arcs (both directions of an "
            "arc together, self-loops left out). Each number is the mean over seeds with its "
            "95% interval (t, or the percentile bootstrap where t leaves the range or the "
            "seeds disagree by more than 0.3, the per-seed values then shown).", ""]
        for name in self.tasks():
            lines += self._task_section(name)
        lines += ["## Claims", "", claims_markdown(self.claims()).rstrip(), "",
                  f"Generated in {sum(r['seconds'] for r in self.records):.0f} s over "
                  f"{len(self.records)} seeds.", ""]
        return "\n".join(lines)

    def _task_section(self, name: str) -> list[str]:
        first = self._task(self.records[0], name)
        stats = first["stats"]
        accuracy = {split: seed_interval([finite(self._task(r, name)["accuracy"].get(split))
                                          for r in self.records], (0.0, 1.0)).text()
                    for split in ("train", "val", "test")}
        below = [f"seed {r['seed']}" for r in self.records if self.below(r, name)]
        lines = [f"## {name}", "",
                 f"{int(stats.get('tokens', 0))} tokens, train/val/test instances "
                 f"{stats.get('targets', '?')}, {int(stats.get('edge types', 0))} edge types. "
                 f"Model accuracy: train {accuracy['train']}, val {accuracy['val']}, test "
                 f"{accuracy['test']}"
                 + (f"; below its floor on {', '.join(below)} ("
                    f"{self.below(next(r for r in self.records if self.below(r, name)), name)}"
                    ", ...)" if below else "") + ".", "",
                 "| method | instances | arc precision | arc recall | arc F1 | arc AUC | "
                 "edges kept | acc. kept only |", "|---|---|---|---|---|---|---|---|"]
        for method in self.methods(name):
            cells = [seed_interval(self.values(name, method, m), MEASURES[m]).text()
                     for m in ("precision", "recall", "f1", "auc", "retained", "acc_masked")]
            n = self.value(self.records[0], name, method, "n")
            lines.append(f"| {method} | {'-' if math.isnan(n) else int(n)} | "
                         + " | ".join(cells) + " |")
        unmasked = seed_interval([finite(self._task(r, name)["acc_unmasked"])
                                  for r in self.records], (0.0, 1.0))
        lines += ["", f"Unmasked accuracy on the explained instances: {unmasked.text()}."]
        shares = first["layer_shares"]
        if shares:
            layers = sorted(shares, key=int)
            rels = sorted({r for t in shares.values() for r in t},
                          key=lambda r: (-sum(t.get(r, (0, 0))[1] for t in shares.values()), r))
            lines += ["", f"GraphMask on seed {self.records[0]['seed']}: share of edges kept per "
                      "layer and relation type (both directions pooled):", "",
                      "| relation | edges | " + " | ".join(f"layer {int(l) + 1}" for l in layers)
                      + " |", "|---|---|" + "---|" * len(layers)]
            for rel in rels[:20]:
                n = shares[layers[0]].get(rel, (0, 0))[1]
                cells = [(f"{k / m:.0%}" if m else "-")
                         for k, m in (shares[l].get(rel, (0, 0)) for l in layers)]
                lines.append(f"| {rel} | {n} | " + " | ".join(cells) + " |")
        return lines + [""]

    def mean_report(self) -> NLPReport:
        """The mean arc F1 per task and method as an :class:`NLPReport` (for :func:`plot_f1`)."""
        tasks = []
        for name in self.tasks():
            rows = [MethodRow(m, f1=seed_interval(self.values(name, m, "f1")).estimate)
                    for m in self.methods(name)]
            tasks.append(TaskResult(name, self.config.report.tasks[name], {}, rows=rows))
        return NLPReport(self.config.report, tasks)


def run_study(config: StudyConfig, paths: Paths, device: str = "cpu",
              progress: Callable[[str], None] | None = None, out: str | Path | None = None
              ) -> NLPStudy:
    """Record the configuration in ``out`` (refusing a changed one under the same version),
    then run every seed not yet recorded there."""
    say = progress or (lambda _line: None)

    def run_seed(_index: int, seed: int) -> dict[str, Any]:
        per_seed = dataclasses.replace(config.report, seed=seed)
        start = time.perf_counter()
        tasks = [task_record(run_task(name, setup, per_seed, paths, device, say))
                 for name, setup in per_seed.tasks.items()]
        return {"seed": seed, "seconds": time.perf_counter() - start, "tasks": tasks}

    version, records = run_seeds(STUDY, STUDY_VERSION, config.record(), config.seeds, run_seed,
                                 out, say)
    return NLPStudy(config, records, version)


def write_study(study: NLPStudy, out_dir: str | Path) -> list[Path]:
    """``nlp.md`` (aggregate and claims), the mean-F1 plot, the first seed's sentences."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "nlp.md"
    atomic_write(md, study.markdown())
    drawings = next((t["drawings"] for t in study.records[0]["tasks"] if t["drawings"]), [])
    return [md, plot_f1(study.mean_report(), out / "nlp_f1.png"),
            plot_sentences(drawings, out / "nlp_sentences.png")]


@REPORTS.register("nlp", description="GraphMask on gold dependency trees (UD English EWT) over "
                  "five seeds (--seed S: seeds S..S+4): per layer x relation share of kept "
                  "edges, masked vs unmasked accuracy, amortised vs per-instance, every "
                  "explainer's P/R/F1 and AUC on dep-count and dep-role, with intervals and a "
                  "claims table", citation="Schlichtkrull et al., ICLR 2021 (arXiv 2010.00577); "
                  "Marcheggiani & Titov, EMNLP 2017")
def nlp_report(request: ReportRequest) -> list[Path]:
    config = StudyConfig.quick() if request.quick else StudyConfig()
    config = dataclasses.replace(config, seeds=tuple(request.seed + s for s in config.seeds))
    # a quick run is another configuration: its own folder, so the two never mix
    out = Path(request.out) / "quick" if request.quick else Path(request.out)
    study = run_study(config, request.paths, request.device, request.progress, out)
    return write_study(study, out)
