"""``pgd-structure``: the projected-gradient topology attack (Xu et al., IJCAI 2019)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from suite.graph.masking import edge_mask
from suite.models.base import GraphModel
from suite.training.edge_pairs import is_symmetric, pair_keys
from suite.training.loop import GraphInputs, forward

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]
from suite.training.attacks.common import attacking, target_rows, uniform
from suite.training.attacks.configs import BISECTION_ITERS, StructureAttackConfig


def project_budget(a: Tensor, group: Tensor, budget: Tensor,
                   iters: int = BISECTION_ITERS) -> Tensor:
    r"""Euclidean projection of ``a`` [P] onto ``{s in [0,1]^P : sum_{p in g} s_p <= budget_g}``.

    Per group g: ``s = clip(a, 0, 1)`` when that meets the budget, else
    ``s = clip(a - mu_g, 0, 1)`` with ``mu_g > 0`` solving ``sum clip(a - mu_g, 0, 1) =
    budget_g``, found by bisection on [0, max a] (Xu et al., 2019, Prop. 1). The upper
    end of the final bracket is used, so the budget always holds.

    Args:
        a: [P] values; group: [P] long group of each value (0..G-1); budget: [G] float.
    """
    num_groups = budget.numel()
    s = a.clamp(0, 1)
    total = s.new_zeros(num_groups).index_add(0, group, s)
    over = total > budget
    if not bool(over.any()):
        return s
    lo = a.new_zeros(num_groups)
    hi = a.new_zeros(num_groups).scatter_reduce(0, group, a, "amax", include_self=True)
    for _ in range(iters):
        mid = (lo + hi) / 2
        sums = a.new_zeros(num_groups).index_add(0, group, (a - mid[group]).clamp(0, 1))
        too_big = sums > budget
        lo = torch.where(too_big, mid, lo)
        hi = torch.where(too_big, hi, mid)
    return torch.where(over[group], (a - hi[group]).clamp(0, 1), s)


@dataclass
class _Candidates:
    """The node pairs a structure attack may flip.

    Attributes:
        edge_index: [2, E + A] the input's edges, then the directed edges of the
            insertion candidates (both directions of a pair for undirected inputs).
        pair: [E + A] candidate pair of each directed edge (both directions of an
            undirected edge share one pair).
        existing: [P] True for pairs that are edges of the input (flip = removal).
        group: [P] graph of each pair (position in the batch; 0 for one graph).
        num_edges: E.
        new_edge_type: [A] edge type of the insertion candidates' edges, or None.
    """

    edge_index: Tensor
    pair: Tensor
    existing: Tensor
    group: Tensor
    num_edges: int
    new_edge_type: Tensor | None

    def mask(self, s: Tensor) -> Tensor:
        """[E + A] message weights of the relaxation: 1 - s on input edges, s on new ones."""
        per_pair = torch.where(self.existing, 1 - s, s)
        return per_pair[self.pair]

    def apply(self, inputs: GraphInputs, flips: Tensor) -> GraphInputs:
        """The discrete perturbed input: flipped input edges dropped, flipped candidates added."""
        keep = ~flips[self.pair[:self.num_edges]]
        add = flips[self.pair[self.num_edges:]]
        changes: dict[str, Any] = {"edge_index": torch.cat(
            [inputs.edge_index[:, keep], self.edge_index[:, self.num_edges:][:, add]], 1)}
        if inputs.edge_type is not None:
            new = self.new_edge_type if self.new_edge_type is not None else inputs.edge_type[:0]
            changes["edge_type"] = torch.cat([inputs.edge_type[keep], new[add]])
        if inputs.edge_attr is not None:  # no insertion candidates exist in this case
            changes["edge_attr"] = inputs.edge_attr[keep]
        if inputs.gt_edge_mask is not None:  # inserted edges are not ground truth
            changes["gt_edge_mask"] = torch.cat(
                [inputs.gt_edge_mask[keep], inputs.gt_edge_mask.new_zeros(int(add.sum()))])
        return inputs.replace(**changes)

    def protected(self, inputs: GraphInputs) -> Tensor:
        """[P] bool: pairs ``protect: ground-truth`` may not flip: input pairs with a
        ground-truth edge (either direction) and absent pairs whose two endpoints are both
        ground-truth nodes (of any motif: a superset of "the same motif")."""
        if inputs.gt_edge_mask is None or inputs.gt_node_mask is None:
            raise ValueError("protect: ground-truth needs the inputs' gt_edge_mask and "
                             "gt_node_mask (the dataset has no ground truth)")
        num_pairs = self.existing.numel()
        gt_edge = inputs.gt_edge_mask.bool()
        hit = torch.zeros(num_pairs, dtype=torch.long, device=gt_edge.device).index_add(
            0, self.pair[:self.num_edges], gt_edge.long())
        new = self.edge_index[:, self.num_edges:]
        gt_node = inputs.gt_node_mask.bool()
        both = (gt_node[new[0]] & gt_node[new[1]]).long()
        hit = hit.index_add(0, self.pair[self.num_edges:], both)
        return hit > 0


def _node_groups(inputs: GraphInputs) -> tuple[Tensor, int]:
    """[n] group of each node and the number of groups (graphs of a batch, else 1)."""
    n = inputs.x.size(0)
    if inputs.batch is None:
        return torch.zeros(n, dtype=torch.long, device=inputs.x.device), 1
    return inputs.batch, int(inputs.batch.max()) + 1 if n else 0


def _grouped(nodes: Tensor, node_group: Tensor, num_groups: int) -> tuple[Tensor, Tensor, Tensor]:
    """``nodes`` sorted by group (stable), their per-group start offsets and counts."""
    groups = node_group[nodes]
    order = torch.sort(groups, stable=True).indices
    counts = torch.bincount(groups, minlength=num_groups)
    return nodes[order], counts.cumsum(0) - counts, counts


def _absent_pairs(inputs: GraphInputs, index: Tensor | None, existing_keys: Tensor,
                  existing_group_count: Tensor, *, candidates: str, insert_ratio: float,
                  symmetric: bool, generator: torch.Generator | None) -> Tensor:
    """Keys (``a * n + b``) of the insertion candidates: absent pairs of distinct nodes.

    One endpoint is a source, the other any node of the same graph. Sources are the
    nodes of each graph (graph tasks) or, for one graph with target rows ``index``
    (node tasks), the targets. ``existing+all``: every such absent pair;
    ``existing+random``: a uniform sample of ``ceil(insert_ratio * P_g)`` of them per
    graph g (P_g = input pairs of g; fewer when the graph has fewer absent pairs).
    """
    n, device = inputs.x.size(0), inputs.x.device
    node_group, num_groups = _node_groups(inputs)
    every = torch.arange(n, device=device)
    sources = index if (inputs.batch is None and index is not None) else every
    src, src_start, src_count = _grouped(sources.to(device), node_group, num_groups)
    dst, dst_start, dst_count = _grouped(every, node_group, num_groups)
    if candidates == "existing+all":
        per_group = src_count * dst_count
        group_of = torch.repeat_interleave(torch.arange(num_groups, device=device), per_group)
        offset = torch.arange(int(per_group.sum()), device=device) - torch.repeat_interleave(
            per_group.cumsum(0) - per_group, per_group)
        i, j = offset // dst_count[group_of], offset % dst_count[group_of]
    else:
        wanted = torch.ceil(insert_ratio * existing_group_count.double()).long()
        wanted = torch.where((src_count > 0) & (dst_count > 1), wanted, torch.zeros_like(wanted))
        draws = 2 * wanted + 4 * (wanted > 0).long()  # oversample: some draws are edges or loops
        group_of = torch.repeat_interleave(torch.arange(num_groups, device=device), draws)
        u = uniform((2, group_of.numel()), generator, inputs.x.new_empty(0, dtype=torch.float64))
        i = (u[0] * src_count[group_of]).long().clamp_max(src_count[group_of] - 1)
        j = (u[1] * dst_count[group_of]).long().clamp_max(dst_count[group_of] - 1)
    a, b = src[src_start[group_of] + i], dst[dst_start[group_of] + j]
    valid = a != b
    keys = pair_keys(a[valid], b[valid], n, symmetric)
    keys = keys[~torch.isin(keys, existing_keys)].unique()
    if candidates == "existing+all" or keys.numel() == 0:
        return keys
    keys = keys[torch.randperm(keys.numel(), generator=generator).to(device)]
    groups = node_group[keys // n]
    order = torch.sort(groups, stable=True).indices
    keys, groups = keys[order], groups[order]
    counts = torch.bincount(groups, minlength=num_groups)
    rank = torch.arange(keys.numel(), device=device) - (counts.cumsum(0) - counts)[groups]
    return keys[rank < wanted[groups]]


def _candidates(inputs: GraphInputs, index: Tensor | None, *, insert: bool, candidates: str,
                insert_ratio: float, insert_edge_type: int | None,
                generator: torch.Generator | None) -> tuple[_Candidates, Tensor]:
    """The candidate pairs of ``inputs`` and the number of input pairs per graph [G]."""
    n, edge_index = inputs.x.size(0), inputs.edge_index
    node_group, num_groups = _node_groups(inputs)
    symmetric = is_symmetric(edge_index, n)
    keys = pair_keys(edge_index[0], edge_index[1], n, symmetric)
    existing_keys, pair = torch.unique(keys, return_inverse=True)
    group = node_group[existing_keys // n]
    per_group = torch.bincount(group, minlength=num_groups)
    new_keys = existing_keys[:0]
    if insert:
        new_keys = _absent_pairs(inputs, index, existing_keys, per_group, candidates=candidates,
                                 insert_ratio=insert_ratio, symmetric=symmetric,
                                 generator=generator)
    a, b = new_keys // n, new_keys % n
    new_pair = torch.arange(new_keys.numel(), device=edge_index.device) + existing_keys.numel()
    if symmetric:
        new_edges = torch.stack([torch.cat([a, b]), torch.cat([b, a])])
        new_pair = torch.cat([new_pair, new_pair])
    else:
        new_edges = torch.stack([a, b])
    new_type = None
    if inputs.edge_type is not None:
        if insert_edge_type is None:  # the most common type of the input (0 without edges)
            counts = torch.bincount(inputs.edge_type)
            insert_edge_type = int(counts.argmax()) if counts.numel() else 0
        new_type = torch.full((new_edges.size(1),), insert_edge_type, dtype=inputs.edge_type.dtype,
                              device=edge_index.device)
    cand = _Candidates(
        edge_index=torch.cat([edge_index, new_edges], 1),
        pair=torch.cat([pair, new_pair]),
        existing=torch.cat([torch.ones_like(existing_keys, dtype=torch.bool),
                            torch.zeros_like(new_keys, dtype=torch.bool)]),
        group=torch.cat([group, node_group[a]]),
        num_edges=edge_index.size(1), new_edge_type=new_type,
    )
    return cand, per_group


def _group_losses(model: GraphModel, inputs: GraphInputs, y: Tensor, index: Tensor | None,
                  num_groups: int) -> Tensor:
    """[G] mean cross-entropy of each graph's target rows (one graph: all ``index`` rows)."""
    losses = F.cross_entropy(target_rows(forward(model, inputs), index), y, reduction="none")
    if inputs.batch is None:
        row_group = torch.zeros_like(y)
    else:
        row_group = torch.arange(losses.numel(), device=y.device) if index is None else index
    sums = losses.new_zeros(num_groups).index_add(0, row_group, losses)
    counts = losses.new_zeros(num_groups).index_add(0, row_group, torch.ones_like(losses))
    return torch.where(counts > 0, sums / counts.clamp_min(1), torch.zeros_like(sums))


