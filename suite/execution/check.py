"""The quality gate: rerun a small matrix and compare every score with a committed reference.

A *reference* (JSON) holds, per (cell, metric), the mean and standard deviation of
the score over several seeds and a tolerance derived from that seed variance::

    tolerance = max(sigmas * std, min_tolerance)

``check`` reruns the reference's matrix (its own seeds, usually one) in a fresh
store and fails a (cell, metric) when the score is worse than the reference mean
by more than the tolerance: lower for higher-is-better columns, higher for the
others (directions from ``suite.metrics.scorers.COLUMNS``). A cell is named
``dataset/model/training/explainer`` (seeds pooled: the checked value is the mean
over the checked seeds). Cells of the reference missing from the rerun (failed,
refused) fail too; cells the reference does not know are reported and ignored.

A reference keeps the models it was written with in ``NAME.models/`` beside
``NAME.json``. The check explains those models, not ones trained here: training
over 1,000 epochs ends in different weights on different CPUs (their SIMD kernels
round differently), and the explanation scores of a different model can fall
outside a tolerance taken from three seeds. Training is gated separately: the
check also trains each model afresh and compares its test accuracy with the
reference's (cell ``dataset/model/training/(trained here)``).

Timing columns are never gated (they vary with the machine); only the quality
columns in :data:`GATED_COLUMNS` are.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from suite.core.files import TargetError, atomic_write, check_target
from suite.core.paths import Paths
from suite.core.version import __version__
from suite.execution.runner import run_matrix
from suite.matrix import MatrixConfig, parse_matrix
from suite.metrics.scorers import COLUMNS
from suite.store.database import ResultsStore

#: Reference file format version (``check`` refuses other versions with one line).
REFERENCE_FORMAT = 1

#: Default tolerance bounds of a reference: ``max(SIGMAS x seed std, MIN_TOLERANCE)``
#: (``MIN_TOLERANCE`` in score units).
SIGMAS, MIN_TOLERANCE = 3.0, 0.02

#: Quality columns gated by default: the headline AUCs, fidelity, ground-truth-free
#: scores, the drop curve and the model's accuracy (which every explainer cell repeats).
GATED_COLUMNS: tuple[str, ...] = (
    "edge_auc", "edge_auc_instance", "edge_pr_auc", "node_auc", "fid_plus_acc",
    "fid_minus_acc", "characterization", "repr_fidelity", "unfaithfulness",
    "drop_curve_area", "model_acc_test",
)

#: Suffix of the folder beside a reference file with the models the reference was
#: written with (``smoke.json`` -> ``smoke.models/``).
MODELS_SUFFIX = ".models"

#: The explainer of the check's training run (cheap: the run is there for the model's
#: test accuracy, which every cell repeats).
TRAINING_RUN_EXPLAINER = "random"

#: Cell-name suffix of a model trained afresh by the check (its accuracy is gated).
TRAINED_HERE = "(trained here)"

#: Directions of the non-scorer columns that can be gated.
_EXTRA_DIRECTIONS = {"model_acc_test": True, "model_acc_val": True, "model_acc_train": True}


def higher_is_better(column: str) -> bool:
    """Direction of a score column (``COLUMNS`` of the scorers, model accuracy: higher)."""

    if column in COLUMNS:
        return COLUMNS[column].higher_is_better
    if column in _EXTRA_DIRECTIONS:
        return _EXTRA_DIRECTIONS[column]
    known = ", ".join(sorted({*COLUMNS, *_EXTRA_DIRECTIONS}))
    raise ValueError(f"column {column!r}: not a known score column (known: {known})")


#: The references shipped with the package (``suite/presets/checks/NAME.json``).
SHIPPED_CHECKS = "checks"


def shipped_references() -> dict[str, Path]:
    """Name -> file of each reference shipped with the package (``smoke``: the CI gate's)."""
    folder = Path(str(resources.files("suite").joinpath("presets", SHIPPED_CHECKS)))
    return {path.stem: path for path in sorted(folder.glob("*.json"))}


def models_folder(reference_file: str | os.PathLike) -> Path:
    """``NAME.models/`` beside ``NAME.json``: the trained models a reference was written with."""
    return Path(reference_file).with_suffix(MODELS_SUFFIX)


@dataclass(frozen=True)
class Tolerance:
    """Reference statistics of one (cell, metric).

    Attributes:
        mean: mean of the score over the reference seeds.
        std: sample standard deviation over the seeds (ddof 1; 0 for one seed).
        n: number of seeds with a finite score.
        tolerance: the allowed shortfall, ``max(sigmas * std, min_tolerance)`` (score units).
        higher_is_better: direction of the column.
    """

    mean: float
    std: float
    n: int
    tolerance: float
    higher_is_better: bool

    def shortfall(self, value: float) -> float:
        """How much worse than the mean ``value`` is (positive = worse), in score units."""
        return (self.mean - value) if self.higher_is_better else (value - self.mean)


@dataclass
class Reference:
    """A quality reference: the matrix it came from and a ``Tolerance`` per (cell, metric).

    ``scores[cell][metric]``; ``matrix`` is the matrix as a dict (``parse_matrix``
    reads it back), ``seeds`` the seeds the statistics pool.
    """

    matrix: dict[str, Any]
    seeds: list[int]
    sigmas: float
    min_tolerance: float
    scores: dict[str, dict[str, Tolerance]]
    suite_version: str = __version__
    format: int = REFERENCE_FORMAT
    #: the folder of the models the reference was written with (:func:`models_folder`;
    #: None when it has none: the check then trains them); not part of the JSON
    models: Path | None = field(default=None, compare=False)

    def to_json(self) -> str:
        out = asdict(self)
        out.pop("models")
        return json.dumps(out, indent=1, sort_keys=True, default=_plain) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "reference") -> "Reference":
        raw = json.loads(text)
        if raw.get("format") != REFERENCE_FORMAT:
            raise ValueError(f"{source}: reference format {raw.get('format')!r} is not "
                             f"{REFERENCE_FORMAT}; rewrite it with `suite check --write-reference`")
        scores = {cell: {metric: Tolerance(**values) for metric, values in metrics.items()}
                  for cell, metrics in raw["scores"].items()}
        return cls(matrix=raw["matrix"], seeds=list(raw["seeds"]), sigmas=float(raw["sigmas"]),
                   min_tolerance=float(raw["min_tolerance"]), scores=scores,
                   suite_version=raw.get("suite_version", ""), format=raw["format"])

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the reference to ``path`` (atomically); an existing file needs ``overwrite``
        and a results store is never overwritten (``suite.core.files.check_target``)."""
        path = check_target(path, option="--write-reference", overwrite=overwrite)
        return atomic_write(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Reference":
        """A reference from a file, or a shipped one by name (``smoke``: :func:`shipped_references`)."""
        shipped = shipped_references()
        if not Path(path).is_file() and str(path) in shipped:
            path = shipped[str(path)]
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no reference file at {path} and no shipped reference of that name "
                f"(shipped: {', '.join(sorted(shipped)) or 'none'}); write one with "
                "`suite check --write-reference FILE`")
        reference = cls.from_json(path.read_text(), source=str(path))
        folder = models_folder(path)
        reference.models = folder if folder.is_dir() else None
        return reference

    def config(self) -> MatrixConfig:
        return parse_matrix(self.matrix, source="reference matrix")


def _plain(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def cell_name(row: pd.Series | dict[str, Any]) -> str:
    """``dataset/model/training/explainer`` (the seed left out: seeds are pooled)."""
    return f"{row['dataset']}/{row['model']}/{row['training']}/{row['explainer']}"


# --------------------------------------------------------------------------- running


def run_scores(config: MatrixConfig, paths: Paths, device: str | None = None,
               progress: bool = False, store_path: str | os.PathLike | None = None
               ) -> pd.DataFrame:
    """Run ``config`` in a fresh store (never resumed: the code under test must run).

    Returns the store's ``cells_frame`` (one row per cell and seed). ``paths``
    supplies the dataset and model caches; ``store_path`` keeps the store (a
    temporary file otherwise, removed afterwards). Raises ``FileExistsError`` when
    ``store_path`` exists (a resumed store would skip the cells).
    """

    with tempfile.TemporaryDirectory(prefix="suite-check-") as tmp:
        path = Path(store_path) if store_path else Path(tmp) / "check.sqlite"
        if path.exists():
            raise FileExistsError(f"--store {path}: exists; the check needs a fresh store")
        store = ResultsStore(path)
        try:
            run_matrix(config, store, paths, device=device, progress=progress)
            return store.cells_frame()
        finally:
            store.close()


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def reference_from_frame(frame: pd.DataFrame, matrix: dict[str, Any],
                         columns: Sequence[str] = GATED_COLUMNS, sigmas: float = SIGMAS,
                         min_tolerance: float = MIN_TOLERANCE) -> Reference:
    """Per-(cell, metric) statistics of a finished run's ``cells_frame`` over its seeds.

    Only done cells count; a metric a cell never wrote (NaN) is left out.
    """
    if sigmas < 0 or min_tolerance < 0:
        raise ValueError(f"sigmas and min_tolerance must be >= 0 (got {sigmas}, {min_tolerance})")
    done = frame[frame["status"] == "done"]
    scores: dict[str, dict[str, Tolerance]] = {}
    for name, rows in done.groupby(done.apply(cell_name, axis=1), sort=True):
        entry: dict[str, Tolerance] = {}
        for column in columns:
            if column not in rows:
                continue
            values = _finite(rows[column].tolist())
            if not values:
                continue
            n = len(values)
            mean = sum(values) / n
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
            entry[column] = Tolerance(mean=mean, std=std, n=n,
                                      tolerance=max(sigmas * std, min_tolerance),
                                      higher_is_better=higher_is_better(column))
        if entry:
            scores[str(name)] = entry
    seeds = sorted({int(s) for s in done["seed"]})
    return Reference(matrix=matrix, seeds=seeds, sigmas=sigmas, min_tolerance=min_tolerance,
                     scores=scores)


def write_reference(config: MatrixConfig, seeds: Sequence[int], paths: Paths,
                    out: str | os.PathLike, device: str | None = None, sigmas: float = SIGMAS,
                    min_tolerance: float = MIN_TOLERANCE, progress: bool = False,
                    overwrite: bool = False) -> Reference:
    """Run ``config`` on ``seeds`` and write the reference, with the models it trained in
    :func:`models_folder` (the matrix keeps its own seeds for the check, so a check reruns
    what CI can afford). Every model is trained afresh (no cache is read). ``out`` and
    its models folder are checked before the run: existing ones need ``overwrite``, a
    results store is refused, and a folder holding anything but models is never replaced."""
    if len(seeds) < 2:
        raise ValueError(f"seeds: the tolerance comes from seed variance, give at least 2 "
                         f"(got {list(seeds)})")
    out = check_target(out, option="--write-reference", overwrite=overwrite)
    folder = models_folder(out)
    _check_models_target(folder, overwrite)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".suite-reference-", dir=folder.parent) as tmp:
        trained = Path(tmp) / "models"
        frame = run_scores(replace(config, seeds=tuple(seeds)),
                           replace(paths, models=trained, model_references=()),
                           device=device, progress=progress)
        if not (frame["status"] == "done").any():
            errors = [e for e in frame.get("error", pd.Series(dtype=str)).tolist() if e]
            raise ValueError("no finished cell to take a reference from"
                             + (f" ({errors[0].splitlines()[0]})" if errors else ""))
        reference = reference_from_frame(frame, config.to_dict(), sigmas=sigmas,
                                         min_tolerance=min_tolerance)
        trained.mkdir(exist_ok=True)
        if folder.exists():
            shutil.rmtree(folder)
        trained.rename(folder)
    reference.models = folder
    reference.save(out, overwrite=overwrite)
    return reference


def _check_models_target(folder: Path, overwrite: bool) -> None:
    """``TargetError`` unless ``folder`` may become a reference's models folder."""
    if not folder.exists():
        return
    option = "--write-reference"
    if not folder.is_dir():
        raise TargetError(f"{option}: {folder} (where the reference's models go) is a file")
    if any(p.is_dir() or p.suffix not in (".pt", ".json") for p in folder.iterdir()):
        raise TargetError(f"{option}: {folder} holds more than trained models; refusing to "
                          "replace it")
    if not overwrite:
        raise TargetError(f"{option}: {folder} exists; pass --overwrite to replace it")


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class Finding:
    """One compared (cell, metric): its value, the reference and whether it passed."""

    cell: str
    metric: str
    value: float
    reference: Tolerance | None
    passed: bool
    note: str = ""

    def line(self) -> str:
        if self.reference is None:
            return f"{'FAIL' if not self.passed else 'note'} {self.cell} {self.metric}: {self.note}"
        ref = self.reference
        arrow = ">=" if ref.higher_is_better else "<="
        bound = ref.mean - ref.tolerance if ref.higher_is_better else ref.mean + ref.tolerance
        status = "ok  " if self.passed else "FAIL"
        return (f"{status} {self.cell} {self.metric}: {self.value:.4f} (reference "
                f"{ref.mean:.4f} +- {ref.std:.4f}, need {arrow} {bound:.4f})")


