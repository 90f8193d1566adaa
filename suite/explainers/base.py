"""The explainer plug-in kind: one protocol for every method.

``fit(model, dataset, ids)`` trains amortised methods (a no-op for the others);
``explain(model, dataset, ids)`` returns one ``Explanation`` for the whole batch
of instances. Hyper-parameters live on the instance (a validated config
dataclass), never on the class. ``supports`` runs before any compute and returns
the reason a cell cannot run, so the matrix skips it with that reason.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from torch import Tensor

from suite.core.config import build_config, config_dict
from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.models.base import GraphModel


@dataclass(frozen=True)
class ExplainerInfo:
    """Declarative metadata of a registered explainer."""

    name: str
    citation: str
    amortised: bool = False
    signed: bool = False
    task_levels: frozenset[TaskLevel] = frozenset({TaskLevel.NODE, TaskLevel.GRAPH})
    source: str = "suite"  # "suite" (ours), "pyg" (torch_geometric.explain), "baseline",
    # or "reference" (a faithful reference row: shown on the board, never ranked)
    description: str = ""


@dataclass
class NoConfig:
    """Config of an explainer without hyper-parameters."""


class Explainer(ABC):
    """Base class. Subclasses set ``info`` and ``Config`` (a dataclass)."""

    info: ClassVar[ExplainerInfo]
    Config: ClassVar[type] = NoConfig

    def __init__(self, **hparams: Any) -> None:
        self.config = build_config(self.Config, hparams, where=f"explainers.{self.info.name}")

    def hparams(self) -> dict[str, Any]:
        return config_dict(self.config) if dataclasses.is_dataclass(self.config) else {}

    def supports(self, model: GraphModel, dataset: BenchmarkDataset) -> str | None:
        """None when this explainer can explain ``model`` on ``dataset``, else the reason."""
        if dataset.task not in self.info.task_levels:
            return f"{self.info.name} does not explain {dataset.task.value}-level tasks"
        return None

    def fit(self, model: GraphModel, dataset: BenchmarkDataset, ids: Tensor, seed: int) -> None:
        """Train an amortised explainer on instances ``ids`` (default: nothing to fit)."""

    @abstractmethod
    def explain(self, model: GraphModel, dataset: BenchmarkDataset, ids: Tensor,
                seed: int) -> Explanation:
        """Explain instances ``ids`` [B] (node or graph ids) of ``dataset`` in one batch."""


ExplainerFactory = Callable[..., Explainer]

EXPLAINERS: Registry[ExplainerFactory] = Registry("explainer",
                                                  entry_point_group="suite.explainers")


def register_explainer(info: ExplainerInfo) -> Callable[[type[Explainer]], type[Explainer]]:
    """Class decorator: sets ``cls.info`` and registers the class under ``info.name``."""

    def decorator(cls: type[Explainer]) -> type[Explainer]:
        cls.info = info
        EXPLAINERS.add(info.name, cls, info=info)
        return cls

    return decorator


def build_explainer(name: str, **hparams: Any) -> Explainer:
    return EXPLAINERS.get(name)(**hparams)
