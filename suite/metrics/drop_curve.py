"""Edges-dropped curves: the model's score as explained edges are removed, least important first.

GraphMask (Schlichtkrull et al., ICLR 2021) reports how many messages can be
dropped while the task score stays within a tolerance of the unmasked model. This
module makes that number comparable across explainers: every explainer's scores
order the edges, and the same removal schedule is applied to all of them.

For an instance ``b`` with ``n_b`` explained edges and a share ``q`` in [0, 1], the
``floor(q * n_b)`` lowest-scored edges of ``b`` are removed (mask 0, PyG's edge-mask
convention: messages scaled after normalisation); the scorer breaks ties by a key of
the seed, the instance and the endpoints (``suite.metrics.ties``), never by storage
order. The curve is the accuracy of the model on the explained
instances (against the dataset's labels) at every ``q`` of a grid.

Shapes: ``M`` explained edges, ``B`` instances, ``ptr`` [B+1] offsets, ``Q`` grid points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from suite.graph.subgraphs import InstanceBatch
from suite.metrics.perturb import masked_log_probs
from suite.metrics.ties import rank_within_instances

#: The shares of edges dropped at which the curve is measured (0, 0.05, ..., 1).
DROP_GRID: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))


def rank_within_instance(scores: Tensor, ptr: Tensor, keys: Tensor | None = None) -> Tensor:
    """[M] rank (0 = lowest score) of every edge among its instance's edges.

    Ties go by increasing ``keys`` [M] (``suite.metrics.ties.tie_break_keys``), or by
    edge order without keys (of two equal scores the earlier edge ranks lower).
    """
    counts = ptr.diff().to(scores.device)
    instance = torch.repeat_interleave(torch.arange(counts.numel(), device=scores.device), counts)
    if keys is None:
        keys = torch.arange(scores.numel(), device=scores.device)
    return rank_within_instances(instance, scores, keys.to(scores.device).reshape(-1),
                                 descending=False)


def drop_mask(scores: Tensor, ptr: Tensor, share: float, keys: Tensor | None = None) -> Tensor:
    """[M] float mask: 0 on the ``floor(share * n_b)`` lowest-scored edges of each instance
    (ties by ``keys``, see :func:`rank_within_instance`)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share: expected a value in [0, 1] (got {share})")
    counts = ptr.diff().to(scores.device)
    dropped = torch.floor(counts.double() * share + 1e-9).long()
    instance = torch.repeat_interleave(torch.arange(counts.numel(), device=scores.device), counts)
    keep = rank_within_instance(scores, ptr, keys) >= dropped[instance]
    return keep.to(scores.dtype if scores.is_floating_point() else torch.float32)


def dropped_within_tolerance(curve: Tensor | list[float], grid: tuple[float, ...] = DROP_GRID,
                             tolerance: float = 0.05) -> float:
    """The largest share ``q`` of the grid such that every point up to ``q`` keeps the score
    within ``tolerance`` (relative) of the unmasked score ``curve[0]``.

    ``|s(q') - s(0)| <= tolerance * s(0)`` must hold for all ``q' <= q`` (a prefix rule,
    so one lucky point late in the curve does not count). NaN for an empty curve or a
    zero unmasked score.
    """
    values = [float(v) for v in curve]
    if len(values) != len(grid):
        raise ValueError(f"curve has {len(values)} points for a grid of {len(grid)}")
    if not values or not values[0] > 0 or math.isnan(values[0]):
        return float("nan")
    best = grid[0]
    for share, value in zip(grid, values):
        if abs(value - values[0]) > tolerance * values[0]:
            break
        best = share
    return float(best)


def curve_area(curve: Tensor | list[float], grid: tuple[float, ...] = DROP_GRID) -> float:
    """Trapezoidal area under the curve over the grid (the grid spans [0, 1], so a mean)."""
    values = torch.as_tensor([float(v) for v in curve], dtype=torch.float64)
    shares = torch.as_tensor(grid, dtype=torch.float64)
    if values.numel() != shares.numel():
        raise ValueError(f"curve has {values.numel()} points for a grid of {shares.numel()}")
    return float(torch.trapezoid(values, shares))


def curve_column(share: float) -> str:
    """Store column of one curve point, e.g. ``curve_drop_acc_050`` for ``share = 0.5``."""
    return f"curve_drop_acc_{round(share * 100):03d}"


def drop_curve_score(model: nn.Module, view: InstanceBatch, scores: Tensor) -> float:
    """Mean over :data:`DROP_GRID` shares ``q`` of the probability of the model's own
    prediction when the ``floor(q n_b)`` lowest-scored edges of each instance are removed.

    ``scores`` [M_v] over the view's explainable edges. In [0, 1]; higher = the edges
    kept longest are the ones the prediction rests on. It reads only the edges'
    order, so an MLP that closes (or opens) every gate but keeps a useful order is
    not penalised, and no ground truth is used.
    """
    ptr = view.explained_edge_ptr().to(scores.device)
    yhat = masked_log_probs(model, view, None).argmax(dim=-1, keepdim=True)
    total = 0.0
    for share in DROP_GRID:
        mask = None if share == 0 else drop_mask(scores, ptr, share)
        total += float(masked_log_probs(model, view, mask).gather(1, yhat).exp().mean())
    return total / len(DROP_GRID)