@dataclass
class CheckReport:
    """All findings of one check; ``passed`` when none failed."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.passed]

    @property
    def passed(self) -> bool:
        return not self.failures

    def text(self, verbose: bool = False) -> str:
        shown = self.findings if verbose else self.failures
        checked = sum(1 for f in self.findings if f.reference is not None)
        head = (f"quality check {'passed' if self.passed else 'FAILED'}: {checked} scores "
                f"compared, {len(self.failures)} below their reference tolerance")
        return "\n".join([head, *(f.line() for f in shown)])


def compare(frame: pd.DataFrame, reference: Reference) -> CheckReport:
    """Compare a run's ``cells_frame`` with ``reference`` (see the module docstring)."""
    report = CheckReport()
    done = frame[frame["status"] == "done"]
    names = done.apply(cell_name, axis=1) if len(done) else pd.Series(dtype=str)
    for cell, metrics in sorted(reference.scores.items()):
        rows = done[names == cell]
        if rows.empty:
            why = frame[frame.apply(cell_name, axis=1) == cell]["error"].tolist() if len(frame) else []
            report.findings.append(Finding(cell, "*", math.nan, None, False,
                                           "no finished cell in the rerun"
                                           + (f" ({why[0].splitlines()[0]})" if why and why[0] else "")))
            continue
        for metric, ref in sorted(metrics.items()):
            values = _finite(rows[metric].tolist()) if metric in rows else []
            if not values:
                report.findings.append(Finding(cell, metric, math.nan, ref, False,
                                               "score missing in the rerun"))
                continue
            value = sum(values) / len(values)
            report.findings.append(Finding(cell, metric, value, ref,
                                           ref.shortfall(value) <= ref.tolerance + 1e-12))
    known = set(reference.scores)
    for cell in sorted(set(names) - known):
        report.findings.append(Finding(cell, "*", math.nan, None, True,
                                       "not in the reference (not gated)"))
    return report


