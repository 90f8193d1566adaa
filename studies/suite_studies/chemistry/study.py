"""The chemistry study over seeds: how often explanations find each known functional group,
against the random explainer, with intervals and the seed paper's claims.

:func:`run_study` runs :func:`~suite_studies.chemistry.report.run_chemistry` once per seed
(molecule subset, training and explainers all seeded with it) and keeps each seed's numbers
in ``OUT/seeds/seed-S.json`` (:func:`suite_studies.seeds.run_seeds`: an interrupted study
resumes at the first missing seed).
:class:`ChemistryStudy` aggregates them:

- **recall of a group**: among the explained test molecules that contain the group, the
  share whose top-atom fragments contain it wholly; the random explainer's recall is the
  chance level every explainer is compared with (paired by seed);
- "in the top-5 fragments" (lenient: a group is often there by chance) is counted over
  seeds for every explainer and for random beside it;
- **claims** (fixed here before any seed ran), per dataset and known group: explanations of
  the standard model find the group more often than random, and adversarial training
  (``adv-features``) makes them find it more often. Each is the per-seed mean over the
  explainers (random left out) with a 95% interval over seeds
  (:func:`suite.core.stats.seed_interval`); a seed counts only when its models meet the
  dataset's floor (:func:`suite.protocol.floor_for`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from suite.core.files import atomic_write
from suite.core.paths import Paths
from suite.core.stats import seed_interval
from suite.reports import REPORTS, ReportRequest
from suite_studies.chemistry.report import (
    REPORT_FILE,
    ChemistryConfig,
    ChemistryReport,
    run_chemistry,
)
from suite_studies.claims import Claim, claims_markdown
from suite_studies.seeds import configuration_record, finite, run_seeds
from suite_studies.versioning import StudyVersion

#: The study's name in its version record.
STUDY = "chemistry"
#: Version 2: five seeds with intervals, every rate beside the random explainer's, floors,
#: claims (README: what changed).
STUDY_VERSION = 2
#: Seeds of the full study.
SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The chance-level explainer every rate is compared with.
RANDOM = "random"
#: The training mode adversarial training is compared with, and the adversarial one.
BASELINE, ADVERSARIAL = "standard", "adv-features"


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs: the per-seed configuration and the seeds."""

    report: ChemistryConfig = dataclasses.field(default_factory=ChemistryConfig)
    seeds: tuple[int, ...] = SEEDS

    @classmethod
    def quick(cls) -> "StudyConfig":
        """Two seeds of the quick per-seed configuration (benzene, 3 epochs)."""
        return cls(report=ChemistryConfig.quick(), seeds=(0, 1))

    def record(self) -> dict[str, Any]:
        """The configuration whose hash is recorded with the results."""
        return configuration_record(self.report, self.seeds)


def seed_record(report: ChemistryReport) -> dict[str, Any]:
    """One seed's numbers as plain data (what the aggregate and the claims read)."""
    datasets = []
    for ds in report.datasets:
        cells = [{"training": c.training, "explainer": c.explainer, "n": c.n, "error": c.error,
                  "top": [[f.smiles, f.share] for f in c.top()],
                  "in_top": {g: c.in_top(g) for g in ds.groups},
                  "share": dict(c.group_share), "recall": dict(c.recall)} for c in ds.cells]
        datasets.append({"name": ds.name, "groups": list(ds.groups), "error": ds.error,
                         "accuracy": dict(ds.accuracy), "below": dict(ds.below),
                         "figure": ds.figure, "cells": cells})
    return {"seed": report.config.seed, "seconds": report.seconds, "datasets": datasets}


