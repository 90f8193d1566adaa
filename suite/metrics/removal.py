"""Deletion and insertion curves by real edge removal (faithfulness, not plausibility).

For each explained instance, its explainable edges are grouped into undirected pairs (an
edge and its reverse in the same instance count as one pair, removed together) and the
pairs are ordered by score, highest first (a pair scores the larger of its two
directions). At each share ``q`` of the grid 0, 0.05, ..., 1, the first ``floor(q P_b)``
of the instance's ``P_b`` pairs are

- **deleted**: removed from the graph (deletion curve; necessity), or
- **kept alone**: every other explainable pair removed (insertion curve; sufficiency),

and the model is rerun on the instance's computation subgraph with those edges gone, so
degree normalisations are recomputed (unlike message scaling). Each point is the
probability of the model's original (unmasked) prediction. A curve's area is its
trapezoidal integral over the grid: a faithful explanation has a low deletion area and a
high insertion area.

Ties in the scores are broken by a key that depends only on the seed, the instance and
the pair's endpoints (global node ids), never on the edges' storage order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from suite.graph.subgraphs import InstanceBatch
from suite.metrics.drop_curve import DROP_GRID

#: Shares of each instance's explainable pairs removed (deletion) or kept (insertion).
REMOVAL_GRID: tuple[float, ...] = DROP_GRID

_HASH_MODULUS = 2_147_483_647  # 2^31 - 1: every step's product stays below 2^62
_HASH_FACTOR = 1_000_003


@dataclass(frozen=True)
class RemovalCurves:
    """Per-instance curves and their areas.

    Attributes:
        deletion, insertion: [B, G] probability of the original prediction at each share.
        deletion_area, insertion_area: [B] trapezoidal areas over the grid (in [0, 1]).
    """

    deletion: Tensor
    insertion: Tensor
    deletion_area: Tensor
    insertion_area: Tensor


def tie_break_keys(first: Tensor, second: Tensor, instance: Tensor, seed: int = 0) -> Tensor:
    """[P] int64 keys from the pairs' endpoints (unordered) and instances: a pure function of
    the values, so reordering the pairs reorders the keys with them."""
    low, high = torch.minimum(first, second), torch.maximum(first, second)
    key = torch.full_like(low, int(seed) % _HASH_MODULUS)
    for value in (instance, low, high):
        key = (key * _HASH_FACTOR + value.long() % _HASH_MODULUS) % _HASH_MODULUS
    return key


def rank_within_instances(instance: Tensor, score: Tensor, key: Tensor) -> Tensor:
    """[P] position of each pair in its instance's order: score descending, then key."""
    order = torch.argsort(key, stable=True)
    order = order[torch.argsort(-score[order], stable=True)]
    order = order[torch.argsort(instance[order], stable=True)]
    rank = torch.empty_like(order)
    counts = torch.bincount(instance, minlength=int(instance.max()) + 1 if instance.numel() else 0)
    starts = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
    rank[order] = torch.arange(order.numel(), device=order.device) - starts[instance[order]]
    return rank


def _pairs(batch: InstanceBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(pair [M_v] of each explainable edge, its instance [P], global endpoints [P], [P])."""
    ei = batch.edge_index[:, batch.explainable]
    inst = batch.edge_instance[batch.explainable]
    u, v = batch.node_ids[ei[0]], batch.node_ids[ei[1]]
    triples = torch.stack([inst, torch.minimum(u, v), torch.maximum(u, v)], dim=1)
    unique, pair = torch.unique(triples, dim=0, return_inverse=True)
    return pair, unique[:, 0], unique[:, 1], unique[:, 2]


@torch.no_grad()
def _probabilities(model: nn.Module, batch: InstanceBatch, keep: Tensor) -> Tensor:
    """[B, C] class probabilities with only the edges ``keep`` [m] (bool) in the graph."""
    kwargs = batch.model_kwargs()
    for name in ("edge_attr", "edge_type"):
        if name in kwargs:
            kwargs[name] = kwargs[name][keep]
    logits = model(batch.x, batch.edge_index[:, keep], **kwargs)
    return batch.select_outputs(logits).softmax(dim=-1)


def removal_curves(model: nn.Module, batch: InstanceBatch, scores: Tensor, seed: int = 0,
                   grid: tuple[float, ...] = REMOVAL_GRID) -> RemovalCurves:
    """Deletion and insertion curves of ``scores`` [M_v] (the batch's explainable edges, in
    order) for ``model`` in eval mode (restored after); see the module docstring."""
    device = batch.x.device
    scores = scores.detach().to(device=device, dtype=torch.float64).reshape(-1)
    if scores.numel() != batch.num_explainable:
        raise ValueError(f"scores: {scores.numel()} values for {batch.num_explainable} "
                         "explainable edges")
    pair, inst, first, second = _pairs(batch)
    pair_score = torch.full((inst.numel(),), -torch.inf, dtype=torch.float64, device=device)
    pair_score = pair_score.scatter_reduce(0, pair, scores, "amax")
    rank = rank_within_instances(inst, pair_score, tie_break_keys(first, second, inst, seed))
    per_instance = torch.bincount(inst, minlength=batch.num_instances)
    positions = torch.nonzero(batch.explainable).reshape(-1)
    was_training = model.training
    model.eval()
    try:
        full = torch.ones(batch.edge_index.size(1), dtype=torch.bool, device=device)
        predicted = _probabilities(model, batch, full).argmax(dim=-1, keepdim=True)
        curves: dict[str, list[Tensor]] = {"deletion": [], "insertion": []}
        for share in grid:
            count = torch.floor(share * per_instance.double() + 1e-9).long()
            top = (rank < count[inst])[pair]  # [M_v]: the edge's pair is among the first
            for name, removed in (("deletion", top), ("insertion", ~top)):
                keep = full.clone()
                keep[positions[removed]] = False
                probs = _probabilities(model, batch, keep)
                curves[name].append(probs.gather(1, predicted).squeeze(1).double())
    finally:
        model.train(was_training)
    deletion, insertion = (torch.stack(curves[n], dim=1) for n in ("deletion", "insertion"))
    x = torch.tensor(grid, dtype=torch.float64, device=device)
    return RemovalCurves(deletion, insertion, torch.trapezoid(deletion, x, dim=1),
                         torch.trapezoid(insertion, x, dim=1))
