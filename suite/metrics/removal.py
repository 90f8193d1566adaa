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
the pair's endpoints (global node ids), never on the edges' storage order
(``suite.metrics.ties``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from suite.graph.compact import compact_for, compact_inputs, compact_logits
from suite.graph.pruning import plan_with_edges, pruned
from suite.graph.subgraphs import InstanceBatch
from suite.metrics.perturb import masked_log_probs
from suite.metrics.ties import rank_within_instances, tie_break_keys

#: How a removed edge leaves the graph: ``remove`` (deleted, degrees recomputed; the
#: default) or ``scale`` (its messages multiplied by 0 after normalisation, PyG's mask).
SEMANTICS: tuple[str, ...] = ("remove", "scale")


def check_semantics(semantics: str) -> str:
    """``semantics`` when it is one of :data:`SEMANTICS`; ``ValueError`` naming the field otherwise."""
    if semantics not in SEMANTICS:
        raise ValueError(f"semantics: expected one of {', '.join(SEMANTICS)} (got {semantics!r})")
    return semantics


def removal_grid(steps: int) -> tuple[float, ...]:
    """The shares ``0, 1/steps, ..., 1`` (``steps`` >= 2 equal steps)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps: expected an integer >= 2 (got {steps!r})")
    return tuple(round(i / steps, 6) for i in range(steps + 1))


#: Equal steps of the default grid, and the grid: the shares of each instance's explainable
#: pairs removed (deletion) or kept (insertion), 0, 0.05, ..., 1 (the drop curve's grid).
REMOVAL_STEPS = 20
REMOVAL_GRID: tuple[float, ...] = removal_grid(REMOVAL_STEPS)


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


def edge_pairs(batch: InstanceBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(pair [M_v] of each explainable edge, each pair's instance position [P] and global
    endpoints [P], [P]); pairs are sorted by instance, then endpoints."""
    ei = batch.edge_index[:, batch.explainable]
    inst = batch.edge_instance[batch.explainable]
    u, v = batch.node_ids[ei[0]], batch.node_ids[ei[1]]
    triples = torch.stack([inst, torch.minimum(u, v), torch.maximum(u, v)], dim=1)
    unique, pair = torch.unique(triples, dim=0, return_inverse=True)
    return pair, unique[:, 0], unique[:, 1], unique[:, 2]


@torch.no_grad()
def probabilities_without(model: nn.Module, batch: InstanceBatch, keep: Tensor) -> Tensor:
    """[B, C] class probabilities with only the edges ``keep`` [m] (bool) in the graph.

    Node batches run on the batch's compact graph (``suite.graph.compact``: the nodes within
    ``k`` hops of a target, each layer's edges into the nodes it must update) with the
    removed edges dropped from every layer, where that is removing them (no weights
    precomputed over the whole batch, as GCN's normalisation; no context edge removed);
    otherwise on the whole batch, propagating only the messages that can reach a target
    in it (``suite.graph.pruning``; its plan, cached on the batch, holds every message the
    reduced graph's targets read). Either leaves the targets' outputs unchanged.
    """
    compact = compact_for(model, batch)
    if compact is not None and compact.removes_exactly and bool(keep[~batch.explainable].all()):
        reduced = compact.without_edges(keep[batch.explainable])
        with compact_inputs(model, reduced, None):
            return compact_logits(model, reduced, batch.x).softmax(dim=-1)
    kwargs = batch.model_kwargs()
    kept = keep.nonzero().view(-1)
    for name in ("edge_attr", "edge_type"):
        if name in kwargs:
            kwargs[name] = kwargs[name].index_select(0, kept)
    edge_index = batch.edge_index.index_select(1, kept)
    with pruned(model, plan_with_edges(model, batch, edge_index)):
        logits = model(batch.x, edge_index, **kwargs)
    return batch.select_outputs(logits).softmax(dim=-1)


def removal_curves(model: nn.Module, batch: InstanceBatch, scores: Tensor, seed: int = 0,
                   grid: tuple[float, ...] = REMOVAL_GRID,
                   semantics: str = "remove") -> RemovalCurves:
    """Deletion and insertion curves of ``scores`` [M_v] (the batch's explainable edges, in
    order) for ``model`` in eval mode (restored after); see the module docstring.
    ``semantics`` (:data:`SEMANTICS`): ``scale`` multiplies the removed edges' messages by 0
    instead of deleting them (degrees kept)."""
    check_semantics(semantics)
    device = batch.x.device
    scores = scores.detach().to(device=device, dtype=torch.float64).reshape(-1)
    if scores.numel() != batch.num_explainable:
        raise ValueError(f"scores: {scores.numel()} values for {batch.num_explainable} "
                         "explainable edges")
    pair, inst, first, second = edge_pairs(batch)
    pair_score = torch.full((inst.numel(),), -torch.inf, dtype=torch.float64, device=device)
    pair_score = pair_score.scatter_reduce(0, pair, scores, "amax")
    keys = tie_break_keys(first, second, batch.instance_ids.to(device)[inst], seed)
    rank = rank_within_instances(inst, pair_score, keys)
    per_instance = torch.bincount(inst, minlength=batch.num_instances)
    positions = torch.nonzero(batch.explainable).reshape(-1)
    was_training = model.training
    model.eval()
    try:
        full = torch.ones(batch.edge_index.size(1), dtype=torch.bool, device=device)
        predicted = probabilities_without(model, batch, full).argmax(dim=-1, keepdim=True)
        curves: dict[str, list[Tensor]] = {"deletion": [], "insertion": []}
        for share in grid:
            count = torch.floor(share * per_instance.double() + 1e-9).long()
            top = (rank < count[inst])[pair]  # [M_v]: the edge's pair is among the first
            for name, removed in (("deletion", top), ("insertion", ~top)):
                if semantics == "scale":
                    probs = masked_log_probs(model, batch, (~removed).to(batch.x.dtype)).exp()
                else:
                    keep = full.clone()
                    keep[positions[removed]] = False
                    probs = probabilities_without(model, batch, keep)
                curves[name].append(probs.gather(1, predicted).squeeze(1).double())
    finally:
        model.train(was_training)
    deletion, insertion = (torch.stack(curves[n], dim=1) for n in ("deletion", "insertion"))
    x = torch.tensor(grid, dtype=torch.float64, device=device)
    return RemovalCurves(deletion, insertion, torch.trapezoid(deletion, x, dim=1),
                         torch.trapezoid(insertion, x, dim=1))


@torch.no_grad()
def leave_one_pair_out(model: nn.Module, batch: InstanceBatch) -> Tensor:
    """[M_v] exact occlusion: for each explainable edge, the drop of the probability of the
    model's original prediction when its undirected pair (both directions) is removed from
    the graph, degrees recomputed; both directions get their pair's value.

    The batch's instances are disjoint, so the ``j``-th pair of every instance that has
    one is removed in the same forward pass (``max_b P_b`` passes), each pass over just
    the instances that still have pairs. Model in eval mode (restored).
    """
    device = batch.x.device
    pair, inst, _, _ = edge_pairs(batch)
    counts = torch.bincount(inst, minlength=batch.num_instances)
    starts = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
    position = torch.arange(inst.numel(), device=device) - starts[inst]  # [P] within instance
    drop = torch.zeros(inst.numel(), dtype=torch.float64, device=device)
    was_training = model.training
    model.eval()
    try:
        probs = probabilities_without(model, batch, torch.ones_like(batch.explainable))
        predicted = probs.argmax(dim=-1)
        base = probs.gather(1, predicted.view(-1, 1)).squeeze(1).double()
        active: Tensor | None = None
        for j in range(int(counts.max()) if counts.numel() else 0):
            now = counts > j
            if active is None or not torch.equal(now, active):  # fewer instances from here on
                active, view = now, batch.subset(now)
                view_pair = pair[active[batch.edge_instance[batch.explainable]]]
                view_edges = torch.nonzero(view.explainable).reshape(-1)
                view_position = position[view_pair]
                ids = torch.nonzero(active).reshape(-1)
            keep = torch.ones_like(view.explainable)
            keep[view_edges[view_position == j]] = False
            kept = base.clone()  # [B]; the active instances' entries are replaced
            kept[ids] = probabilities_without(model, view, keep).gather(
                1, predicted[ids].view(-1, 1)).squeeze(1).double()
            at = position == j
            drop[at] = (base - kept)[inst[at]]
    finally:
        model.train(was_training)
    return drop[pair]
