"""The runner: cells of a matrix -> scores in the results store.

:func:`run_cell` is a pure function of one cell (no store access; picklable
inputs and outputs, so a remote executor can call it): load the dataset, train
or load the model, check the explainer supports it, pick the explained
instances, fit (amortised methods) and explain, validate the explanation, score
it. Whatever a cell raises is caught and returned as a failed outcome, with the
error and its last frame; Ctrl-C (``KeyboardInterrupt``) is never caught.

:func:`run_matrix` expands a matrix, skips cells already done in the store
(resume), runs the rest through an executor (``local``: one after another in
this process; ``ray``: Ray tasks, :mod:`suite.ray_executor`) and records each
outcome in its own transaction as it arrives. On Ctrl-C the run is marked
interrupted and the interrupt re-raised; every finished cell is already
committed. Cells an executor lost (a dead Ray worker) stay pending: the run is
marked interrupted and a rerun finishes them.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from suite.datasets import DatasetUnavailable, load_dataset
from suite.environment import environment_record
from suite.explainers.base import build_explainer
from suite.core.records import InstanceRecords
from suite.matrix import Cell, CellOutcome, CellStatus, MatrixConfig, cell_labels, expand, load_matrix
from suite.metrics import MetricContext, score_all
from suite.metrics.auc import attribution_scores
from suite.metrics.scorers import gt_edge_labels
from suite.protocol import (Floor, FloorMetric, ModelQuality, explain_candidates, fit_instances,
                            predictions_of, quality_from, select_instances, split_predictions)
from suite.models.base import GraphModel
from suite.paths import Paths
from suite.registry import Registry
from suite.seeding import seed_everything
from suite.store import ResultsStore, RunStatus, utc_now
from suite.subgraphs import instance_batch
from suite.training import ModelCache, TrainResult, train_or_load
from suite.types import BenchmarkDataset, TaskLevel

log = logging.getLogger(__name__)

#: Score columns that measure time (they differ between otherwise identical runs).
TIMING_COLUMNS = ("explanations_per_s", "explain_seconds", "fit_seconds", "train_items_per_s",
                  "train_seconds")


# --------------------------------------------------------------------------- memo


class LRUMemo:
    """A small least-recently-used cache: ``get_or_make(key, make)``."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size: must be >= 1 (got {size})")
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()

    def get_or_make(self, key: str, make: Callable[[], Any]) -> Any:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class RunMemo:
    """Datasets and trained models kept in memory between cells of one process.

    Keyed by ``Cell.dataset_key`` and ``Cell.model_key``, so consecutive cells that
    share a model neither reload nor retrain it. Each cell receives its own deep
    copy of the model, so nothing an explainer leaves behind reaches the next cell.
    """

    datasets: LRUMemo = field(default_factory=lambda: LRUMemo(4))
    models: LRUMemo = field(default_factory=lambda: LRUMemo(8))


# --------------------------------------------------------------------------- one cell


def error_text(exc: BaseException) -> str:
    """``"Type: first line of the message"`` plus the last frame on a second line."""
    message = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = "/".join(Path(last.filename).parts[-2:])
        text += f"\n  at {where}:{last.lineno} in {last.name}"
    return text


#: Keys of ``TrainResult.extra`` copied into a cell's scores.
ROBUST_KEYS: tuple[str, ...] = ("robust_acc_test", "robust_acc_val")


def _model_scores(result: TrainResult, quality: ModelQuality, floor: Floor) -> dict[str, float]:
    acc = {split: float(result.accuracy.get(split, math.nan)) for split in ("train", "val", "test")}
    return {
        "model_acc_train": acc["train"],
        "model_acc_val": acc["val"],
        "model_acc_test": acc["test"],
        "model_bal_acc_test": quality.balanced_accuracy,
        "model_majority_test": quality.majority,
        "model_acc_ground_truth": quality.ground_truth_recall,
        "model_gt_instances": float(quality.ground_truth_instances),
        "model_floor": floor.value,
        "train_items_per_s": float(result.items_per_second),
        "train_seconds": float(result.seconds),
        "below_accuracy_floor": float(bool(quality.below(floor))),
        # training modes that measure robustness (adv-features, adv-structure) report it
        **{key: float(result.extra[key]) for key in ROBUST_KEYS if key in result.extra},
    }


