"""Compute only what can reach the targets: per-layer edge pruning of a node batch.

In a ``k``-layer model a node target ``t`` reads the output of layer ``l`` (0-based)
only at nodes within ``k - 1 - l`` hops of ``t`` (hops follow edges backwards): the
last layer is needed at ``t`` alone, the first at every node within ``k - 1`` hops.
Layer ``l`` therefore only needs the messages into those nodes, and the others can
be dropped from that layer's propagation while every needed node still receives all
of its messages, so the targets' outputs are exactly the unpruned ones (``jk="cat"``
also reads earlier layers at ``t``, which is within every bound).

The pruning happens *inside* ``propagate`` (a propagate pre-hook), after the layer
computed anything that depends on the whole edge set (GCN's degree normalisation,
GAT's attention softmax over a node's in-edges), so those stay exact; the hook drops
the pruned edges from ``edge_index`` and from every edge-aligned ``propagate``
argument (``edge_weight``, ``alpha``, ``edge_attr``: tensors whose first dimension is
the number of edges; ``x`` is never touched). Appended self-loops are pruned the
same way (by their target node).

Graph targets are never pruned (pooling reads every node of the last layer).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Iterator

import torch
from torch import Tensor, nn

from suite.core.types import TaskLevel
from suite.graph.masking import edge_mask, message_layers


def hop_distance(edge_index: Tensor, sources: Tensor, num_nodes: int, max_hops: int) -> Tensor:
    """[n] hops from each node to the nearest of ``sources`` along edges (``u -> v``: u is
    one hop from v), ``max_hops + 1`` beyond ``max_hops``."""
    far = max_hops + 1
    dist = torch.full((num_nodes,), far, dtype=torch.long, device=edge_index.device)
    dist[sources] = 0
    src, dst = edge_index
    for hop in range(1, max_hops + 1):
        frontier = dist[dst] == hop - 1
        reached = src[frontier]
        reached = reached[dist[reached] == far]
        if reached.numel() == 0:
            break
        dist[reached] = hop
    return dist


@dataclass
class LayerPlan:
    """Which nodes each layer's output is needed at, and which edges each layer keeps.

    Attributes:
        need: [k] bool tensors [n]: node ``v`` is needed after layer ``l``.
        dst: [m] the destination node of each edge of the batch.
        keep: [k] bool tensors [m]: edge ``u -> v`` of the batch is propagated by layer
            ``l`` (``need[l][v]``); derived on first use.
    """

    need: list[Tensor]
    dst: Tensor
    #: (layer, edges seen by propagate) -> positions kept; filled by :func:`pruned`, so
    #: later steps over the same batch index instead of re-deriving the selection
    positions: dict[tuple[int, int], Tensor] = field(default_factory=dict)

    @functools.cached_property
    def keep(self) -> list[Tensor]:
        """[k] bool tensors [m]: the edges each layer propagates (into its needed nodes)."""
        return [n[self.dst] for n in self.need]

    @functools.cached_property
    def keep_index(self) -> list[Tensor]:
        """[k] positions of the batch edges each layer keeps (``keep[l].nonzero()``)."""
        return [k.nonzero().view(-1) for k in self.keep]

    @property
    def kept_edges(self) -> list[int]:
        """Edges of the batch propagated by each layer (self-loops not counted)."""
        return [int(k.sum()) for k in self.keep]

    def without_edges(self, edge_index: Tensor) -> "LayerPlan":
        """The plan of the same batch with only ``edge_index`` [2, m'] (some of its edges)
        left: this plan's needed nodes, a superset of the reduced graph's (hops only grow
        when edges go), so every node the targets read still receives all of its messages
        and the targets' outputs are exact; no cached positions (the edges differ)."""
        return LayerPlan(need=self.need, dst=edge_index[1])


def layer_plan(edge_index: Tensor, target_index: Tensor, num_nodes: int,
               num_layers: int) -> LayerPlan:
    """The :class:`LayerPlan` of a node batch whose targets sit at ``target_index`` [B]."""
    dist = hop_distance(edge_index, target_index, num_nodes, num_layers)
    need = [dist <= num_layers - 1 - layer for layer in range(num_layers)]
    return LayerPlan(need=need, dst=edge_index[1])


def plan_for(view: "object", num_layers: int) -> LayerPlan | None:
    """The plan of an ``InstanceBatch`` (cached on the instance: ``InstanceBatch.to`` copies
    only its fields, so a moved batch plans afresh), or None for graph batches."""
    if getattr(view, "task", None) != TaskLevel.NODE:
        return None
    cache = view.__dict__.setdefault("_plans", {})
    if num_layers not in cache:
        cache[num_layers] = layer_plan(view.edge_index, view.target_index, int(view.x.size(0)),
                                       num_layers)
    return cache[num_layers]


def carry_plans(source: "object", taken: "object", nodes: Tensor) -> None:
    """Give ``taken``, instances sliced out of the node batch ``source`` (``InstanceBatch.take``;
    their nodes at ``nodes`` [n'] of ``source``), the plans cached on ``source``, sliced: the
    instances are disjoint, so each node's hops to its target are the same in both."""
    plans = source.__dict__.get("_plans")
    if plans:
        dst = taken.edge_index[1]  # type: ignore[attr-defined]
        taken.__dict__["_plans"] = {
            layers: LayerPlan(need=[n[nodes] for n in plan.need], dst=dst)
            for layers, plan in plans.items()}


@contextlib.contextmanager
def pruned(model: nn.Module, plan: LayerPlan | None) -> Iterator[None]:
    """Drop, in layer ``l``'s ``propagate``, every message into a node not in ``plan.need[l]``.

    No-op for ``plan=None``. The hooks are removed on exit, also on error. Enter it
    *before* any message hook that must see the pruned edges (``suite.graph.masking.edge_mask``).
    """
    if plan is None:
        yield
        return
    layers = message_layers(model)
    if len(layers) != len(plan.need):
        raise ValueError(f"plan has {len(plan.need)} layers, the model {len(layers)} "
                         "message-passing layers")
    handles = []

    def make(index: int, need: Tensor):
        def hook(module, inputs):
            edge_index, size, kwargs = inputs
            num = edge_index.size(1)
            keep = plan.positions.get((index, num))
            if keep is None or keep.device != edge_index.device:
                # the same batch gives the same edges at this layer on every call
                keep = need[edge_index[1]].nonzero().view(-1)
                plan.positions[(index, num)] = keep
            out = {}
            for key, value in kwargs.items():
                if key != "x" and isinstance(value, Tensor) and value.dim() >= 1 \
                        and value.size(0) == num:
                    value = value.index_select(0, keep)
                out[key] = value
            return edge_index.index_select(1, keep), size, out
        return hook

    try:
        for index, (layer, need) in enumerate(zip(layers, plan.need)):
            handles.append(layer.register_propagate_forward_pre_hook(make(index, need)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def layer_masks(plan: LayerPlan, full_mask: Tensor) -> list[Tensor]:
    """One mask per layer over the edges that layer keeps: ``full_mask[keep[l]]``."""
    return [full_mask.index_select(0, index) for index in plan.keep_index]


@contextlib.contextmanager
def count_messages(model: nn.Module) -> Iterator[list[int]]:
    """Count the messages each message-passing layer sends (a work counter, not a timer).

    Yields a list that, after the block, holds per layer the total number of messages
    computed (self-loops included) over all forward calls inside the block.
    """
    layers = message_layers(model)
    counts = [0] * len(layers)
    handles = []
    try:
        for index, layer in enumerate(layers):
            def hook(module, inputs, output, _index=index):
                counts[_index] += int(output.size(0))
            handles.append(layer.register_message_forward_hook(hook))
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def _prunable_depth(model: nn.Module, view: "object") -> int | None:
    """The model's number of message-passing layers where ``view`` may be pruned: node
    batches that are ``prunable`` and models whose depth (``num_layers``) equals that
    number; None elsewhere."""
    if getattr(view, "task", None) != TaskLevel.NODE or not getattr(view, "prunable", False):
        return None
    layers = len(message_layers(model))
    hops = getattr(model, "num_layers", None)
    if not (isinstance(hops, int) and hops > 0):
        hops = layers
    return layers if layers == hops else None


def model_plan(model: nn.Module, view: "object") -> LayerPlan | None:
    """The plan of a node batch ``view`` for ``model``, or None where pruning does not apply:
    graph batches, views that are not ``prunable`` (full-graph reference views), and models
    whose depth (``num_layers``) differs from their number of message-passing layers."""
    layers = _prunable_depth(model, view)
    return None if layers is None else plan_for(view, layers)


def plan_with_edges(model: nn.Module, view: "object", edge_index: Tensor) -> LayerPlan | None:
    """:func:`model_plan` of ``view`` with its edges replaced by ``edge_index`` [2, m'] (some
    of the view's edges, e.g. some removed), for ``model(view.x, edge_index, ...)``: the
    view's cached plan, reduced (:meth:`LayerPlan.without_edges`), so no hop search runs
    per call."""
    plan = model_plan(model, view)
    return None if plan is None else plan.without_edges(edge_index)


@contextlib.contextmanager
def masked_and_pruned(model: nn.Module, view: "object", full_mask: Tensor | None,
                      prune: bool = True) -> Iterator[None]:
    """Run ``model`` on ``view`` with messages scaled by ``full_mask`` [E_view] (None: unmasked)
    and, with ``prune``, only the messages that can still reach a target (:func:`model_plan`);
    the targets' outputs equal the unpruned ones. Hooks are removed on exit, also on error."""
    plan = model_plan(model, view) if prune else None
    if plan is not None and full_mask is not None:
        full_mask = layer_masks(plan, full_mask)
    with pruned(model, plan), edge_mask(model, full_mask):
        yield