def compare_training(frame: pd.DataFrame, reference: Reference) -> list[Finding]:
    """Findings for models trained afresh (``frame``: a run's ``cells_frame``): each
    model's test accuracy, pooled over its seeds, against the reference's
    ``model_acc_test`` of that model (its first cell; every cell repeats it), through
    :func:`compare` with every cell named ``dataset/model/training/(trained here)``."""
    accuracies: dict[str, dict[str, Tolerance]] = {}
    for cell, metrics in sorted(reference.scores.items()):
        if "model_acc_test" in metrics:
            model = cell.rsplit("/", 1)[0]
            accuracies.setdefault(f"{model}/{TRAINED_HERE}",
                                  {"model_acc_test": metrics["model_acc_test"]})
    return compare(frame.assign(explainer=TRAINED_HERE),
                   replace(reference, scores=accuracies)).findings


def _trained_entries(folder: Path) -> list[str]:
    """``dataset/model/training seed N`` of each model cache entry in ``folder``."""
    entries = []
    for path in sorted(folder.glob("*.json")):
        try:
            meta = json.loads(path.read_text()).get("meta", {})
            entries.append(f"{meta['dataset']}/{meta['model']}/{meta['training']} "
                           f"seed {meta['seed']}")
        except (OSError, ValueError, KeyError, AttributeError):
            entries.append(path.stem)
    return entries


