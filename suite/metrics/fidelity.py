"""Fidelity: how much the model's output depends on the explanation.

Conventions of GraphFramEx (Amara et al., LoG 2022, arXiv 2206.09677) and of
``torch_geometric.explain.metric``: ``fid+`` removes the explanation (keeps the
complement ``1 - m``) and measures the change, high = the explanation is
*necessary*; ``fid-`` keeps only the explanation (``m``), low = the explanation
is *sufficient*. Targets are the model's own predictions on the full graph
(PyG's "model" explanation type). Masked predictions come from
``suite.metrics.perturb``; these functions only compare them.

Shapes: ``B`` instances, ``C`` classes, ``M`` explained edges with ``ptr`` [B+1].
"""

from __future__ import annotations

import torch
from torch import Tensor

from suite.metrics.ties import rank_within_instances


def _target_probs(p: Tensor, target: Tensor, name: str) -> Tensor:
    if p.dim() != 2 or target.numel() != p.size(0):
        raise ValueError(f"{name} must be [B, C] with one target per row "
                         f"(got {tuple(p.shape)} and {target.numel()} targets)")
    return p.gather(1, target.view(-1, 1).to(p.device).long()).view(-1).double()


def fidelity_plus_prob(p_full: Tensor, p_removed: Tensor, target: Tensor) -> float:
    """Probability fidelity+: ``mean_b p_full[b, y_b] - p_removed[b, y_b]``.

    Args:
        p_full: [B, C] class probabilities on the full graph.
        p_removed: [B, C] probabilities with the explanation removed (mask ``1 - m``).
        target: [B] class ``y_b`` per instance (the model's full-graph prediction).

    Returns:
        A float in [-1, 1]; high = removing the explanation hurts the prediction.
    """
    full = _target_probs(p_full, target, "p_full")
    removed = _target_probs(p_removed, target, "p_removed")
    return float((full - removed).mean()) if full.numel() else float("nan")


def fidelity_minus_prob(p_full: Tensor, p_kept: Tensor, target: Tensor) -> float:
    """Probability fidelity-: ``mean_b p_full[b, y_b] - p_kept[b, y_b]``.

    Args:
        p_full: [B, C] class probabilities on the full graph.
        p_kept: [B, C] probabilities with only the explanation kept (mask ``m``).
        target: [B] class ``y_b`` per instance.

    Returns:
        A float in [-1, 1]; low (or negative) = the explanation alone suffices.
    """
    full = _target_probs(p_full, target, "p_full")
    kept = _target_probs(p_kept, target, "p_kept")
    return float((full - kept).mean()) if full.numel() else float("nan")


def _agreement(pred_full: Tensor, pred_masked: Tensor) -> float:
    pred_full, pred_masked = pred_full.reshape(-1), pred_masked.reshape(-1)
    if pred_full.numel() != pred_masked.numel():
        raise ValueError(f"predictions differ in length ({pred_full.numel()} vs {pred_masked.numel()})")
    if pred_full.numel() == 0:
        return float("nan")
    return float((pred_masked.to(pred_full.device) == pred_full).double().mean())


def fidelity_plus_acc(pred_full: Tensor, pred_removed: Tensor) -> float:
    """Accuracy fidelity+: ``1 - mean_b 1[pred_removed_b = pred_full_b]``.

    Args:
        pred_full: [B] predicted classes on the full graph.
        pred_removed: [B] predicted classes with the explanation removed.

    Returns:
        The share of instances whose prediction changes when the explanation is
        removed, in [0, 1] (PyG's ``fidelity`` for ``explanation_type="model"``).
    """
    return 1.0 - _agreement(pred_full, pred_removed)


def fidelity_minus_acc(pred_full: Tensor, pred_kept: Tensor) -> float:
    """Accuracy fidelity-: ``1 - mean_b 1[pred_kept_b = pred_full_b]``.

    Args:
        pred_full: [B] predicted classes on the full graph.
        pred_kept: [B] predicted classes with only the explanation kept.

    Returns:
        The share of instances whose prediction changes when only the
        explanation is kept, in [0, 1]; low = sufficient.
    """
    return 1.0 - _agreement(pred_full, pred_kept)


