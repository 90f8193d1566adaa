"""The tensors of one model call (:class:`GraphInputs`) and the hook that may change them
before a training step's forward pass (:data:`InputTransform`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import torch
from torch import Tensor

from suite.models.base import GraphModel


@dataclass
class GraphInputs:
    """The tensors of one model call: ``model(x, edge_index, **inputs.kwargs())``.

    Attributes:
        x: [n, F] node features.
        edge_index: [2, m] edges (local to this input).
        batch: [n] graph position of each node (graph tasks), or None.
        edge_attr: [m, D] or None; edge_type: [m] long or None.
        gt_edge_mask: [m] bool ground-truth explanation edges, or None; gt_node_mask: [n]
            bool ground-truth nodes, or None. Never passed to the model: only an attack
            that protects the ground truth (``pgd-structure``, ``protect: ground-truth``)
            reads them.
    """

    x: Tensor
    edge_index: Tensor
    batch: Tensor | None = None
    edge_attr: Tensor | None = None
    edge_type: Tensor | None = None
    gt_edge_mask: Tensor | None = None
    gt_node_mask: Tensor | None = None

    def kwargs(self) -> dict[str, Tensor]:
        """The optional keyword arguments that are present."""
        names = ("batch", "edge_attr", "edge_type")
        return {k: getattr(self, k) for k in names if getattr(self, k) is not None}

    def replace(self, **changes: Any) -> "GraphInputs":
        """A copy with some tensors replaced (e.g. perturbed features)."""
        return replace(self, **changes)

    def edge_fields(self, edges: Tensor) -> dict[str, Tensor | None]:
        """The per-edge tensors (``edge_attr``, ``edge_type``, ``gt_edge_mask``) at
        ``edges`` (ids [k] or a bool mask [m]); absent ones stay None."""
        return {name: None if getattr(self, name) is None else getattr(self, name)[edges]
                for name in ("edge_attr", "edge_type", "gt_edge_mask")}

    def to(self, device: torch.device | str) -> "GraphInputs":
        return GraphInputs(**{k: (None if v is None else v.to(device))
                              for k, v in self.__dict__.items()})


def forward(model: GraphModel, inputs: GraphInputs) -> Tensor:
    """Raw logits of ``model`` on ``inputs``: [n, C] (node task) or [G, C] (graph task)."""
    return model(inputs.x, inputs.edge_index, **inputs.kwargs())


#: ``transform(model, inputs, y, index) -> inputs``: changes a step's inputs before the
#: forward pass (an adversarial attack, augmentation). ``y`` are the step's labels and
#: ``index`` the output rows they belong to (None: all rows, in order).
InputTransform = Callable[[GraphModel, GraphInputs, Tensor, "Tensor | None"], GraphInputs]
