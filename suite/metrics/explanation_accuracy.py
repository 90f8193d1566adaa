"""GraphXAI's graph explanation accuracy (GEA): Jaccard overlap of a thresholded
explanation with the ground truth (Agarwal et al., Sci. Data 2023, arXiv 2208.09339).

For one instance with importance scores ``s`` over its items (atoms, or edges),
a ground-truth set ``G`` and a predicted set ``P`` obtained by thresholding ``s``:

.. math::
    \\mathrm{GEA} = \\frac{|P \\cap G|}{|P \\cup G|} = \\frac{TP}{TP + FP + FN}

With several alternative ground truths ``G_1 .. G_A`` (a molecule that holds the
motif more than once) GraphXAI takes the best one: ``max_a J(P, G_a)``
(:func:`best_alternative_accuracy`).

Thresholds:

- :func:`relative_threshold_mask` is GraphXAI's node rule (``graph_exp_acc_graph``,
  ``node_thresh_factor`` 0.1): an item is predicted when its score is strictly
  above ``factor * max`` of its instance's scores (an all-zero instance predicts
  nothing);
- the suite's top-``k`` hard masks (:func:`~suite.metrics.fidelity.topk_mask`, ``k``
  = the instance's ground-truth size) give the threshold-free edge variant.

Shapes: ``B`` instances, ``M`` scored items with offsets ``ptr`` [B+1].
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

#: GraphXAI's default ``node_thresh_factor``: keep items scored above 10% of the instance maximum.
GRAPHXAI_FACTOR = 0.1


def _ptr(ptr: Tensor, m: int) -> Tensor:
    ptr = torch.as_tensor(ptr, dtype=torch.long).reshape(-1).cpu()
    if ptr.numel() < 1 or int(ptr[0]) != 0 or int(ptr[-1]) != m or bool((ptr.diff() < 0).any()):
        raise ValueError(f"ptr must be non-decreasing offsets from 0 to {m} (got {ptr.tolist()[:6]}...)")
    return ptr


def jaccard_per_instance(predicted: Tensor, truth: Tensor, ptr: Tensor) -> Tensor:
    """[B] float64 Jaccard index ``TP / (TP + FP + FN)`` of each instance's sets.

    Args:
        predicted: [M] bool, the thresholded explanation.
        truth: [M] bool, the ground truth.
        ptr: [B+1] long offsets of the instances.

    Returns:
        [B] float64 in [0, 1]; NaN where the instance has no ground truth (GEA is
        only defined against a ground truth; GraphXAI would return 0 there).
    """
    predicted = torch.as_tensor(predicted).reshape(-1).bool().cpu()
    truth = torch.as_tensor(truth).reshape(-1).bool().cpu()
    if predicted.shape != truth.shape:
        raise ValueError(f"predicted and truth must have the same shape (got {tuple(predicted.shape)} "
                         f"and {tuple(truth.shape)})")
    ptr = _ptr(ptr, truth.numel())
    b = ptr.numel() - 1
    inst = torch.repeat_interleave(torch.arange(b), ptr.diff())
    inter = torch.zeros(b, dtype=torch.float64).index_add_(0, inst, (predicted & truth).double())
    union = torch.zeros(b, dtype=torch.float64).index_add_(0, inst, (predicted | truth).double())
    gt = torch.zeros(b, dtype=torch.float64).index_add_(0, inst, truth.double())
    out = inter / union.clamp_min(1.0)
    return torch.where(gt > 0, out, torch.full_like(out, float("nan")))


def relative_threshold_mask(scores: Tensor, ptr: Tensor, factor: float = GRAPHXAI_FACTOR) -> Tensor:
    """[M] bool: ``s_i > factor * max_{j in b} s_j`` for every item ``i`` of instance ``b``.

    GraphXAI's thresholding of node importances; ``factor`` in [0, 1]. Scores are
    used as given (pass ``|s|`` for signed methods).
    """
    if not 0.0 <= float(factor) <= 1.0:
        raise ValueError(f"gea_factor: expected a number in [0, 1] (got {factor!r})")
    scores = torch.as_tensor(scores).detach().reshape(-1).double().cpu()
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN: the threshold is undefined")
    ptr = _ptr(ptr, scores.numel())
    b = ptr.numel() - 1
    inst = torch.repeat_interleave(torch.arange(b), ptr.diff())
    maxima = torch.full((b,), float("-inf"), dtype=torch.float64).scatter_reduce(
        0, inst, scores, reduce="amax")
    return scores > float(factor) * maxima[inst]


def graph_explanation_accuracy(scores: Tensor, truth: Tensor, ptr: Tensor,
                               factor: float = GRAPHXAI_FACTOR) -> Tensor:
    """[B] float64 GEA with GraphXAI's relative threshold (module docstring).

    ``jaccard_per_instance(relative_threshold_mask(scores, ptr, factor), truth, ptr)``.
    """
    return jaccard_per_instance(relative_threshold_mask(scores, ptr, factor), truth, ptr)


def best_alternative_accuracy(predicted: Tensor, alternatives: Sequence[Tensor]) -> float:
    """GraphXAI's GEA of one instance with several alternative ground truths: ``max_a J(P, G_a)``.

    Args:
        predicted: [n] bool, the thresholded explanation of one instance.
        alternatives: A >= 1 tensors [n] bool, each one alternative ground truth.

    Returns:
        The largest Jaccard index over the alternatives that are non-empty (NaN if none is).
    """
    if len(alternatives) == 0:
        raise ValueError("alternatives: need at least one ground truth")
    predicted = torch.as_tensor(predicted).reshape(-1).bool()
    ptr = torch.tensor([0, predicted.numel()])
    values = [float(jaccard_per_instance(predicted, torch.as_tensor(a).reshape(-1).bool(), ptr)[0])
              for a in alternatives]
    defined = [v for v in values if v == v]
    return max(defined) if defined else float("nan")


__all__ = ["GRAPHXAI_FACTOR", "best_alternative_accuracy", "graph_explanation_accuracy",
           "jaccard_per_instance", "relative_threshold_mask"]
