"""The training-mode plug-in kind: how the explained model is trained."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch

from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset
from suite.models.base import GraphModel


@dataclass(frozen=True)
class TrainingInfo:
    name: str
    citation: str
    description: str = ""


@dataclass
class TrainResult:
    """What training produced (the model's state is saved beside it by the runner).

    Attributes:
        accuracy: ``{"train", "val", "test"}`` accuracy of the selected model.
        best_epoch: epoch of the selected (best validation) model.
        epochs: epochs run.
        seconds: training wall time (s).
        items_per_second: training throughput: graphs/s (graph tasks) or labelled
            nodes/s (node tasks), forward+backward.
        extra: mode-specific numbers (e.g. robust accuracy).
    """

    accuracy: dict[str, float]
    best_epoch: int
    epochs: int
    seconds: float
    items_per_second: float
    extra: dict[str, float] = field(default_factory=dict)


class TrainingMode(ABC):
    """Trains a ``GraphModel`` in place on a dataset; deterministic for a seed."""

    info: ClassVar[TrainingInfo]

    @abstractmethod
    def train(self, model: GraphModel, dataset: BenchmarkDataset, seed: int,
              device: torch.device) -> TrainResult: ...

    def config(self) -> dict[str, Any]:
        """The mode's hyper-parameters as recorded with results."""
        return {}


TrainingFactory = Callable[..., TrainingMode]

TRAININGS: Registry[TrainingFactory] = Registry("training mode",
                                                entry_point_group="suite.trainings")


def register_training(info: TrainingInfo) -> Callable[[type[TrainingMode]], type[TrainingMode]]:
    def decorator(cls: type[TrainingMode]) -> type[TrainingMode]:
        cls.info = info
        TRAININGS.add(info.name, cls, info=info)
        return cls

    return decorator


def build_training(name: str, **config: Any) -> TrainingMode:
    return TRAININGS.get(name)(**config)