def _trained_model(cell: Cell, dataset: BenchmarkDataset, paths: Paths, device: str,
                   memo: RunMemo) -> tuple[GraphModel, TrainResult]:
    def make() -> tuple[GraphModel, TrainResult]:
        model, result, _cached = train_or_load(
            cell.model, cell.model_hparams, cell.training, cell.training_config, dataset,
            dataset_params=dataset.params or {"seed": cell.seed, **cell.dataset_params},
            seed=cell.seed, device=device, cache=ModelCache.for_paths(paths))
        return model, result

    model, result = memo.models.get_or_make(f"{cell.model_key}@{device}", make)
    return copy.deepcopy(model).eval(), result


def run_cell(cell: Cell, paths: Paths, device: str | torch.device | None = None,
             memo: RunMemo | None = None) -> CellOutcome:
    """Run one cell and return its outcome (done, failed or skipped); never touches a store.

    ``device`` overrides ``cell.device`` (e.g. the GPU an executor assigned);
    ``memo`` keeps datasets and models between calls (a fresh one when None).
    Scores: every registered metric (``suite.metrics.score_all``) plus
    ``model_acc_train/val/test``, ``model_bal_acc_test``, ``model_majority_test``,
    ``model_acc_ground_truth`` (accuracy on the ``model_gt_instances`` test instances with
    ground truth),
    ``model_floor``, ``train_items_per_s``, ``train_seconds``, ``below_accuracy_floor``
    (1.0 when the model is below its floor, ``suite.protocol``), ``group_n`` (the
    instances of the cell's comparison group) and ``explained_accuracy`` (the model's
    accuracy on the explained instances). A done outcome carries its per-instance
    records. A model with no candidate instance (it predicts none correctly) skips the cell.
    """
    memo = memo or RunMemo()
    device = str(device or cell.device)
    started, clock = utc_now(), time.perf_counter()
    labels: dict[str, str] = {}
    status, error, scores, n_instances = CellStatus.FAILED, "", {}, 0
    records: InstanceRecords | None = None
    try:
        labels = cell_labels(cell)
        seed_everything(cell.seed)
        dataset = memo.datasets.get_or_make(cell.dataset_key, lambda: load_dataset(
            cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache, **cell.dataset_params))
        model, result = _trained_model(cell, dataset, paths, device, memo)
        explainer = build_explainer(cell.explainer, **cell.explainer_hparams)
        reason = explainer.supports(model, dataset)
        if reason:
            status, error = CellStatus.SKIPPED, reason
        else:
            scored = _explain_and_score(cell, dataset, model, result, explainer,
                                        torch.device(device))
            if isinstance(scored, str):
                status, error = CellStatus.SKIPPED, scored
            else:
                scores, records = scored
                n_instances, status = records.num_instances, CellStatus.DONE
    except DatasetUnavailable as exc:  # no network and no mirror: skipped with its one-line reason
        status, error, scores = CellStatus.SKIPPED, str(exc).strip().splitlines()[0], {}
    except Exception as exc:  # a failing cell is recorded, the run goes on
        status, error, scores = CellStatus.FAILED, error_text(exc), {}
        log.warning("cell %s failed: %s", cell.label, error)
    return CellOutcome(cell=cell, status=status, scores=scores, error=error,
                       n_instances=n_instances, started_at=started, finished_at=utc_now(),
                       seconds=time.perf_counter() - clock, instances=records, **labels)