@dataclass
class ChemistryStudy:
    """Per-seed records (:func:`seed_record`) and their aggregate."""

    config: StudyConfig
    records: list[dict[str, Any]]
    version: StudyVersion | None = None

    # ------------------------------------------------------------------ lookups

    def datasets(self) -> list[dict[str, Any]]:
        """The first seed's dataset entries (names, groups, figure) in run order."""
        return self.records[0]["datasets"] if self.records else []

    def _dataset(self, record: dict[str, Any], name: str) -> dict[str, Any] | None:
        return next((d for d in record["datasets"] if d["name"] == name), None)

    def _cell(self, record: dict[str, Any], dataset: str, training: str, explainer: str
              ) -> dict[str, Any] | None:
        ds = self._dataset(record, dataset)
        if ds is None or ds["error"]:
            return None
        return next((c for c in ds["cells"] if c["training"] == training
                     and c["explainer"] == explainer and not c["error"]), None)

    def below(self, record: dict[str, Any], dataset: str, training: str) -> str:
        """Why ``training``'s model of ``dataset`` is below its floor in ``record`` ('' if not;
        'not run' when the dataset was skipped)."""
        ds = self._dataset(record, dataset)
        if ds is None or ds["error"]:
            return "not run"
        return ds["below"].get(training, "not trained")

    def recall(self, record: dict[str, Any], dataset: str, training: str, explainer: str,
               group: str) -> float:
        cell = self._cell(record, dataset, training, explainer)
        return math.nan if cell is None else finite(cell["recall"].get(group))

    def explainers(self) -> list[str]:
        return list(self.config.report.explainers)

    def trainings(self) -> list[str]:
        return list(self.config.report.trainings)

    # ------------------------------------------------------------------ measures

    def over_random(self, dataset: str, training: str, group: str, explainer: str | None = None,
                    floors: bool = True) -> list[float]:
        """Per seed: an explainer's recall minus random's (the mean over the explainers but
        random when ``explainer`` is None); NaN where the seed's model is below its floor
        (with ``floors``) or a value is missing."""
        out = []
        names = [explainer] if explainer else [e for e in self.explainers() if e != RANDOM]
        for record in self.records:
            if floors and self.below(record, dataset, training):
                out.append(math.nan)
                continue
            chance = self.recall(record, dataset, training, RANDOM, group)
            diffs = [self.recall(record, dataset, training, e, group) - chance for e in names]
            diffs = [d for d in diffs if not math.isnan(d)]
            out.append(sum(diffs) / len(diffs) if diffs else math.nan)
        return out

    def adversarial_change(self, dataset: str, group: str) -> list[float]:
        """Per seed: the mean over the explainers (random left out) of the recall under
        adversarial minus standard training; NaN where either model is below its floor."""
        out = []
        names = [e for e in self.explainers() if e != RANDOM]
        for record in self.records:
            if self.below(record, dataset, BASELINE) or self.below(record, dataset, ADVERSARIAL):
                out.append(math.nan)
                continue
            diffs = [self.recall(record, dataset, ADVERSARIAL, e, group)
                     - self.recall(record, dataset, BASELINE, e, group) for e in names]
            diffs = [d for d in diffs if not math.isnan(d)]
            out.append(sum(diffs) / len(diffs) if diffs else math.nan)
        return out

    # ------------------------------------------------------------------ claims

    def claims(self) -> list[Claim]:
        """Per dataset with known groups and per group (module docstring)."""
        out = []
        for ds in self.datasets():
            name = ds["name"]
            for group in ds["groups"]:
                out.append(self._claim(
                    f"Explanations of the {BASELINE} model find {group} on {name} more often "
                    "than chance",
                    f"recall of {group} minus the random explainer's, mean over the explainers",
                    self.over_random(name, BASELINE, group), name, (BASELINE,)))
                if ADVERSARIAL in self.trainings():
                    out.append(self._claim(
                        f"Adversarial training ({ADVERSARIAL}) makes explanations find {group} "
                        f"on {name} more often",
                        f"recall of {group}, {ADVERSARIAL} - {BASELINE}, mean over the "
                        "explainers",
                        self.adversarial_change(name, group), name, (BASELINE, ADVERSARIAL)))
        return out

    def _claim(self, claim: str, test: str, values: Sequence[float], dataset: str,
               trainings: Sequence[str]) -> Claim:
        kept = [v for v in values if not math.isnan(v)]
        if len(kept) < 2:
            below = []
            for training in trainings:
                count = sum(bool(self.below(r, dataset, training)) for r in self.records)
                if count:
                    below.append(f"{training} on {count} of {len(self.records)}")
            why = (f"{len(kept)} seed(s) with its models at their floor"
                   + (f" (below it: {', '.join(below)})" if below else ""))
            return Claim(claim, test, math.nan, math.nan, math.nan, excluded=why)
        interval = seed_interval(kept, (-1.0, 1.0))
        return Claim(claim, f"{test}, {len(kept)} seeds ({interval.method} interval)",
                     interval.estimate, interval.low, interval.high)

    # ------------------------------------------------------------------ rendering

    def markdown(self) -> str:
        cfg = self.config.report
        seeds = ", ".join(str(s) for s in self.config.seeds)
        lines = [
            "# Chemistry over seeds (`suite report chemistry`)", "",
            f"Study version {STUDY_VERSION}"
            + (f", configuration {self.version.config_hash}" if self.version else "")
            + f"; seeds {seeds}. Per seed: model `{cfg.model}` (OGB atom and bond encoders) "
            f"trained per dataset and mode ({', '.join(cfg.trainings)}), up to {cfg.max_test} "
            f"test molecules explained by {', '.join(cfg.explainers)}. Per molecule: the top "
            f"max({cfg.min_atoms}, ceil({cfg.top_share} x atoms)) atoms by importance, split "
            "into the connected fragments they induce.", "",
            "**Recall** of a group: among the explained molecules that contain it, the share "
            "whose fragments contain it wholly; `random`'s recall is the chance level, and "
            "`- random` is an explainer's recall minus random's on the same seed. Each is the "
            "mean over seeds with its 95% interval (t, or the percentile bootstrap where t "
            "leaves the range or the seeds disagree by more than 0.3, the per-seed values "
            "then shown). **Top 5**: on how many seeds the group lies inside one of the 5 "
            "most frequent fragments (lenient: compare random's count). Seeds whose model is "
            "below the dataset's floor (`suite.protocol.floor_for`) are left out of the "
            "`- random` column and of the claims.", "",
        ]
        for ds in self.datasets():
            lines += self._dataset_section(ds)
        lines += ["## Claims", "", claims_markdown(self.claims()).rstrip(), "",
                  f"Generated in {sum(r['seconds'] for r in self.records):.0f} s over "
                  f"{len(self.records)} seeds.", ""]
        return "\n".join(lines)

    def _dataset_section(self, ds: dict[str, Any]) -> list[str]:
        name, groups = ds["name"], ds["groups"]
        lines = [f"## {name}", ""]
        if ds["error"]:
            return lines + [f"Skipped: {ds['error']}", ""]
        accuracy = []
        for training in self.trainings():
            values = [finite(self._dataset(r, name)["accuracy"].get(training))
                      if self._dataset(r, name) else math.nan for r in self.records]
            below = [f"seed {s}" for s, r in zip(self.config.seeds, self.records)
                     if self.below(r, name, training)]
            accuracy.append(f"{training} {seed_interval(values, (0.0, 1.0)).text()}"
                            + (f" (below its floor: {', '.join(below)})" if below else ""))
        lines += [f"Model test accuracy: {'; '.join(accuracy)}.", ""]
        if not groups:
            return lines + ["No known group (no ground truth): nothing to count.", ""]
        head = ["explainer", "training"]
        for g in groups:
            head += [f"{g}: recall", f"{g}: - random", f"{g}: top 5"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for training in self.trainings():
            for explainer in self.explainers():
                cells = [explainer, training]
                for g in groups:
                    recall = [self.recall(r, name, training, explainer, g) for r in self.records]
                    cells.append(seed_interval(recall, (0.0, 1.0)).text())
                    cells.append("-" if explainer == RANDOM else seed_interval(
                        self.over_random(name, training, g, explainer), (-1.0, 1.0)
                    ).text(signed=True))
                    top = [self._cell(r, name, training, explainer) for r in self.records]
                    hits = sum(bool(c and c["in_top"].get(g)) for c in top)
                    cells.append(f"{hits}/{sum(c is not None for c in top)}")
                lines.append("| " + " | ".join(cells) + " |")
        first = self.records[0]
        lines += ["", f"Top-5 fragments on seed {first['seed']} (share of molecules):", ""]
        for training in self.trainings():
            for explainer in self.explainers():
                cell = self._cell(first, name, training, explainer)
                if cell:
                    frags = ", ".join(f"`{s}` {share:.0%}" for s, share in cell["top"])
                    lines.append(f"- {explainer} / {training}: {frags}")
        if ds.get("figure"):
            lines += ["", f"![{name}]({ds['figure']})", "",
                      f"Seed {first['seed']}: atom and bond importance (white = lowest, red = "
                      f"highest, min-max scaled per panel); columns: {', '.join(self.trainings())}."]
        return lines + [""]


def run_study(config: StudyConfig, paths: Paths, device: str = "cpu",
              progress: Callable[[str], None] | None = None, out: str | Path | None = None
              ) -> ChemistryStudy:
    """Record the configuration in ``out`` (refusing a changed one under the same version),
    then run every seed not yet recorded there; the first seed draws the molecules."""
    say = progress or (lambda _line: None)

    def run_seed(index: int, seed: int) -> dict[str, Any]:
        per_seed = dataclasses.replace(config.report, seed=seed,
                                       draw=config.report.draw if index == 0 else 0)
        folder = Path(out) if out and index == 0 else None
        return seed_record(run_chemistry(per_seed, paths, device, folder, progress=say))

    version, records = run_seeds(STUDY, STUDY_VERSION, config.record(), config.seeds, run_seed,
                                 out, say)
    return ChemistryStudy(config, records, version)


def write_study(study: ChemistryStudy, out_dir: str | Path) -> list[Path]:
    """``chemistry.md`` (the aggregate and the claims) beside the first seed's drawings."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / REPORT_FILE
    atomic_write(md, study.markdown())
    figures = [out / ds["figure"] for ds in study.datasets() if ds.get("figure")]
    return [md, *figures]


@REPORTS.register("chemistry", description="substructures explanations point at on molecules, "
                  "over five seeds (--seed S: seeds S..S+4): recall of each known functional "
                  "group in the top-attributed fragments against the random explainer's, "
                  "standard vs adversarially trained, with intervals and a claims table",
                  citation="Loveland et al., ICML 2021 XAI workshop (arXiv 2106.13427): domain "
                  "insight from adversarially trained GNNs")
def chemistry_report(request: ReportRequest) -> list[Path]:
    config = StudyConfig.quick() if request.quick else StudyConfig()
    config = dataclasses.replace(config, seeds=tuple(request.seed + s for s in config.seeds))
    # a quick run is another configuration: its own folder, so the two never mix
    out = Path(request.out) / "quick" if request.quick else Path(request.out)
    study = run_study(config, request.paths, request.device, request.progress, out)
    return write_study(study, out)
