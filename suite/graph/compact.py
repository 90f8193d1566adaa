"""Compact node batches: the degree-only context is computed once per batch, not per step.

A node batch (``suite.graph.subgraphs.node_batch``) carries *context* edges (every edge into a
node within ``k`` hops of a target) only so that GCN sees full-graph degrees; no layer
ever propagates them (:mod:`suite.graph.pruning`: layer 0 already needs only the explainable
edges, the edges into nodes within ``k - 1`` hops). On BA-Shapes with 80 targets they
are 44k of the batch's 51.6k edges, and GCN's normalisation processed them on every
optimisation step.

Here each message-passing layer's input is prepared **once per batch** and substituted
into the layer on every call (a forward pre-hook):

- ``GCNConv``: ``gcn_norm`` runs once over the *whole* batch (context included, so the
  degrees are the full-graph ones); the layer then gets only the edges it needs (those
  into ``plan.need[l]``, and the self-loops of those nodes) with their precomputed
  weights, and skips its own normalisation (``normalize`` is off while the hooks are in).
- ``GINConv``, ``GraphConv``, ``GATConv`` (no edge features): the edges into
  ``plan.need[l]``. Their output at a node depends only on that node's in-edges (GAT's
  attention softmax runs over them), so every needed node sees all of its messages.

The model then runs on the *compact* graph: the nodes within ``k`` hops of a target
(sources of explainable edges, and the targets) and the explainable edges only, so the
linear maps and activations also shrink. Masks stay over the view's explainable edges
(each layer's mask is the mask at the edges it keeps; self-loops stay unmasked), and
the targets' outputs and mask gradients equal the full-graph ones.

Where this does not apply (graph batches, full-graph reference views, models with a
layer type not in :data:`STATIC_LAYERS`, edge features or types, self-loops in the
batch) :func:`compact_for` returns None and callers use the per-step pruning of
:mod:`suite.graph.pruning`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv, GINConv, GraphConv
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from suite.graph.masking import edge_mask, message_layers
from suite.graph.pruning import LayerPlan, model_plan
from suite.graph.subgraphs import InstanceBatch, segment_offsets, take_segments


@dataclass
class LayerInput:
    """What one message-passing layer receives on the compact graph.

    Attributes:
        edge_index: [2, E_l] compact node ids: the kept edges, then any precomputed
            self-loops (GCN).
        edge_weight: [E_l] precomputed edge weights (GCN's normalisation) or None.
        mask_index: [K_l] position among the view's explainable edges of each of the
            first ``K_l`` edges (the masked ones; later entries are self-loops).
        switches: layer attributes set while the layer runs on this input
            (``{"normalize": False}`` for GCN), restored afterwards.
    """

    edge_index: Tensor
    edge_weight: Tensor | None
    mask_index: Tensor
    switches: dict[str, Any]


@dataclass
class CompactBatch:
    """A node batch reduced to what its targets' outputs depend on.

    Attributes:
        node_index: [n_c] view positions of the kept nodes (within ``k`` hops of a target).
        edge_index: [2, M_v] the view's explainable edges in compact node ids (the graph
            handed to the model; every layer's input replaces it).
        target_index: [B] compact position of each target.
        layers: one :class:`LayerInput` per message-passing layer.
        modules: the layers the inputs were prepared for (checked on reuse).
    """

    node_index: Tensor
    edge_index: Tensor
    target_index: Tensor
    layers: list[LayerInput]
    modules: list[MessagePassing]

    @property
    def num_nodes(self) -> int:
        return int(self.node_index.numel())

    @property
    def removes_exactly(self) -> bool:
        """Whether dropping an edge from every layer's input is removing it from the graph:
        no layer carries weights precomputed over the whole batch (GCN's normalisation,
        whose degrees would change) or runs with switched settings."""
        return all(item.edge_weight is None and not item.switches for item in self.layers)

    def without_edges(self, kept: Tensor) -> "CompactBatch":
        """The same batch with only the explainable edges where ``kept`` [M_v] (bool, over
        the view's explainable edges) is True in every layer's input (self-loops stay); for
        :meth:`removes_exactly` batches, the graph with the other edges removed."""
        layers = []
        for item in self.layers:
            count = item.mask_index.numel()
            chosen = kept.index_select(0, item.mask_index).nonzero().view(-1)
            edge_index = torch.cat([item.edge_index[:, :count].index_select(1, chosen),
                                    item.edge_index[:, count:]], dim=1)
            layers.append(LayerInput(edge_index=edge_index, edge_weight=item.edge_weight,
                                     mask_index=item.mask_index.index_select(0, chosen),
                                     switches=item.switches))
        return CompactBatch(node_index=self.node_index, edge_index=self.edge_index,
                            target_index=self.target_index, layers=layers, modules=self.modules)


@dataclass
class CompactBank:
    """A node batch's :class:`CompactBatch` with each instance's share located, so that the
    compact batch of some of its instances is sliced out of it rather than rebuilt: the
    instances are disjoint, so :meth:`take` gives exactly what :func:`build_compact` gives
    for ``view.take(rows)`` (same nodes, edges, weights and order), except that
    ``node_index`` points into *this* view (pass its ``x`` to :func:`compact_logits`).

    Attributes:
        batch: the compact batch of the whole view.
        node_ptr: [B+1] offsets of each instance's compact nodes.
        explained_ptr: [B+1] offsets of each instance's explainable edges.
        kept_ptr, loop_ptr: per layer, [B+1] offsets of each instance's masked edges and
            of its precomputed self-loops in that layer's input.
    """

    batch: CompactBatch
    node_ptr: Tensor
    explained_ptr: Tensor
    kept_ptr: list[Tensor]
    loop_ptr: list[Tensor]

    @classmethod
    def of(cls, batch: CompactBatch, view: InstanceBatch) -> "CompactBank":
        """The bank of ``batch``, the compact batch of node ``view``."""
        count = view.num_instances
        node_instance = view.node_instance.index_select(0, batch.node_index)
        explained_instance = view.edge_instance[view.explainable]
        kept_ptr, loop_ptr = [], []
        for item in batch.layers:
            count_kept = item.mask_index.numel()
            kept_ptr.append(segment_offsets(explained_instance[item.mask_index], count))
            loop_ptr.append(segment_offsets(node_instance[item.edge_index[0, count_kept:]], count))
        return cls(batch=batch, node_ptr=segment_offsets(node_instance, count),
                   explained_ptr=segment_offsets(explained_instance, count),
                   kept_ptr=kept_ptr, loop_ptr=loop_ptr)

    def take(self, rows: Tensor) -> CompactBatch:
        """The compact batch of the instances at positions ``rows`` [b] (long, any order)."""
        whole = self.batch
        nodes, _, node_shift = take_segments(self.node_ptr, rows)
        edges, edge_owner, edge_shift = take_segments(self.explained_ptr, rows)

        def shift_nodes(owner: Tensor) -> Tensor:  # old compact node id -> new, per entry
            return node_shift.index_select(0, owner)

        def shift_edges(owner: Tensor) -> Tensor:  # old explainable-edge position -> new
            return edge_shift.index_select(0, owner)

        layers = []
        for item, kept_ptr, loop_ptr in zip(whole.layers, self.kept_ptr, self.loop_ptr):
            kept, kept_owner, _ = take_segments(kept_ptr, rows)
            loops, loop_owner, _ = take_segments(loop_ptr, rows)
            picked = torch.cat([kept, loops + item.mask_index.numel()])
            owner = torch.cat([kept_owner, loop_owner])
            weight = item.edge_weight
            layers.append(LayerInput(
                edge_index=item.edge_index.index_select(1, picked) + shift_nodes(owner),
                edge_weight=None if weight is None else weight.index_select(0, picked),
                mask_index=item.mask_index.index_select(0, kept) + shift_edges(kept_owner),
                switches=item.switches))
        edge_index = whole.edge_index.index_select(1, edges) + shift_nodes(edge_owner)
        return CompactBatch(node_index=whole.node_index.index_select(0, nodes), edge_index=edge_index,
                            target_index=whole.target_index.index_select(0, rows) + node_shift,
                            layers=layers, modules=whole.modules)


@dataclass
class _Prepared:
    """A layer's input in *view* coordinates (before compaction)."""

    edges: Tensor  # [K] view edge positions kept
    loops: Tensor  # [L] view nodes with a precomputed self-loop ([0] when none)
    weight: Tensor | None  # [K + L] or None
    switches: dict[str, Any]


#: Builds a layer's prepared input from (layer, view edge_index [2, m], number of view
#: nodes, need [n] bool, dtype, memo), or returns None when the layer's settings are not
#: covered; ``memo`` is a dict shared by the layers of one batch (work they can share).
Preparer = Callable[[MessagePassing, Tensor, int, Tensor, torch.dtype, dict],
                    "_Prepared | None"]

#: Layer types whose per-step input can be prepared once per batch, by type.
STATIC_LAYERS: dict[type, Preparer] = {}


def register_static_layer(*types: type) -> Callable[[Preparer], Preparer]:
    """Register a :data:`Preparer` for the message-passing layer ``types``."""
    def wrap(fn: Preparer) -> Preparer:
        for kind in types:
            if kind in STATIC_LAYERS:
                raise KeyError(f"static layer {kind.__name__!r} is already registered")
            STATIC_LAYERS[kind] = fn
        return fn
    return wrap


def _edges_into(edge_index: Tensor, need: Tensor) -> Tensor:
    return need[edge_index[1]].nonzero().view(-1)


@register_static_layer(GCNConv)
def _gcn(layer: MessagePassing, edge_index: Tensor, num_nodes: int, need: Tensor,
         dtype: torch.dtype, memo: dict) -> _Prepared | None:
    """Normalise once over the whole batch (full-graph degrees; layers with the same
    settings share it), keep the edges into ``need``."""
    if not layer.normalize or layer.cached or layer._cached_edge_index is not None \
            or layer.flow != "source_to_target":
        return None
    key = ("gcn_norm", layer.improved, layer.add_self_loops)
    if key not in memo:
        memo[key] = gcn_norm(edge_index, None, num_nodes, layer.improved,
                             layer.add_self_loops, layer.flow, dtype)
    full_index, weight = memo[key]
    m = edge_index.size(1)
    if full_index.size(1) < m or not torch.equal(full_index[:, :m], edge_index):
        return None  # gcn_norm reordered the edges (self-loops in the batch)
    edges = _edges_into(edge_index, need)
    loop_pos = m + _edges_into(full_index[:, m:], need)
    loops = full_index[1, loop_pos]
    return _Prepared(edges, loops, torch.cat([weight[edges], weight[loop_pos]]),
                     {"normalize": False})


@register_static_layer(GINConv, GraphConv)
def _in_edges_only(layer: MessagePassing, edge_index: Tensor, num_nodes: int, need: Tensor,
                   dtype: torch.dtype, memo: dict) -> _Prepared | None:
    """Sum/mean over in-edges: the edges into ``need`` suffice."""
    if layer.flow != "source_to_target":
        return None
    return _Prepared(_edges_into(edge_index, need), edge_index.new_zeros(0), None, {})


@register_static_layer(GATConv)
def _gat(layer: MessagePassing, edge_index: Tensor, num_nodes: int, need: Tensor,
         dtype: torch.dtype, memo: dict) -> _Prepared | None:
    """Attention softmax over a node's in-edges: the edges into ``need`` suffice."""
    if layer.lin_edge is not None:
        return None
    return _in_edges_only(layer, edge_index, num_nodes, need, dtype, memo)


def build_compact(model: nn.Module, view: Any, plan: LayerPlan) -> CompactBatch | None:
    """The :class:`CompactBatch` of node ``view`` for ``model`` (None: not applicable)."""
    layers = message_layers(model)
    if any(type(layer) not in STATIC_LAYERS for layer in layers):
        return None
    if view.edge_attr is not None or view.edge_type is not None:
        return None
    edge_index, n = view.edge_index, int(view.x.size(0))
    if bool((edge_index[0] == edge_index[1]).any()):
        return None
    prepared, memo = [], {}
    for layer, need in zip(layers, plan.need):
        item = STATIC_LAYERS[type(layer)](layer, edge_index, n, need, view.x.dtype, memo)
        if item is None:
            return None
        prepared.append(item)
    explainable = view.explainable
    if not torch.equal(plan.keep[0], explainable):
        return None  # the batch's explainable edges are not exactly layer 0's edges
    nodes = plan.need[0].clone()
    nodes[edge_index[0, explainable]] = True
    nodes[view.target_index] = True
    compact_id = torch.cumsum(nodes, 0) - 1
    explainable_pos = torch.cumsum(explainable, 0) - 1
    inputs = []
    for item in prepared:
        kept = compact_id[edge_index[:, item.edges]]
        loops = compact_id[item.loops]
        inputs.append(LayerInput(edge_index=torch.cat([kept, torch.stack([loops, loops])], dim=1),
                                 edge_weight=item.weight, mask_index=explainable_pos[item.edges],
                                 switches=item.switches))
    return CompactBatch(node_index=nodes.nonzero().view(-1),
                        edge_index=compact_id[edge_index[:, explainable]],
                        target_index=compact_id[view.target_index], layers=inputs,
                        modules=layers)


def compact_for(model: nn.Module, view: Any) -> CompactBatch | None:
    """The compact batch of ``view`` for ``model``, built once and cached on the view (per
    model layers), or None where it does not apply (module docstring)."""
    plan = model_plan(model, view)
    if plan is None:
        return None
    layers = message_layers(model)
    cache = view.__dict__.setdefault("_compact", {})
    key = tuple(id(layer) for layer in layers)
    if key not in cache or (cache[key] is not None
                            and not all(a is b for a, b in zip(cache[key].modules, layers))):
        cache[key] = build_compact(model, view, plan)
    return cache[key]


@contextlib.contextmanager
def compact_inputs(model: nn.Module, batch: CompactBatch, mask: Tensor | None) -> Iterator[None]:
    """Run ``model`` on ``batch``'s compact graph: each layer gets its prepared input and,
    with ``mask`` [M_v] (over the view's explainable edges), its messages scaled by the mask
    at the edges it keeps. Hooks and layer switches are restored on exit, also on error."""
    layers = message_layers(model)
    if len(layers) != len(batch.layers) or not all(a is b for a, b in zip(layers, batch.modules)):
        raise ValueError("compact batch was prepared for another model")
    handles, saved = [], []

    def make(item: LayerInput):
        def hook(module, args, kwargs):
            if len(args) < 2 or not isinstance(args[1], Tensor) \
                    or args[1].shape != batch.edge_index.shape:
                raise ValueError(f"{type(module).__name__}: expected the call "
                                 "(x, edge_index) of the compact graph")
            extra = {} if item.edge_weight is None else {"edge_weight": item.edge_weight}
            return (args[0], item.edge_index) + tuple(args[2:]), {**kwargs, **extra}
        return hook

    masks = None if mask is None else [mask.index_select(0, item.mask_index)
                                        for item in batch.layers]
    try:
        for layer, item in zip(layers, batch.layers):
            for name, value in item.switches.items():
                saved.append((layer, name, getattr(layer, name)))
                setattr(layer, name, value)
            handles.append(layer.register_forward_pre_hook(make(item), with_kwargs=True))
        with edge_mask(model, masks):
            yield
    finally:
        for handle in handles:
            handle.remove()
        for layer, name, value in reversed(saved):
            setattr(layer, name, value)


def compact_logits(model: nn.Module, batch: CompactBatch, x: Tensor) -> Tensor:
    """[B, C] the targets' outputs of ``model`` on ``batch``'s compact graph; ``x`` [n, F]
    are the *view's* node features. Call inside :func:`compact_inputs`."""
    out = model(x.index_select(0, batch.node_index), batch.edge_index)
    return out.index_select(0, batch.target_index)