def check(reference: Reference, paths: Paths, config: MatrixConfig | None = None,
          device: str | None = None, progress: bool = False,
          store_path: str | os.PathLike | None = None) -> CheckReport:
    """Rerun ``config`` (default: the reference's matrix) and compare with ``reference``.

    With a models folder (``reference.models``) the explanations use those models; a
    model the folder lacks (its key changed: another suite version or model config) is
    trained and fails the check, since its scores would depend on this CPU. Each model
    is also trained afresh and its accuracy gated (:func:`compare_training`). Without a
    folder the models come from ``paths``' cache or are trained, as in ``suite run``.
    """
    config = config or reference.config()
    if reference.models is None:
        frame = run_scores(config, paths, device=device, progress=progress,
                           store_path=store_path)
        report = compare(frame, reference)
        report.findings.append(Finding(
            "*", "*", math.nan, None, True, "the reference has no models folder: its models "
            "were trained on this machine, so the scores can differ from another CPU's"))
        return report
    with tempfile.TemporaryDirectory(prefix="suite-check-models-") as tmp:
        missing = Path(tmp) / "explained"
        frame = run_scores(config, replace(paths, models=missing,
                                           model_references=(reference.models,)),
                           device=device, progress=progress, store_path=store_path)
        report = compare(frame, reference)
        for entry in _trained_entries(missing):
            report.findings.append(Finding(
                entry, "*", math.nan, None, False,
                f"model not in the reference's models ({reference.models}), so it was trained "
                "here; rewrite the reference with `suite check --write-reference`"))
        fresh = run_scores(replace(config, explainers={TRAINING_RUN_EXPLAINER: {}}),
                           replace(paths, models=Path(tmp) / "fresh", model_references=()),
                           device=device, progress=progress)
        report.findings.extend(compare_training(fresh, reference))
    return report
