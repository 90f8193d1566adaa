"""The model plug-in kind: GNNs built from PyG ``MessagePassing`` layers.

Every model exposes ``embed`` (the vector its classifier reads: one per node for
node tasks, one per graph for graph tasks) and ``num_layers`` (message-passing
depth, which sets the computation subgraph). Explainers attach from outside by
message hooks (``suite.graph.masking``); models never import explainers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

from torch import Tensor, nn

from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset, TaskLevel


@dataclass(frozen=True)
class ModelInfo:
    """Declarative metadata of a registered model."""

    name: str
    citation: str
    task_levels: frozenset[TaskLevel] = frozenset({TaskLevel.NODE, TaskLevel.GRAPH})
    uses_edge_attr: bool = False
    uses_edge_type: bool = False
    requires_edge_type: bool = False  # defined only on typed edges: skipped on datasets without them
    description: str = ""


class GraphModel(nn.Module, ABC):
    """Base class: ``forward(x, edge_index, batch=None, edge_attr=None, edge_type=None)``.

    Shapes: ``x`` [N, F], ``edge_index`` [2, E], ``batch`` [N] graph id per node
    (graph tasks). ``forward`` returns raw logits [N, C] (node task) or [G, C].
    """

    task: TaskLevel
    num_layers: int

    @abstractmethod
    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        """The representation fed to the classifier: [N, H] or [G, H]."""

    @abstractmethod
    def classify(self, z: Tensor) -> Tensor:
        """Embedding [*, H] -> logits [*, C]."""

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
                edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        return self.classify(self.embed(x, edge_index, batch, edge_attr, edge_type))


#: A model factory builds an untrained model for a dataset from keyword hyper-parameters.
ModelFactory = Callable[..., GraphModel]

MODELS: Registry[ModelFactory] = Registry("model", entry_point_group="suite.models")


def register_model(info: ModelInfo) -> Callable[[ModelFactory], ModelFactory]:
    """Register ``factory(dataset: BenchmarkDataset, **hparams) -> GraphModel``."""
    return MODELS.register(info.name, info=info)


def model_info(name: str) -> ModelInfo:
    return MODELS.entry(name).metadata["info"]


def model_supports(name: str, dataset: BenchmarkDataset) -> str | None:
    """None when model ``name`` can run on ``dataset``, else the reason it cannot."""
    info = model_info(name)
    if dataset.task not in info.task_levels:
        return f"model {info.name} does not support {dataset.task.value}-level tasks"
    has_types = getattr(dataset.data, "edge_type", None) is not None
    return edge_type_incompatibility(info, dataset.name, has_types, dataset.info.needs_edge_types)


def edge_type_incompatibility(info: ModelInfo, dataset: str, has_edge_types: bool,
                              needs_edge_types: bool) -> str | None:
    """Why model ``info`` cannot run on ``dataset`` because of edge types (None: it can).

    ``has_edge_types``: the dataset carries ``edge_type``; ``needs_edge_types``: its
    labels depend on them (``DatasetInfo.needs_edge_types``), so a type-blind model
    could not learn it.
    """
    if info.requires_edge_type and not has_edge_types:
        return f"model {info.name} needs typed edges (dataset {dataset} has no edge types)"
    if needs_edge_types and not info.uses_edge_type:
        return f"model {info.name} ignores edge types, which dataset {dataset}'s labels depend on"
    return None


def build_model(name: str, dataset: BenchmarkDataset, **hparams: Any) -> GraphModel:
    """Instantiate registered model ``name`` for ``dataset``."""
    reason = model_supports(name, dataset)
    if reason:
        raise ValueError(reason)
    return MODELS.get(name)(dataset, **hparams)
