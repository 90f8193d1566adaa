"""Input augmentations applied to every training step (not to evaluation).

``drop_edges`` is DropEdge (Rong, Huang, Xu, Huang, ICLR 2020, arXiv 1907.10903): each
step trains on a random subgraph that keeps every undirected edge with probability
``1 - p``. Both directions of an edge are kept or dropped together, so an undirected
graph stays undirected, and per-edge tensors (``edge_attr``, ``edge_type``, ground-truth
masks) stay aligned with the kept edges.
"""

from __future__ import annotations

import torch
from torch import Tensor

from suite.models.base import GraphModel
from suite.training.edge_pairs import pair_keys
from suite.training.inputs import GraphInputs, InputTransform


def undirected_keep_mask(edge_index: Tensor, p: float, gen: torch.Generator) -> Tensor:
    """Bool [m]: True for the edges kept when each undirected edge {u, v} is dropped with
    probability ``p`` (its two directions share one draw). Draws from ``gen`` (on CPU)."""
    if edge_index.size(1) == 0:
        return torch.ones(0, dtype=torch.bool, device=edge_index.device)
    key = pair_keys(edge_index[0], edge_index[1], int(edge_index.max()) + 1, symmetric=True)
    pairs, inverse = torch.unique(key, return_inverse=True)
    keep_pair = torch.rand(pairs.numel(), generator=gen) >= p
    return keep_pair.to(edge_index.device)[inverse]


def drop_edges(p: float, gen: torch.Generator,
               then: "InputTransform | None" = None) -> "InputTransform":
    """The DropEdge step transform (see the module docstring); ``then`` (e.g. an
    adversarial attack) runs on the thinned inputs."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop_edge: must be in [0, 1) (got {p!r})")

    def transform(model: GraphModel, inputs: "GraphInputs", y: Tensor,
                  index: Tensor | None) -> "GraphInputs":
        keep = undirected_keep_mask(inputs.edge_index, p, gen)
        thinned = inputs.replace(edge_index=inputs.edge_index[:, keep], **inputs.edge_fields(keep))
        return thinned if then is None else then(model, thinned, y, index)

    return transform