def _top_budget(s: Tensor, group: Tensor, budget: Tensor) -> Tensor:
    """[P] bool: the ``budget_g`` largest positive ``s`` of each group (ties: lower index)."""
    by_value = torch.sort(s, descending=True, stable=True).indices
    order = by_value[torch.sort(group[by_value], stable=True).indices]
    counts = torch.bincount(group, minlength=budget.numel())
    rank = torch.empty_like(group)
    starts = (counts.cumsum(0) - counts)[group[order]]
    rank[order] = torch.arange(group.numel(), device=group.device) - starts
    return (rank < budget[group]) & (s > 0)


def pgd_structure(model: GraphModel, inputs: GraphInputs, y: Tensor, index: Tensor | None,
                  config: StructureAttackConfig,
                  generator: torch.Generator | None = None) -> GraphInputs:
    r"""The PGD topology attack of Xu et al. (IJCAI 2019): flip at most ``budget`` node pairs.

    Candidates: every input edge (a flip removes it) and, unless ``removal_only``,
    absent pairs (a flip inserts them): ``existing+random`` samples
    ``ceil(insert_ratio * P_g)`` absent pairs per graph g with ``P_g`` its input pairs
    (node tasks: pairs with one endpoint among the targets ``index``, "near the
    targets"; graph tasks: pairs within the graph); ``existing+all`` takes every such
    absent pair (Xu et al.'s full candidate set; quadratic in the graph size). When
    the edge set is symmetric (undirected graph stored in both directions), a pair is
    one unordered pair: both directions are flipped together and count as one flip;
    otherwise every directed edge is its own pair.

    Optimisation, with ``s in [0, 1]^P`` (0 = unchanged) and g the graph of a pair:

    .. math::
        s_t = \Pi_B\Big(s_{t-1} + \frac{\eta}{\sqrt t}\, \frac{\nabla_s L}{\max_{p \in g}
        |\nabla_{s_p} L|}\Big), \qquad s_0 = 0

    where ``L`` is the mean cross-entropy of the rows ``index``, computed on the
    relaxed graph with every candidate edge present and its messages scaled by
    ``1 - s`` (input edges) or ``s`` (insertion candidates) through
    :func:`suite.graph.masking.edge_mask`, and ``Pi_B`` is :func:`project_budget`. The
    per-graph normalisation of the gradient (ours; Xu et al. use the raw gradient
    with ``eta_t = c / sqrt(t)``) makes ``step_size`` scale-free: the largest entry of
    each graph moves by ``eta / sqrt(t)``. The relaxation scales messages after each
    layer's normalisation, so layers that normalise over the neighbour set (GCN's
    degrees, GAT's attention) see the insertion candidates in that normalisation at
    every ``s``; the discrete result below is evaluated exactly.

    Discretisation: ``bernoulli`` (as Xu et al.): ``samples`` draws ``flips ~
    Bernoulli(s)``, keeping, per graph, the draw with the highest loss among those
    within the budget (a graph with no draw within its budget takes ``topk``);
    ``topk``: the ``budget_g`` pairs with the largest positive ``s``.

    Budget per graph (node tasks: the whole input graph): ``budget`` when given, else
    ``max(1, floor(budget_share * P_g))``. ``budget_scope="targets"`` (node tasks with
    target rows ``index``; ignored for graph tasks) scales that share by the targets'
    share of the nodes: ``max(1, floor(budget_share * P * T / n))`` with T targets of n
    nodes (``budget`` likewise becomes ``max(1, floor(budget * T / n))``; 0 stays 0). Flips per
    target are then the same whatever the targets: an attack on the 10% test nodes
    gets a tenth of the flips, not all of them, so training against the training
    nodes (80% of the nodes) meets the flip density it is tested at. With the default
    ``"graph"`` the test-time attack is ~8x denser per target than the training one.

    Edge features: an inserted edge has no sensible ``edge_attr``, so when
    ``inputs.edge_attr`` is present the attack removes edges only (as if
    ``removal_only``). Inserted edges get ``edge_type = insert_edge_type``, or when
    None the most common type among the input's edges.

    Protection (``protect="ground-truth"``, a label-preserving threat model for datasets
    whose label is defined by a motif): candidate pairs that touch the explanation
    ground truth (:meth:`_Candidates.protected`: input pairs with a ground-truth edge;
    absent pairs between two ground-truth nodes) keep ``s = 0`` throughout, so they are
    never flipped; the budget is unchanged (a share of all input pairs). It needs
    ``inputs.gt_edge_mask`` and ``gt_node_mask``. Caveat: the threat model is then
    defined by the explanation ground truth, so a model trained against it is told
    which edges must not matter, which alone may raise its explanation AUC.

    Args:
        model, inputs, y, index: as :func:`~suite.training.attacks.features.pgd_features`.
        config: the attack's settings (:class:`StructureAttackConfig`; the names above).
        generator: CPU generator for the sampled candidates and the Bernoulli draws.

    Returns:
        The perturbed inputs: the kept input edges in their order (with their
        ``edge_attr``/``edge_type``), then the inserted edges. ``x`` and ``batch`` are
        the input's.
    """
    insert = not (config.removal_only or inputs.edge_attr is not None)
    cand, per_group = _candidates(inputs, index, insert=insert, candidates=config.candidates,
                                  insert_ratio=config.insert_ratio,
                                  insert_edge_type=config.insert_edge_type, generator=generator)
    num_groups = per_group.numel()
    scale = 1.0  # the targets' share of the nodes under budget_scope "targets" (node tasks)
    if config.budget_scope == "targets" and inputs.batch is None and index is not None:
        scale = index.unique().numel() / max(1, inputs.x.size(0))
    if config.budget is not None:
        allowed = torch.full_like(per_group, config.budget, dtype=torch.float64)
    else:
        allowed = config.budget_share * per_group.double()
    budgets = (allowed * scale).floor().long()  # one floor: floor(share * P * T / n)
    if config.budget is None or config.budget > 0:  # an absolute budget of 0 flips nothing
        budgets = budgets.clamp(min=1)
    budget_f = budgets.to(inputs.x.dtype)
    num_pairs = cand.existing.numel()
    free = None if config.protect == "none" else ~cand.protected(inputs)
    s = inputs.x.new_zeros(num_pairs)
    clean = inputs.replace(edge_index=cand.edge_index, **_extended_types(inputs, cand))
    with attacking(model):
        for t in range(1, config.steps + 1):
            s.requires_grad_(True)
            with edge_mask(model, cand.mask(s)):
                loss = F.cross_entropy(target_rows(forward(model, clean), index), y)
            (grad,) = torch.autograd.grad(loss, s, allow_unused=True)
            with torch.no_grad():
                grad = torch.zeros_like(s) if grad is None else grad
                if free is not None:  # protected pairs stay at s = 0 (projection keeps 0)
                    grad = torch.where(free, grad, torch.zeros_like(grad))
                scale = grad.new_zeros(num_groups).scatter_reduce(
                    0, cand.group, grad.abs(), "amax", include_self=True)
                step = grad / scale[cand.group].clamp_min(1e-30)
                s = project_budget(s.detach() + config.step_size / math.sqrt(t) * step,
                                   cand.group, budget_f)
        with torch.no_grad():
            s = s.detach()
            flips = _top_budget(s, cand.group, budgets)
            if config.discretise == "bernoulli" and num_pairs:
                flips = _best_draw(model, inputs, y, index, cand, s, budgets, flips,
                                   config.samples, generator)
    return cand.apply(inputs, flips)


