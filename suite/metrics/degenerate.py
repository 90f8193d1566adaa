"""Degenerate explanations: scores that rank nothing, gates that decide nothing.

An explanation whose scores are constant over an instance orders none of its edges, so
its ground-truth AUC there is 0.5 by construction and its removal curves follow the
tie-break alone. A layer-wise fit (GraphMask) whose hard gates keep every edge, or drop
every edge, in a layer it scores has learned nothing about that layer. Such cells are
shown with the reason and never ranked, so a collapse is not read as an inversion.

- an instance is *constant* when ``max - min <= CONSTANT_TOL * max(1, |max|)`` over its
  explained edges' attribution scores;
- a cell is degenerate when at least :data:`CONSTANT_SHARE` of its instances are
  constant, or when some scored layer's hard gates are all open or all closed over
  every explained edge of the cell.

Both thresholds were fixed before any cell was scored with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor

#: Relative span under which an instance's scores count as constant.
CONSTANT_TOL = 1e-6

#: Share of constant instances from which a cell is degenerate.
CONSTANT_SHARE = 0.5


def constant_instances(scores: Tensor, ptr: Tensor) -> Tensor:
    """[B] bool: instance ``b``'s scores ``scores[ptr[b]:ptr[b+1]]`` are constant (see the
    module docstring); an instance without explained edges is not."""
    scores = torch.as_tensor(scores).detach().reshape(-1).double()
    ptr = torch.as_tensor(ptr, dtype=torch.long, device=scores.device).reshape(-1)
    counts = ptr.diff()
    b = counts.numel()
    if scores.numel() == 0:
        return torch.zeros(b, dtype=torch.bool, device=scores.device)
    inst = torch.repeat_interleave(torch.arange(b, device=scores.device), counts)
    high = torch.full((b,), -math.inf, dtype=torch.float64, device=scores.device)
    low = torch.full((b,), math.inf, dtype=torch.float64, device=scores.device)
    high = high.scatter_reduce(0, inst, scores, "amax")
    low = low.scatter_reduce(0, inst, scores, "amin")
    span_ok = (high - low) <= CONSTANT_TOL * torch.clamp(high.abs(), min=1.0)
    return span_ok & (counts > 0)


@dataclass(frozen=True)
class LayerDecisions:
    """Scored layers whose hard gates take one decision for every explained edge."""

    all_open: tuple[int, ...]
    all_closed: tuple[int, ...]


def uniform_layers(hard_gates: Tensor, scored: tuple[int, ...] | None = None) -> LayerDecisions:
    """Layers of ``hard_gates`` [L, M] (True = the message is kept) among ``scored`` (all
    ``L`` when None) whose gates are all True or all False (no decision when ``M = 0``)."""
    hard = torch.as_tensor(hard_gates).bool()
    layers = tuple(range(hard.size(0))) if scored is None else tuple(int(k) for k in scored)
    if hard.dim() != 2 or hard.size(1) == 0:
        return LayerDecisions((), ())
    return LayerDecisions(tuple(k for k in layers if bool(hard[k].all())),
                          tuple(k for k in layers if not bool(hard[k].any())))


def degenerate_reason(constant_share: float, open_layers: float = 0.0,
                      closed_layers: float = 0.0) -> str:
    """Why a cell is degenerate (empty when it is not), from its stored columns."""
    reasons = []
    if math.isfinite(constant_share) and constant_share >= CONSTANT_SHARE:
        reasons.append(f"scores constant on {constant_share:.0%} of the instances")
    if math.isfinite(closed_layers) and closed_layers > 0:
        reasons.append(f"gates drop every edge in {int(closed_layers)} scored layer(s)")
    if math.isfinite(open_layers) and open_layers > 0:
        reasons.append(f"gates keep every edge in {int(open_layers)} scored layer(s)")
    return "; ".join(reasons)


def row_reason(row: Mapping[str, float]) -> str:
    """:func:`degenerate_reason` of a store row (columns may be missing or NaN)."""
    def value(name: str) -> float:
        raw = row.get(name, math.nan)
        try:
            return float(raw)
        except (TypeError, ValueError):
            return math.nan
    return degenerate_reason(value("constant_share"), value("gates_open_layers"),
                             value("gates_closed_layers"))


__all__ = ["CONSTANT_SHARE", "CONSTANT_TOL", "LayerDecisions", "constant_instances",
           "degenerate_reason", "row_reason", "uniform_layers"]
