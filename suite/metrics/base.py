"""The metric plug-in kind: cell-level scorers built from pure metric functions.

The pure functions (``suite.metrics.auc``, ``fidelity``, ...) take tensors and
state their formula. A registered *scorer* turns one cell's explanation into
named numbers: ``scorer(ctx: MetricContext) -> dict[str, float]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset, Explanation
from suite.graph.subgraphs import InstanceBatch
from suite.models.base import GraphModel


@dataclass(frozen=True)
class MetricInfo:
    """Declarative metadata of a registered scorer and the columns it writes."""

    name: str
    description: str
    columns: tuple[str, ...]
    higher_is_better: bool = True
    needs_ground_truth: bool = False
    citation: str = ""


@dataclass
class MetricContext:
    """Everything a scorer may read for one cell (read-only).

    Attributes:
        model: the trained model, eval mode, on ``device``.
        dataset: the dataset.
        explanation: the explainer's output for ``batch.instance_ids``.
        batch: the instances' computation-subgraph union, on ``device``.
        device: where to run the model.
        options: metric options from the matrix config (e.g. ``{"topk": 6}``).
        seed: the cell's seed (keys the tie-breaks of edge rankings).
        per_instance: score name -> [B] per-instance values a scorer may leave for the
            cell's records (the board resamples instances from them).
    """

    model: GraphModel
    dataset: BenchmarkDataset
    explanation: Explanation
    batch: InstanceBatch
    device: torch.device
    options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    per_instance: dict[str, torch.Tensor] = field(default_factory=dict)


Scorer = Callable[[MetricContext], dict[str, float]]

METRICS: Registry[Scorer] = Registry("metric", entry_point_group="suite.metrics")


def register_metric(info: MetricInfo) -> Callable[[Scorer], Scorer]:
    return METRICS.register(info.name, info=info)


def metric_info(name: str) -> MetricInfo:
    return METRICS.entry(name).metadata["info"]