def characterization(fid_plus: float | Tensor, fid_minus: float | Tensor,
                     pos_weight: float = 0.5, neg_weight: float = 0.5) -> float | Tensor:
    """Characterization score, a weighted harmonic mean of ``fid+`` and ``1 - fid-``:

        charact = (w+ + w-) / (w+ / fid+  +  w- / (1 - fid-)).

    Nan-safe: it is 0 when ``fid+ = 0`` or ``fid- = 1`` (a zero component of a
    harmonic mean), NaN when an input is NaN or outside [0, 1]. Element-wise
    for tensors; a float for float inputs. With ``w+ + w- = 1`` it equals
    ``torch_geometric.explain.metric.characterization_score``.
    """
    if pos_weight < 0 or neg_weight < 0 or pos_weight + neg_weight <= 0:
        raise ValueError(f"pos_weight and neg_weight must be >= 0 with a positive sum "
                         f"(got {pos_weight} and {neg_weight})")
    as_float = not isinstance(fid_plus, Tensor) and not isinstance(fid_minus, Tensor)
    fp = torch.as_tensor(fid_plus, dtype=torch.float64)
    fm = torch.as_tensor(fid_minus, dtype=torch.float64)
    fp, fm = torch.broadcast_tensors(fp, fm)
    with torch.no_grad():
        denom = pos_weight / fp + neg_weight / (1.0 - fm)  # inf where a component is 0
        score = (pos_weight + neg_weight) / denom
        valid = (fp >= 0) & (fp <= 1) & (fm >= 0) & (fm <= 1)
        score = torch.where(valid, score, torch.full_like(score, float("nan")))
    return float(score) if as_float else score


def topk_sizes(edge_counts: Tensor, share: float = 0.1,
               gt_counts: Tensor | None = None) -> Tensor:
    """How many edges each instance's hard explanation keeps.

    ``k_b = gt_b`` when ground truth is given and ``gt_b > 0``, else
    ``k_b = ceil(share * n_b)`` with ``n_b`` the instance's explained edges.

    Args:
        edge_counts: [B] explained edges per instance.
        share: fraction of edges kept when there is no ground truth, in (0, 1].
        gt_counts: [B] ground-truth edges among each instance's explained edges, or None.

    Returns:
        [B] long.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"topk_share: must be in (0, 1] (got {share!r})")
    edge_counts = torch.as_tensor(edge_counts, dtype=torch.long)
    # round first so that e.g. 0.1 * 30 = 3.0000000000000004 gives 3, not 4
    k = torch.ceil(torch.round(share * edge_counts.double(), decimals=9)).long()
    if gt_counts is not None:
        gt_counts = torch.as_tensor(gt_counts, dtype=torch.long)
        k = torch.where(gt_counts > 0, gt_counts, k)
    return k


def topk_mask(scores: Tensor, ptr: Tensor, k: int | Tensor, keys: Tensor | None = None) -> Tensor:
    """Hard explanation: the ``k_b`` highest-scored edges of every instance.

    Within an instance, edges are ranked by decreasing score; equal scores are ordered
    by increasing ``keys`` (``suite.metrics.ties.tie_break_keys``: a function of the seed,
    the instance and the endpoints, so the mask does not depend on the edges' storage
    order), or by position (the earlier edge first) without keys. ``k_b`` is clipped to
    ``[0, n_b]``.

    Args:
        scores: [M] edge scores (higher = more important).
        ptr: [B+1] long offsets of the instances.
        k: an int for every instance, or [B] per instance.
        keys: [M] int64 tie-break keys, or None for positional ties.

    Returns:
        [M] bool, True on kept edges.
    """
    scores = torch.as_tensor(scores).detach().reshape(-1)
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN: top-k is undefined")
    ptr = torch.as_tensor(ptr, dtype=torch.long, device=scores.device).reshape(-1)
    if int(ptr[-1]) != scores.numel():
        raise ValueError(f"ptr[-1] must equal the number of scores {scores.numel()} (got {int(ptr[-1])})")
    counts = ptr.diff()
    b = counts.numel()
    inst = torch.repeat_interleave(torch.arange(b, device=scores.device), counts)
    k = torch.as_tensor(k, dtype=torch.long, device=scores.device)
    k = k.expand(b) if k.dim() == 0 else k.reshape(-1)
    if k.numel() != b:
        raise ValueError(f"k must be an int or have one entry per instance ({b}) (got {k.numel()})")
    if keys is None:
        keys = torch.arange(scores.numel(), device=scores.device)
    elif keys.numel() != scores.numel():
        raise ValueError(f"keys: {keys.numel()} values for {scores.numel()} scores")
    rank = rank_within_instances(inst, scores, keys.to(scores.device).reshape(-1))
    return rank < k.clamp(min=0)[inst]
