"""Message-level hooks on any PyG ``MessagePassing`` model.

Explainers and metrics attach from the outside: the model is never edited. A hook
multiplies each layer's messages by a mask over the edges (PyG's convention for
edge masks: the mask scales messages *after* any degree normalisation, so a soft
mask never changes a node's degree). Layers that add self-loops (GCN, GAT) send
``E + N`` messages; the appended self-loop messages are left unmasked (checked:
every message beyond the mask must be a self-loop).

``mode="weight"`` (:func:`edge_mask`) is the other semantics, "the model run on the
weighted subgraph": the mask is an edge weight *before* any degree normalisation, so a
GCN layer's degrees are recomputed from the mask (``deg_v = 1 + sum_{u->v} m_uv``, the
self-loop weight stays 1) and a 0/1 mask equals deleting the 0 edges. Sum-aggregation
layers (GIN, GraphConv) have no normalisation, so there both modes coincide. Layers
whose aggregation renormalises over the edges (GAT's softmax) are refused in weight mode.

Every hook is removed when the context exits, also when the body raises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import GCNConv, GINConv, GraphConv, MessagePassing
from torch_geometric.utils import scatter


@dataclass
class MessageContext:
    """What a message hook sees of one layer call.

    Attributes:
        layer: index of the layer among the model's message-passing layers.
        edge_index: [2, E'] the edges the layer propagates over (``E' = E + N``
            when the layer appended self-loops).
        inputs: the keyword arguments PyG passes to ``message`` (``x_j``, ``x_i``,
            ``edge_weight``, ... as the layer's signature asks).
        propagate_kwargs: the keyword arguments of ``propagate`` (e.g. ``x``: the
            layer's node states, [N, F] or a (source, target) pair).
    """

    layer: int
    edge_index: Tensor
    inputs: dict
    propagate_kwargs: dict


MessageFn = Callable[[MessageContext, Tensor], Tensor]


def message_layers(model: nn.Module) -> list[MessagePassing]:
    """The model's message-passing layers in forward order (module registration order)."""
    return [m for m in model.modules() if isinstance(m, MessagePassing)]


def _broadcast(mask: Tensor, messages: Tensor, edge_index: Tensor) -> Tensor:
    """Mask [E] -> [E', 1, ...] matching ``messages`` [E', ...], ones for appended loops."""
    num_edges = mask.size(0)
    extra = messages.size(0) - num_edges
    if extra < 0 or (extra and not bool((edge_index[0, num_edges:] == edge_index[1, num_edges:]).all())):
        raise ValueError(
            f"mask has {num_edges} entries but the layer sent {messages.size(0)} messages "
            "(only appended self-loop messages may go unmasked)"
        )
    if extra:
        mask = torch.cat([mask, mask.new_ones(extra)])
    return mask.view([-1] + [1] * (messages.dim() - 1)).to(messages.dtype)


@contextlib.contextmanager
def message_hooks(model: nn.Module, fn: MessageFn) -> Iterator[list[MessagePassing]]:
    """Run ``fn(context, messages) -> messages`` after every layer's ``message()``.

    Yields the hooked layers. All hooks are removed on exit, also on error.
    """
    layers = message_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no MessagePassing layers to hook")
    handles = []
    seen: dict[int, tuple[Tensor, dict]] = {}
    try:
        for index, layer in enumerate(layers):
            def pre_hook(module, inputs, _index=index):
                edge_index, _size, kwargs = inputs
                seen[_index] = (edge_index, kwargs)

            def hook(module, inputs, output, _index=index):
                edge_index, kwargs = seen[_index]
                return fn(MessageContext(_index, edge_index, inputs[0], kwargs), output)

            handles.append(layer.register_propagate_forward_pre_hook(pre_hook))
            handles.append(layer.register_message_forward_hook(hook))
        yield layers
    finally:
        for handle in handles:
            handle.remove()


def _gcn_reweighted(ctx: MessageContext, messages: Tensor, mask: Tensor) -> Tensor:
    """GCN messages with the normalisation recomputed from ``mask`` [E] as edge weights.

    The layer sent ``norm_e * x_j`` with ``norm_e = deg_j^-1/2 w_e deg_i^-1/2`` over its
    ``E + N`` edges (appended self-loops with weight 1); the result is ``norm'_e * x_j``
    with ``w'_e = m_e`` (1 on the self-loops) and ``deg'_i = sum_{e into i} w'_e``, as
    PyG's ``gcn_norm`` computes it.
    """
    weight = _broadcast(mask, messages, ctx.edge_index).reshape(-1)
    x = ctx.propagate_kwargs["x"]
    num_nodes = (x[0] if isinstance(x, (tuple, list)) else x).size(0)
    row, col = ctx.edge_index
    deg = scatter(weight, col, dim=0, dim_size=num_nodes, reduce="sum")
    inv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
    norm = inv[row] * weight * inv[col]
    return ctx.inputs["x_j"] * norm.view([-1] + [1] * (messages.dim() - 1))


def weight_mode_reason(model: nn.Module) -> str | None:
    """Why ``mode="weight"`` cannot mask ``model`` (one line), or None when it can."""
    for layer in message_layers(model):
        if isinstance(layer, GCNConv):
            if not (layer.normalize and layer.add_self_loops) or layer.cached or layer.improved:
                return ("mask mode 'weight': GCNConv must normalise with self-loops, "
                        "uncached and not improved")
        elif isinstance(layer, GraphConv):
            if layer.aggr != "add":
                return f"mask mode 'weight': GraphConv aggr {layer.aggr!r} is not a sum"
        elif not isinstance(layer, GINConv):
            return (f"mask mode 'weight' supports GCNConv, GINConv and GraphConv layers "
                    f"(got {type(layer).__name__})")
    return None


#: Mask semantics (module docstring): scale messages after normalisation, or edge weights.
MASK_MODES = ("message", "weight")


@contextlib.contextmanager
def edge_mask(model: nn.Module, mask: Tensor | Sequence[Tensor] | None,
              mode: str = "message") -> Iterator[None]:
    """Scale messages by ``mask`` [E] (one mask for all layers) or one [E] mask per layer.

    ``mode``: ``"message"`` scales each message after the layer's normalisation (PyG's
    convention); ``"weight"`` applies the mask as edge weights before it (module
    docstring; every layer must then see the whole graph, no pruned edge sets).
    ``None`` is a no-op, so callers need no special case for the unmasked model.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"mask mode: expected one of {', '.join(MASK_MODES)} (got {mode!r})")
    if mask is None:
        yield
        return
    per_layer = not isinstance(mask, Tensor)
    reason = weight_mode_reason(model) if mode == "weight" else None
    if reason:
        raise ValueError(reason)
    gcn_layers = {id(m) for m in message_layers(model) if isinstance(m, GCNConv)}
    layer_ids = [id(m) for m in message_layers(model)]

    def apply(ctx: MessageContext, messages: Tensor) -> Tensor:
        layer_mask = mask[ctx.layer] if per_layer else mask
        if mode == "weight" and layer_ids[ctx.layer] in gcn_layers:
            return _gcn_reweighted(ctx, messages, layer_mask)
        return messages * _broadcast(layer_mask, messages, ctx.edge_index)

    with message_hooks(model, apply):
        yield
