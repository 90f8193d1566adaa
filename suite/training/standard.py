"""The ``standard`` training mode: Adam with validation-based model selection."""

from __future__ import annotations

from typing import Any, Callable

import torch

from suite.core.config import build_config, config_dict
from suite.core.types import BenchmarkDataset
from suite.models.base import GraphModel
from suite.training.base import TrainingInfo, TrainingMode, TrainResult, register_training
from suite.training.loop import EpochRecord, TrainConfig, fit


@register_training(TrainingInfo(
    name="standard",
    citation="Kingma & Ba, Adam, ICLR 2015 (arXiv 1412.6980)",
    description="cross-entropy with Adam; node tasks full batch on the train nodes, graph "
                "tasks in shuffled mini-batches; keeps the best-validation-accuracy state "
                "(ties: lower validation loss, then the earlier epoch); early stopping on "
                "validation accuracy",
))
class StandardTraining(TrainingMode):
    """Plain supervised training; hyper-parameters are the fields of :class:`TrainConfig`.

    ``StandardTraining(lr=0.005, epochs=500)``; an unknown or invalid key raises
    ``ConfigError`` naming the field.
    """

    Config = TrainConfig

    def __init__(self, **config: Any) -> None:
        self.settings: TrainConfig = build_config(TrainConfig, config, where="training.standard")

    def config(self) -> dict[str, Any]:
        return config_dict(self.settings)

    def train(self, model: GraphModel, dataset: BenchmarkDataset, seed: int,
              device: torch.device | str = "cpu",
              callback: Callable[[EpochRecord], None] | None = None) -> TrainResult:
        """Train ``model`` in place (see :func:`suite.training.loop.fit`); ``callback``
        receives an :class:`EpochRecord` after every evaluation."""
        return fit(model, dataset, seed, device, self.settings, callback=callback)