def _explain_and_score(cell: Cell, dataset: BenchmarkDataset, model: GraphModel,
                       result: TrainResult, explainer: Any,
                       device: torch.device) -> tuple[dict[str, float], InstanceRecords] | str:
    """Scores and per-instance records of one cell, or the reason it is skipped."""
    floor = Floor(cell.accuracy_floor, FloorMetric(cell.floor_metric))
    predicted = split_predictions(model, dataset, device)
    quality = quality_from(dataset, predicted)
    candidates = dataset.explain_ids["test"]
    pool = explain_candidates(dataset, predictions_of(dataset, predicted["test"], candidates),
                              cell.instance_set)
    if pool.numel() == 0:
        return (f"no test instance to explain under instances={cell.instance_set} (the model "
                f"predicts none of the {candidates.numel()} candidates correctly)")
    group_n = min(cell.group_instances or cell.max_instances, int(pool.numel()))
    ids = select_instances(pool, min(cell.max_instances, group_n), cell.seed)
    seed_everything(cell.seed)  # the same state whether the model was trained, loaded or memoised
    start = time.perf_counter()
    explainer.fit(model, dataset, fit_instances(dataset), cell.seed)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    explanation = explainer.explain(model, dataset, ids, cell.seed)
    explain_seconds = time.perf_counter() - start
    explanation.validate()
    if not torch.equal(explanation.instance_ids.cpu().long(), ids):
        raise ValueError(f"explainer {cell.explainer} returned explanations of other instances "
                         f"than the {ids.numel()} it was asked for")
    if explanation.seconds <= 0:
        explanation.seconds = explain_seconds
    if explanation.fit_seconds <= 0:
        explanation.fit_seconds = fit_seconds
    batch = instance_batch(dataset, ids, model.num_layers).to(device)
    ctx = MetricContext(model=model, dataset=dataset, explanation=explanation, batch=batch,
                        device=device, options=dict(cell.metric_options))
    scores = score_all(ctx)
    scores.update(_model_scores(result, quality, floor))
    correct = predictions_of(dataset, predicted["test"], ids) == dataset.y[ids]
    scores["group_n"] = float(group_n)
    scores["explained_accuracy"] = int(correct.sum()) / correct.numel()
    return scores, instance_records(ctx)


def instance_records(ctx: MetricContext) -> InstanceRecords:
    """The per-instance records of a scored cell (``suite.core.records``)."""
    expl = ctx.explanation
    labels = gt_edge_labels(ctx)
    return InstanceRecords(
        instance_ids=expl.instance_ids.cpu().numpy(), edge_ptr=expl.edge_ptr.cpu().numpy(),
        edge_scores=attribution_scores(expl).detach().cpu().float().numpy(),
        edge_labels=None if labels is None else labels.numpy(),
        values={name: v.detach().cpu().double().numpy() for name, v in ctx.per_instance.items()})


# --------------------------------------------------------------------------- executors

#: ``executor(cells, paths, on_start, **options) -> outcomes`` in any order; ``on_start(cell)``
#: is called when a cell begins or arrives (for the progress bar); ``options`` are the
#: executor's own keyword options (``run_matrix(executor_options=...)``). A cell it
#: cannot finish (its worker died) is simply not yielded: it stays pending.
Executor = Callable[[Sequence[Cell], Paths, Callable[[Cell], None]], Iterator[CellOutcome]]

EXECUTORS: Registry[Executor] = Registry("executor", entry_point_group="suite.executors")


@EXECUTORS.register("local", description="cells one after another in this process")
def local_executor(cells: Sequence[Cell], paths: Paths,
                   on_start: Callable[[Cell], None]) -> Iterator[CellOutcome]:
    memo = RunMemo()
    for cell in cells:
        on_start(cell)
        yield run_cell(cell, paths, memo=memo)


# --------------------------------------------------------------------------- a matrix


@dataclass
class RunSummary:
    """What one ``run_matrix`` call did.

    Attributes:
        run_id: the run's id in the store.
        matrix: the matrix name.
        total: cells in the matrix, skipped combinations included.
        already_done: cells skipped because the store had them (resume).
        done, failed, skipped: outcomes of this call (``skipped`` counts both the
            combinations refused from metadata and cells refused by ``supports``).
        seconds: wall time (s).
        failures: ``(cell label, error)`` of the failed cells.
        skips: ``(cell label, reason)`` of the skipped cells.
    """

    run_id: str
    matrix: str
    total: int
    already_done: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcome: CellOutcome) -> None:
        status = CellStatus(outcome.status)
        if status == CellStatus.DONE:
            self.done += 1
        elif status == CellStatus.FAILED:
            self.failed += 1
            self.failures.append((outcome.cell.label, outcome.error))
        else:
            self.skipped += 1
            self.skips.append((outcome.cell.label, outcome.error))

    def text(self) -> str:
        """A few lines for the terminal: counts, then each failure and skip reason."""
        lines = [f"run {self.run_id} ({self.matrix}): {self.done} done, {self.failed} failed, "
                 f"{self.skipped} skipped, {self.already_done} already in the store "
                 f"({self.total} cells, {self.seconds:.1f} s)"]
        if self.pending:
            lines.append(f"  {self.pending} cell(s) lost by the executor are still pending: "
                         "rerun the same command to finish them")
        lines += [f"  failed  {label}: {error.splitlines()[0]}" for label, error in self.failures]
        lines += [f"  skipped {label}: {reason}" for label, reason in self.skips]
        return "\n".join(lines)


