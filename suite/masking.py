"""Message-level hooks on any PyG ``MessagePassing`` model.

Explainers and metrics attach from the outside: the model is never edited. A hook
multiplies each layer's messages by a mask over the edges (PyG's convention for
edge masks: the mask scales messages *after* any degree normalisation, so a soft
mask never changes a node's degree). Layers that add self-loops (GCN, GAT) send
``E + N`` messages; the appended self-loop messages are left unmasked (checked:
every message beyond the mask must be a self-loop).

Every hook is removed when the context exits, also when the body raises.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import MessagePassing


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


@contextlib.contextmanager
def edge_mask(model: nn.Module, mask: Tensor | Sequence[Tensor] | None) -> Iterator[None]:
    """Scale messages by ``mask`` [E] (one mask for all layers) or one [E] mask per layer.

    ``None`` is a no-op, so callers need no special case for the unmasked model.
    """
    if mask is None:
        yield
        return
    per_layer = not isinstance(mask, Tensor)

    def apply(ctx: MessageContext, messages: Tensor) -> Tensor:
        layer_mask = mask[ctx.layer] if per_layer else mask
        return messages * _broadcast(layer_mask, messages, ctx.edge_index)

    with message_hooks(model, apply):
        yield