def _extended_types(inputs: GraphInputs, cand: _Candidates) -> dict[str, Tensor]:
    if inputs.edge_type is None or cand.new_edge_type is None:
        return {}
    return {"edge_type": torch.cat([inputs.edge_type, cand.new_edge_type])}


def _best_draw(model: GraphModel, inputs: GraphInputs, y: Tensor, index: Tensor | None,
               cand: _Candidates, s: Tensor, budgets: Tensor, fallback: Tensor, samples: int,
               generator: torch.Generator | None) -> Tensor:
    """Per graph, the Bernoulli(s) draw within budget with the highest loss (else ``fallback``)."""
    num_groups = budgets.numel()
    best_loss = s.new_full((num_groups,), -math.inf)
    best = torch.zeros_like(fallback)
    for _ in range(samples):
        flips = uniform((s.numel(),), generator, s) < s
        count = torch.zeros_like(budgets).index_add(0, cand.group, flips.long())
        loss = _group_losses(model, cand.apply(inputs, flips), y, index, num_groups)
        better = (count <= budgets) & (loss > best_loss)
        best_loss = torch.where(better, loss, best_loss)
        best = torch.where(better[cand.group], flips, best)
    found = torch.isfinite(best_loss)
    return torch.where(found[cand.group], best, fallback)