def _skipped_outcome(cell: Cell, reason: str) -> CellOutcome:
    now = utc_now()
    return CellOutcome(cell=cell, status=CellStatus.SKIPPED, error=reason, started_at=now,
                       finished_at=now, **cell_labels(cell))


def run_matrix(config: MatrixConfig | str | os.PathLike, store: ResultsStore,
               paths: Paths | None = None, device: str | None = None, progress: bool = True,
               executor: str = "local", only_missing: bool = True,
               executor_options: Mapping[str, Any] | None = None) -> RunSummary:
    """Run every cell of ``config`` not yet done in ``store``; record each as it finishes.

    Args:
        config: a ``MatrixConfig``, or a preset name or YAML path for ``load_matrix``.
        store: where outcomes go (one transaction per cell).
        paths: caches (default ``Paths.from_env()``).
        device: overrides the matrix's device (cells, and so keys, change with it).
        progress: show a progress bar over cells.
        executor: a registered executor name (``local``, ``ray``).
        executor_options: keyword options of that executor (``ray``: ``address``,
            ``num_cpus``, ``threads``, ``plugins``, ``gpus_per_cell``).
        only_missing: skip cells whose key the store holds as done or skipped
            (failed cells are retried); False reruns everything.

    Raises ``KeyboardInterrupt`` after marking the run interrupted.
    """
    if not isinstance(config, MatrixConfig):
        config = load_matrix(config)
    if device is not None:
        config = config.with_device(device)
    paths = paths or Paths.from_env()
    execute = EXECUTORS.get(executor)
    cells, skipped = expand(config)
    environment = environment_record(config.device)
    environment["executor"] = {"name": executor, **{
        key: value for key, value in dict(executor_options or {}).items() if key != "plugins"}}
    run_id = store.start_run(config, environment)
    summary = RunSummary(run_id=run_id, matrix=config.name, total=len(cells) + len(skipped))
    done = store.done_keys() if only_missing else set()
    clock = time.perf_counter()
    bar = tqdm(total=len(cells) + len(skipped), desc=config.name, unit="cell",
               disable=not progress, dynamic_ncols=True)
    try:
        for cell, reason in skipped:
            if cell.key in done:
                summary.already_done += 1
            else:
                outcome = _skipped_outcome(cell, reason)
                store.record_cell(run_id, outcome)
                summary.add(outcome)
            bar.update()
        todo = [cell for cell in cells if cell.key not in done]
        summary.already_done += len(cells) - len(todo)
        bar.update(len(cells) - len(todo))

        def on_start(cell: Cell) -> None:
            bar.set_postfix_str(f"{cell.dataset}/{cell.model}/{cell.explainer}", refresh=False)

        arrived = 0
        for outcome in execute(todo, paths, on_start, **dict(executor_options or {})):
            store.record_cell(run_id, outcome)
            summary.add(outcome)
            arrived += 1
            bar.update()
        summary.pending = len(todo) - arrived
    except BaseException:
        summary.seconds = time.perf_counter() - clock
        store.finish_run(run_id, RunStatus.INTERRUPTED)
        raise
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - clock
    store.finish_run(run_id, RunStatus.INTERRUPTED if summary.pending else RunStatus.FINISHED)
    return summary


# the other executors register themselves; Ray is imported only when it runs
import suite.process_executor  # noqa: E402,F401
import suite.ray_executor  # noqa: E402,F401
