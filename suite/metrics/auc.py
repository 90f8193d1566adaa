"""Ranking metrics of explanation scores against ground-truth masks.

Shapes: ``M`` scored items (edges or nodes) pooled over ``B`` instances; a ragged
batch is described by ``ptr`` [B+1] offsets (instance ``b`` owns items
``ptr[b]:ptr[b+1]``). Scores are ranked, so any monotone transform leaves these
metrics unchanged; ties share the average rank (they count half in ROC-AUC).
"""

from __future__ import annotations

import torch
from torch import Tensor

from suite.core.types import Explanation


def _check(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    scores = torch.as_tensor(scores).detach().reshape(-1).cpu().double()
    labels = torch.as_tensor(labels).detach().reshape(-1).cpu()
    if scores.numel() != labels.numel():
        raise ValueError(f"scores ({scores.numel()}) and labels ({labels.numel()}) "
                         "must have the same number of entries")
    if torch.isnan(scores).any():
        raise ValueError("scores contain NaN: rank-based metrics are undefined")
    if labels.dtype != torch.bool:
        if not bool(((labels == 0) | (labels == 1)).all()):
            raise ValueError("labels must be boolean or 0/1")
        labels = labels.bool()
    return scores, labels


def _instance_index(ptr: Tensor) -> Tensor:
    """[B+1] offsets -> [M] instance position of every item."""
    counts = ptr.diff()
    if bool((counts < 0).any()):
        raise ValueError("ptr must be non-decreasing")
    return torch.repeat_interleave(torch.arange(counts.numel()), counts)


def per_instance_roc_auc(scores: Tensor, labels: Tensor, ptr: Tensor) -> Tensor:
    """ROC-AUC of each instance of a ragged batch, by the Mann-Whitney U statistic.

    Within instance ``b`` with ``P`` positives and ``N`` negatives, let ``r_i`` be
    the 1-based rank of item ``i`` by ascending score (tied scores share the mean
    of their ranks). Then

        AUC_b = (sum_{i positive} r_i - P (P + 1) / 2) / (P * N),

    the probability that a random positive outscores a random negative (ties
    count 1/2). Same value as ``sklearn.metrics.roc_auc_score``.

    Args:
        scores: [M] float scores, higher = more important.
        labels: [M] bool (or 0/1) ground truth.
        ptr: [B+1] long offsets of the instances in ``scores``.

    Returns:
        [B] float64; NaN where the instance lacks positives or negatives.
    """
    scores, labels = _check(scores, labels)
    ptr = torch.as_tensor(ptr, dtype=torch.long).reshape(-1).cpu()
    if int(ptr[0]) != 0 or int(ptr[-1]) != scores.numel():
        raise ValueError(f"ptr must run from 0 to {scores.numel()} (got {int(ptr[0])}..{int(ptr[-1])})")
    inst = _instance_index(ptr)
    b, m = ptr.numel() - 1, scores.numel()
    out = torch.full((b,), float("nan"), dtype=torch.float64)
    if m == 0:
        return out
    # order by (instance, score): a stable sort by score, then a stable sort by instance
    order = scores.argsort(stable=True)
    order = order[inst[order].argsort(stable=True)]
    s, i, y = scores[order], inst[order], labels[order]
    starts = torch.ones(m, dtype=torch.bool)
    starts[1:] = (s[1:] != s[:-1]) | (i[1:] != i[:-1])
    group = starts.cumsum(0) - 1
    first = torch.arange(m)[starts]
    size = torch.bincount(group).double()
    # the average 1-based rank of a tie group, counted from its instance's start
    group_rank = (first - ptr[i[first]]).double() + (size + 1) / 2
    rank = group_rank[group]
    y = y.double()
    n_pos = torch.zeros(b, dtype=torch.float64).index_add_(0, i, y)
    n_neg = ptr.diff().double() - n_pos
    rank_sum = torch.zeros(b, dtype=torch.float64).index_add_(0, i, rank * y)
    defined = (n_pos > 0) & (n_neg > 0)
    u = rank_sum - n_pos * (n_pos + 1) / 2
    out[defined] = u[defined] / (n_pos[defined] * n_neg[defined])
    return out


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    """Pooled ROC-AUC of ``scores`` [M] against ``labels`` [M] (Mann-Whitney U, ties averaged).

    AUC = (sum_{i positive} r_i - P (P + 1) / 2) / (P * N) with ``r_i`` the
    tie-averaged ascending ranks, ``P`` positives and ``N`` negatives. NaN when
    only one class is present.
    """
    scores, labels = _check(scores, labels)
    ptr = torch.tensor([0, scores.numel()])
    return float(per_instance_roc_auc(scores, labels, ptr)[0])


def average_precision(scores: Tensor, labels: Tensor) -> float:
    """Average precision of ``scores`` [M] against ``labels`` [M] (area under the PR steps).

    With thresholds at the distinct score values in decreasing order (tied scores
    enter together),

        AP = sum_n (R_n - R_{n-1}) * P_n,     R_0 = 0,

    where ``P_n`` and ``R_n`` are precision and recall of the items scored at or
    above the ``n``-th threshold: the definition of
    ``sklearn.metrics.average_precision_score``. NaN when there is no positive
    (sklearn returns 0 there, with a warning).
    """
    scores, labels = _check(scores, labels)
    n_pos = int(labels.sum())
    if n_pos == 0:
        return float("nan")
    order = scores.argsort(descending=True, stable=True)
    s, y = scores[order], labels[order].double()
    last = torch.ones(s.numel(), dtype=torch.bool)
    last[:-1] = s[1:] != s[:-1]  # the last item of each tie group closes a threshold
    tp = y.cumsum(0)[last]
    seen = torch.arange(1, s.numel() + 1, dtype=torch.float64)[last]
    precision = tp / seen
    recall = tp / n_pos
    steps = recall.diff(prepend=recall.new_zeros(1))
    return float((steps * precision).sum())


def attribution_scores(explanation: Explanation) -> Tensor:
    """[M] edge scores under the headline convention: ``|s_e|`` when signed, else ``s_e``.

    Signed attributions (gradients, Integrated Gradients) carry importance in
    their magnitude; their sign says which class an edge pushes towards.
    """
    scores = explanation.edge_scores.detach()
    return scores.abs() if explanation.signed else scores


def node_scores_from_edges(edge_index: Tensor, scores: Tensor,
                           ptr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Node scores derived from edge scores: the max score of each node's incident edges.

    For instance ``b``, every endpoint ``v`` of its explained edges gets
    ``score_b(v) = max {s_e : e explained in b, v = src(e) or v = dst(e)}``.

    Args:
        edge_index: [2, M] global endpoints of the explained edges.
        scores: [M] edge scores (already under the attribution convention).
        ptr: [B+1] edge offsets of the instances.

    Returns:
        ``(node_ids [K], node_ptr [B+1], node_scores [K])``: nodes sorted by
        instance, then id.
    """
    edge_index = torch.as_tensor(edge_index).cpu()
    scores = torch.as_tensor(scores).detach().cpu().double()
    ptr = torch.as_tensor(ptr, dtype=torch.long).cpu()
    inst = _instance_index(ptr)
    b = ptr.numel() - 1
    num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 1
    keys = torch.cat([inst * num_nodes + edge_index[0], inst * num_nodes + edge_index[1]])
    unique, inverse = torch.unique(keys, return_inverse=True)
    node_scores = torch.full((unique.numel(),), float("-inf"), dtype=torch.float64)
    node_scores = node_scores.scatter_reduce(0, inverse, torch.cat([scores, scores]), reduce="amax")
    counts = torch.bincount(unique // num_nodes, minlength=b)
    node_ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    return unique % num_nodes, node_ptr, node_scores
