"""Soft explanations normalised per instance, and their sparsity.

Shapes: ``M`` explained edges in ``B`` instances with ``ptr`` [B+1] offsets.
Scores enter under the attribution convention (``suite.metrics.auc.attribution_scores``:
absolute values for signed methods).
"""

from __future__ import annotations

import torch
from torch import Tensor


def soft_mask(scores: Tensor, ptr: Tensor) -> Tensor:
    """Per-instance normalisation of importance scores to a soft mask in [0, 1].

    For instance ``b`` with scores ``s_e``: when ``min_b s < 0`` the scores are
    first shifted, ``s_e <- s_e - min_b s`` (a score below zero cannot scale a
    message); then ``m_e = s_e / max_b s``. Non-negative scores are thus only
    divided by their instance maximum. An instance whose scores are all zero
    gets ``m = 0`` (it marks no edge as important).

    Args:
        scores: [M] float.
        ptr: [B+1] long offsets.

    Returns:
        [M] float in [0, 1], same dtype and device as ``scores``.
    """
    scores = torch.as_tensor(scores).detach().reshape(-1)
    if not torch.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf: cannot normalise them to a mask")
    ptr = torch.as_tensor(ptr, dtype=torch.long, device=scores.device).reshape(-1)
    if int(ptr[-1]) != scores.numel():
        raise ValueError(f"ptr[-1] must equal the number of scores {scores.numel()} (got {int(ptr[-1])})")
    b = ptr.numel() - 1
    inst = torch.repeat_interleave(torch.arange(b, device=scores.device), ptr.diff())
    zeros = scores.new_zeros(b)
    low = zeros.scatter_reduce(0, inst, scores, reduce="amin", include_self=False).clamp(max=0)
    shifted = scores - low[inst]
    high = zeros.scatter_reduce(0, inst, shifted, reduce="amax", include_self=False)
    denom = high[inst]
    return torch.where(denom > 0, shifted / denom.clamp(min=torch.finfo(scores.dtype).tiny),
                       torch.zeros_like(shifted))


def instance_sparsity(scores: Tensor, ptr: Tensor) -> Tensor:
    """Sparsity of each instance's soft explanation:

        sparsity_b = 1 - (1 / n_b) * sum_{e in b} m_e,      m = soft_mask(scores, ptr),

    i.e. one minus the mean of the scores divided by their instance maximum. 0 when
    every edge is scored equally (nothing singled out), ``1 - 1/n_b`` for a
    single non-zero edge, 1 for an all-zero explanation; scale-invariant.

    Args:
        scores: [M] float, under the attribution convention (abs for signed).
        ptr: [B+1] long offsets.

    Returns:
        [B] float64; NaN for instances without edges.
    """
    scores = torch.as_tensor(scores).detach().reshape(-1).double()
    ptr = torch.as_tensor(ptr, dtype=torch.long, device=scores.device).reshape(-1)
    mask = soft_mask(scores, ptr)
    b = ptr.numel() - 1
    inst = torch.repeat_interleave(torch.arange(b, device=scores.device), ptr.diff())
    total = scores.new_zeros(b).index_add_(0, inst, mask)
    counts = ptr.diff().double()
    return torch.where(counts > 0, 1.0 - total / counts.clamp(min=1),
                       torch.full_like(total, float("nan")))


def mean_sparsity(scores: Tensor, ptr: Tensor) -> float:
    """Mean of ``instance_sparsity`` over the instances that have edges (NaN if none)."""
    values = instance_sparsity(scores, ptr)
    values = values[~torch.isnan(values)]
    return float(values.mean()) if values.numel() else float("nan")
