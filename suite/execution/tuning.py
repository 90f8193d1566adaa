"""Hyper-parameter selection for explainers on *validation* instances only.

The issue's rule: one hyper-parameter set per explainer for all datasets of a task
level, chosen on validation instances, never on test instances. :func:`tune`
evaluates a grid of settings for one explainer on ``dataset.explain_ids["val"]`` of
every dataset of one task level in a matrix, with the matrix's models (trained or
loaded through the same :class:`~suite.training.ModelCache` as ``suite run``, so
runs and tuning share models), and picks the setting with the highest mean edge
ROC-AUC over datasets (each dataset's score is the mean over the matrix's seeds
and models). Ties go to the earlier setting in the grid.

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
from suite.matrix import MatrixConfig, expand, load_matrix, plugins
from suite.metrics.auc import attribution_scores, roc_auc
from suite.protocol import fit_instances, select_instances
from suite.training import ModelCache, train_or_load

__all__ = ["TuningResult", "load_grid", "tune", "validation_auc"]

Setting = dict[str, Any]


@dataclass
class TuningResult:
    """What :func:`tune` measured.

    Attributes:
        explainer, task: what was tuned.
        settings: the grid, in order.
        datasets: the datasets, in order.
        scores: ``scores[i][dataset]`` = mean validation edge AUC of setting ``i``
            on ``dataset`` (over seeds and models).
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
            "Validation edge ROC-AUC (pooled, the headline convention), mean over seeds and "
            "models; validation instances per cell: "
            + ", ".join(f"{d} {n}" for d, n in self.n_instances.items()) + ".",
            "Test instances are never explained here. Best row in bold.",
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


def validation_auc(explainer: Any, model: Any, dataset: Any, seed: int,
                   max_instances: int) -> tuple[float, int, float]:
    """Pooled edge ROC-AUC of ``explainer`` on the validation explain instances.

    Returns ``(auc, n_instances, seconds)``. Only ``dataset.explain_ids["val"]`` is
    read; the explainer's ``fit`` sees the train split, as in a run.
    """

    ids = select_instances(dataset.explain_ids["val"], max_instances, seed)
    if ids.numel() == 0:
        raise ValueError(f"dataset {dataset.name} has no validation instances to tune on")
    explanation, seconds = fit_and_explain(explainer, model, dataset, ids, seed)
    if dataset.gt_edge_mask is None:
        raise ValueError(f"dataset {dataset.name} has no ground-truth edge mask to tune against")
    labels = dataset.gt_edge_mask.cpu()[explanation.edge_ids.cpu()]
    return roc_auc(attribution_scores(explanation).cpu(), labels), int(ids.numel()), seconds


def tune(explainer: str, task: str, grid: Sequence[Mapping[str, Any]],
         matrix: MatrixConfig | str = "default", paths: Paths | None = None,
         datasets: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
         max_instances: int | None = None,
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
    cache = ModelCache(paths.model_cache)
    # The matrix's own cells for this explainer, restricted to the chosen datasets,
    # models and seeds: the same expansion (parameters, by_dataset, only_datasets,
    # incompatibility skips) as ``suite run``; the explainer's settings come from the grid.
    scoped = dataclasses.replace(
        config, seeds=seeds, datasets={d: config.datasets[d] for d in chosen},
        models={m: config.models[m] for m in models},
        explainers={name: config.explainers.get(name, {})})
    cells, _skipped = expand(scoped)

    sums = [{d: 0.0 for d in chosen} for _ in settings]
    counts = [{d: 0 for d in chosen} for _ in settings]
    seconds = [0.0 for _ in settings]
    n_instances: dict[str, int] = {}
    loaded: tuple[tuple[str, int], Any] | None = None
    for cell in cells:
        if loaded is None or loaded[0] != (cell.dataset, cell.seed):
            loaded = ((cell.dataset, cell.seed),
                      load_dataset(cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache,
                                   **cell.dataset_params))
        dataset = loaded[1]
        model, _result, _cached = train_or_load(
            cell.model, cell.model_hparams, cell.training, cell.training_config, dataset,
            dataset_params=dataset.params or {"seed": cell.seed, **cell.dataset_params},
            seed=cell.seed, device=cell.device, cache=cache)
        model.eval()
        for i, setting in enumerate(settings):
            auc, n, secs = validation_auc(build_explainer(name, **setting), model,
                                          dataset, cell.seed, cap)
            sums[i][cell.dataset] += auc
            counts[i][cell.dataset] += 1
            seconds[i] += secs
            n_instances[cell.dataset] = n
            if progress is not None:
                progress(f"{cell.dataset}/{cell.model}/seed{cell.seed} {setting}: "
                         f"val AUC {auc:.3f} ({secs:.1f} s)")
    empty = [d for d in chosen if not counts[0][d]]
    if empty:
        raise ConfigError(f"matrix {config.name!r}: no {name} cell to tune on for "
                          f"{', '.join(empty)} (every model or training mode is skipped there)")
    scores = [{d: sums[i][d] / counts[i][d] for d in chosen} for i in range(len(settings))]
    return TuningResult(explainer=name, task=task, settings=settings, datasets=chosen,
                        scores=scores, seconds=seconds, n_instances=n_instances,
                        matrix=config.name, seeds=seeds, models=models)

