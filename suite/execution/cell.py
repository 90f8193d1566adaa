"""One cell of a matrix -> its outcome: :func:`run_cell`, a pure function (no store access).

Picklable inputs and outputs, so a remote executor can call it: load the dataset, train
or load the model, check the explainer supports it, pick the explained instances
(:mod:`suite.protocol`), fit (amortised methods) and explain, validate the explanation,
score it. Whatever a cell raises is caught and returned as a failed outcome, with the
error and its last frame; Ctrl-C (``KeyboardInterrupt``) is never caught.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from suite.core.paths import Paths
from suite.core.records import InstanceRecords
from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset
from suite.datasets import DatasetUnavailable, load_dataset
from suite.explainers.base import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.matrix import Cell, CellOutcome, CellStatus, cell_labels
from suite.metrics import MetricContext, score_all
from suite.metrics.auc import attribution_scores
from suite.metrics.scorers import gt_edge_labels
from suite.models.base import GraphModel
from suite.protocol import (
    Floor,
    FloorMetric,
    ModelQuality,
    explain_candidates,
    fit_instances,
    predictions_of,
    quality_from,
    select_instances,
    split_predictions,
)
from suite.store.database import utc_now
from suite.training import ModelCache, TrainResult, train_or_load

log = logging.getLogger(__name__)

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


def trained_model(cell: Cell, dataset: BenchmarkDataset, paths: Paths, device: str,
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
        # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
        dataset = memo.datasets.get_or_make(cell.dataset_key, lambda: load_dataset(  # nosec B615
            cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache, **cell.dataset_params))
        model, result = trained_model(cell, dataset, paths, device, memo)
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
                        device=device, options=dict(cell.metric_options), seed=cell.seed)
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
