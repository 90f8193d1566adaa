"""Hyper-parameter selection for explainers on *validation* instances, without ground truth.

One hyper-parameter set per explainer for all datasets of a task level, chosen on
validation instances, never on test instances, and never by the ground truth: a
benchmark whose defaults are picked on ground-truth AUC measures its own choices.
:func:`tune` evaluates a grid of settings for one explainer on
``dataset.explain_ids["val"]`` of every dataset of one task level in a matrix, with
the matrix's models (trained or loaded through the same
:class:`~suite.training.ModelCache` as ``suite run``, so runs and tuning share
models), and picks the setting with the best mean *faithfulness* over datasets
(:data:`CRITERIA`: real edge removal, ``suite.metrics.removal``; each dataset's score
is the mean over the matrix's seeds and models). Ties go to the earlier setting in
the grid. Every explainer gets the same budget: a grid must have exactly ``trials``
settings (:data:`TRIALS` by default).

Grids live in ``suite/presets/tuning.yaml`` (explainer name -> task level -> list
of settings, each a mapping of hyper-parameters) or in a YAML file of the same
shape; ``suite tune`` is the command line.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.core.seeding import seed_everything
from suite.datasets import load_dataset
from suite.explainers.base import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.matrix import (
    ONLY_DATASETS_KEY,
    MatrixConfig,
    entry_within,
    expand,
    load_matrix,
    plugins,
)
from suite.metrics.auc import attribution_scores
from suite.metrics.base import METRICS, metric_info
from suite.metrics.removal import RemovalCurves, removal_curves
from suite.metrics.scorers import COLUMNS
from suite.protocol import fit_instances, select_instances
from suite.training import ModelCache, train_or_load

__all__ = ["CRITERIA", "TRIALS", "TuningResult", "check_criterion", "load_grid", "tune",
           "validation_score"]

Setting = dict[str, Any]

#: Settings every explainer's grid holds: the same tuning budget for every method.
TRIALS = 8

#: Ground-truth-free criteria (higher is better), each a per-instance function of the
#: removal curves (``suite.metrics.removal``).
CRITERIA: dict[str, tuple[str, Callable[[RemovalCurves], Any]]] = {
    "removal": ("insertion area minus deletion area (real edge removal; sufficiency and "
                "necessity together)", lambda c: c.insertion_area - c.deletion_area),
    "insertion": ("insertion area (real edge removal: the top edges alone keep the "
                  "prediction)", lambda c: c.insertion_area),
    "deletion": ("minus the deletion area (real edge removal: removing the top edges "
                 "loses the prediction)", lambda c: -c.deletion_area),
}

#: Names a user may try that read the ground truth (besides ground-truth metric columns).
_GROUND_TRUTH_NAMES = frozenset({"auc", "ground-truth", "ground_truth", "gt", "roc-auc"})


def check_criterion(name: str) -> str:
    """``name`` if it is one of :data:`CRITERIA`; a ground-truth score or anything else
    raises ``ConfigError`` naming the field and the known criteria."""
    known = ", ".join(CRITERIA)
    if name in CRITERIA:
        return name
    reads_truth = name in _GROUND_TRUTH_NAMES or (
        name in METRICS and metric_info(name).needs_ground_truth) or (
        name in COLUMNS and metric_info(COLUMNS[name].metric).needs_ground_truth)
    if reads_truth:
        raise ConfigError(f"criterion: {name!r} reads the ground truth, and the ground truth "
                          f"never chooses a hyper-parameter; choose one of {known}")
    raise ConfigError(f"criterion: expected one of {known} (got {name!r})")


@dataclass
class TuningResult:
    """What :func:`tune` measured.

    Attributes:
        explainer, task: what was tuned.
        settings: the grid, in order.
        datasets: the datasets, in order.
        scores: ``scores[i][dataset]`` = mean validation criterion of setting ``i``
            on ``dataset`` (over seeds and models; higher is better).
        seconds: ``seconds[i]`` = explain time of setting ``i`` summed over cells.
        best: index of the best setting (highest mean over datasets).
        n_instances: dataset -> validation instances explained per cell.
    """

    explainer: str
    task: str
    settings: list[Setting]
    datasets: list[str]
    scores: list[dict[str, float]]
    seconds: list[float] = field(default_factory=list)
    n_instances: dict[str, int] = field(default_factory=dict)
    matrix: str = ""
    seeds: tuple[int, ...] = ()
    models: list[str] = field(default_factory=list)
    criterion: str = "removal"

    def mean(self, i: int) -> float:
        values = [self.scores[i][d] for d in self.datasets]
        return float(sum(values) / len(values)) if values else math.nan

    @property
    def best(self) -> int:
        means = [self.mean(i) for i in range(len(self.settings))]
        return max(range(len(means)), key=lambda i: (not math.isnan(means[i]), means[i], -i))

    @property
    def best_setting(self) -> Setting:
        return dict(self.settings[self.best])

    def markdown(self) -> str:
        """The table (one row per setting, one column per dataset, then the mean)."""
        head = ["setting", *self.datasets, "mean", "explain s"]
        lines = [
            f"# Tuning {self.explainer} on {self.task}-level validation instances",
            "",
            f"Written by `suite tune --explainer {self.explainer} --task {self.task}`"
            f" (matrix `{self.matrix}`, seeds {list(self.seeds)}, models {', '.join(self.models)}).",
            f"Criterion `{self.criterion}`: {CRITERIA[self.criterion][0]}, mean over "
            "validation instances, seeds and models (higher is better); validation instances "
            "per cell: " + ", ".join(f"{d} {n}" for d, n in self.n_instances.items()) + ".",
            "Neither test instances nor the ground truth are read here. Best row in bold.",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for i, setting in enumerate(self.settings):
            text = ", ".join(f"{k}={v}" for k, v in setting.items()) or "(defaults)"
            cells = [text, *(f"{self.scores[i][d]:.3f}" for d in self.datasets),
                     f"{self.mean(i):.3f}", f"{self.seconds[i]:.1f}" if self.seconds else "-"]
            if i == self.best:
                cells = [f"**{c}**" for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", f"Best: `{self.best_setting}` (mean {self.mean(self.best):.3f})", ""]
        return "\n".join(lines)


def load_grid(explainer: str, task: str, path: str | Path | None = None) -> list[Setting]:
    """The grid of ``explainer`` for ``task`` from ``path`` or ``suite/presets/tuning.yaml``."""
    if path is None:
        text = resources.files("suite").joinpath("presets", "tuning.yaml").read_text()
        source = "suite/presets/tuning.yaml"
    else:
        text, source = Path(path).read_text(), str(path)
    raw = yaml.safe_load(text) or {}
    name = plugins().explainers.resolve(explainer)
    if not isinstance(raw, Mapping) or name not in raw:
        known = ", ".join(raw) if isinstance(raw, Mapping) else ""
        raise ConfigError(f"{source}: no grid for explainer {name!r} (grids: {known or 'none'})")
    by_task = raw[name]
    if not isinstance(by_task, Mapping) or task not in by_task:
        raise ConfigError(f"{source}: {name}: no grid for task level {task!r} (got {by_task!r})")
    grid = by_task[task]
    if not isinstance(grid, list) or not grid:
        raise ConfigError(f"{source}: {name}.{task}: expected a non-empty list of settings "
                          f"(got {grid!r})")
    for i, setting in enumerate(grid):
        if not isinstance(setting, Mapping):
            raise ConfigError(f"{source}: {name}.{task}[{i}]: expected a mapping (got {setting!r})")
    return [dict(s or {}) for s in grid]


def fit_and_explain(explainer: Any, model: Any, dataset: Any, ids: Any,
                    seed: int) -> tuple[Any, float]:
    """Seed, fit ``explainer`` on the dataset's fit instances, explain ``ids`` [B] and validate.

    Returns the explanation and the seconds fit plus explain took (wall time).
    """

    seed_everything(seed)
    start = time.perf_counter()
    explainer.fit(model, dataset, fit_instances(dataset), seed)
    explanation = explainer.explain(model, dataset, ids, seed)
    seconds = time.perf_counter() - start
    explanation.validate()
    return explanation, seconds


def validation_score(explainer: Any, model: Any, dataset: Any, seed: int, max_instances: int,
                     criterion: str = "removal") -> tuple[float, int, float]:
    """Mean ``criterion`` (:data:`CRITERIA`) of ``explainer`` on the validation instances.

    Returns ``(score, n_instances, seconds)``. Only ``dataset.explain_ids["val"]`` is
    explained and no ground truth is read; the explainer's ``fit`` sees the train split,
    as in a run.
    """

    per_instance = CRITERIA[check_criterion(criterion)][1]
    ids = select_instances(dataset.explain_ids["val"], max_instances, seed)
    if ids.numel() == 0:
        raise ValueError(f"dataset {dataset.name} has no validation instances to tune on")
    explanation, seconds = fit_and_explain(explainer, model, dataset, ids, seed)
    device = next(model.parameters()).device
    batch = instance_batch(dataset, ids, model.num_layers).to(device)
    curves = removal_curves(model, batch, attribution_scores(explanation).to(device), seed)
    return float(per_instance(curves).mean()), int(ids.numel()), seconds


def _within(params: Mapping[str, Any], datasets: Sequence[str]) -> dict[str, Any]:
    """A matrix entry restricted to ``datasets`` (:func:`suite.matrix.entry_within`); an
    ``only_datasets`` list that keeps none of them is an error (nothing would be tuned)."""
    out = entry_within(params, datasets)
    if out is None:
        raise ConfigError(f"{ONLY_DATASETS_KEY}: {', '.join(params[ONLY_DATASETS_KEY])}: none of "
                          f"them is among the datasets tuned on ({', '.join(datasets)})")
    return out


def tune(explainer: str, task: str, grid: Sequence[Mapping[str, Any]],
         matrix: MatrixConfig | str = "default", paths: Paths | None = None,
         datasets: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
         max_instances: int | None = None, criterion: str = "removal", trials: int = TRIALS,
         progress: Callable[[str], None] | None = None) -> TuningResult:
    """Score every setting of ``grid`` on validation instances; see the module docstring.

    Args:
        explainer: a registered explainer name.
        task: ``"node"`` or ``"graph"``: the datasets of ``matrix`` of that level are used.
        grid: settings (hyper-parameters over the explainer's defaults; the matrix's
            own parameters for the explainer are *not* applied, so the table shows
            what each setting means on its own).
        matrix: a ``MatrixConfig`` or preset name / YAML path (models, trainings,
            seeds, dataset parameters and ``max_instances`` come from it).
        paths: caches (default ``Paths.from_env()``); models under ``paths.model_cache``.
        datasets: restrict to these datasets of the matrix.
        seeds: override the matrix's seeds.
        max_instances: cap on validation instances per cell (default: the matrix's).
        criterion: one of :data:`CRITERIA` (a ground-truth score raises ``ConfigError``).
        trials: the budget: ``grid`` must hold exactly this many settings.
        progress: called with one line per evaluated cell.
    """

    if task not in ("node", "graph"):
        raise ConfigError(f"task: expected node or graph (got {task!r})")
    config = matrix if isinstance(matrix, MatrixConfig) else load_matrix(matrix)
    paths = paths or Paths.from_env()
    reg = plugins()
    name = reg.explainers.resolve(explainer)
    settings = [dict(s) for s in grid]
    if not settings:
        raise ConfigError("grid: expected at least one setting")
    check_criterion(criterion)
    if len(settings) != trials:
        raise ConfigError(f"grid: {len(settings)} settings, but every explainer gets the same "
                          f"budget of {trials} trials (trials / --trials)")
    for i, setting in enumerate(settings):  # validate every setting before any compute
        try:
            build_explainer(name, **setting)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"grid[{i}]: {exc}") from None
    chosen = [d for d in config.datasets
              if reg.datasets.entry(d).metadata["info"].task.value == task]
    if datasets is not None:
        wanted = [reg.datasets.resolve(d) for d in datasets]
        missing = [d for d in wanted if d not in config.datasets]
        if missing:
            raise ConfigError(f"datasets: {missing[0]!r} is not in matrix {config.name!r} "
                              f"(its {task}-level datasets: {', '.join(chosen) or 'none'})")
        chosen = [d for d in chosen if d in wanted]
    if not chosen:
        raise ConfigError(f"matrix {config.name!r} has no {task}-level datasets to tune on")
    info = reg.explainers.entry(name).metadata.get("info")
    levels = {getattr(t, "value", t) for t in getattr(info, "task_levels", (task,))}
    if task not in levels:
        raise ConfigError(f"explainer {name} does not explain {task}-level tasks")
    models = [m for m in config.models
              if task in {getattr(t, "value", t)
                          for t in reg.models.entry(m).metadata["info"].task_levels}]
    seeds = tuple(seeds) if seeds is not None else config.seeds
    cap = max_instances or config.max_instances
    cache = ModelCache.for_paths(paths)  # the committed reference models: the board's own
    # The matrix's own cells for this explainer, restricted to the chosen datasets,
    # models and seeds: the same expansion (parameters, by_dataset, only_datasets,
    # incompatibility skips) as ``suite run``; the explainer's settings come from the grid.
    scoped = dataclasses.replace(
        config, seeds=seeds, datasets={d: config.datasets[d] for d in chosen},
        models={m: _within(config.models[m], chosen) for m in models},
        trainings={t: _within(p, chosen) for t, p in config.trainings.items()},
        explainers={name: _within(config.explainers.get(name, {}), chosen)})
    cells, _skipped = expand(scoped)

    sums = [{d: 0.0 for d in chosen} for _ in settings]
    counts = [{d: 0 for d in chosen} for _ in settings]
    seconds = [0.0 for _ in settings]
    n_instances: dict[str, int] = {}
    loaded: tuple[tuple[str, int], Any] | None = None
    for cell in cells:
        if loaded is None or loaded[0] != (cell.dataset, cell.seed):
            loaded = ((cell.dataset, cell.seed),
                      # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
                      load_dataset(cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache,  # nosec B615
                                   **cell.dataset_params))
        dataset = loaded[1]
        model, _result, _cached = train_or_load(
            cell.model, cell.model_hparams, cell.training, cell.training_config, dataset,
            dataset_params=dataset.params or {"seed": cell.seed, **cell.dataset_params},
            seed=cell.seed, device=cell.device, cache=cache)
        model.eval()
        for i, setting in enumerate(settings):
            score, n, secs = validation_score(build_explainer(name, **setting), model,
                                              dataset, cell.seed, cap, criterion)
            sums[i][cell.dataset] += score
            counts[i][cell.dataset] += 1
            seconds[i] += secs
            n_instances[cell.dataset] = n
            if progress is not None:
                progress(f"{cell.dataset}/{cell.model}/seed{cell.seed} {setting}: "
                         f"val {criterion} {score:.3f} ({secs:.1f} s)")
    empty = [d for d in chosen if not counts[0][d]]
    if empty:
        raise ConfigError(f"matrix {config.name!r}: no {name} cell to tune on for "
                          f"{', '.join(empty)} (every model or training mode is skipped there)")
    scores = [{d: sums[i][d] / counts[i][d] for d in chosen} for i in range(len(settings))]
    return TuningResult(explainer=name, task=task, settings=settings, datasets=chosen,
                        scores=scores, seconds=seconds, n_instances=n_instances,
                        matrix=config.name, seeds=seeds, models=models, criterion=criterion)

