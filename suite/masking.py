"""Message-level hooks on any PyG ``MessagePassing`` model.

Explainers and metrics attach from the outside: the model is never edited. A hook
multiplies each layer's messages by a mask over the edges (PyG's convention for
edge masks: the mask scales messages *after* any degree normalisation, so a soft
mask never changes a node's degree). Layers that add self-loops (GCN, GAT) send
``E + N`` messages; the ``N`` appended self-loop messages are left unmasked.

Every hook is removed when the context exits, also when the body raises.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import MessagePassing

MessageFn = Callable[[int, dict, Tensor], Tensor]


def message_layers(model: nn.Module) -> list[MessagePassing]:
    """The model's message-passing layers in forward order (module registration order)."""
    return [m for m in model.modules() if isinstance(m, MessagePassing)]


def _broadcast(mask: Tensor, messages: Tensor) -> Tensor:
    """Mask [E] -> [E, 1, ...] matching ``messages`` [E(+N), ...], ones for appended loops."""
    extra = messages.size(0) - mask.size(0)
    if extra < 0:
        raise ValueError(
            f"mask has {mask.size(0)} entries but the layer sent {messages.size(0)} messages"
        )
    if extra:
        mask = torch.cat([mask, mask.new_ones(extra)])
    return mask.view([-1] + [1] * (messages.dim() - 1)).to(messages.dtype)


@contextlib.contextmanager
def message_hooks(model: nn.Module, fn: MessageFn) -> Iterator[list[MessagePassing]]:
    """Run ``fn(layer_index, message_kwargs, messages) -> messages`` after every ``message()``.

    ``message_kwargs`` is the dict PyG passes to ``message`` (``x_j``, ``x_i``,
    ``edge_weight``, ... as the layer's signature asks). Yields the hooked layers.
    """
    layers = message_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no MessagePassing layers to hook")
    handles = []
    try:
        for index, layer in enumerate(layers):
            def hook(module, inputs, output, _index=index):
                return fn(_index, inputs[0], output)

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

    def apply(index: int, kwargs: dict, messages: Tensor) -> Tensor:
        layer_mask = mask[index] if per_layer else mask
        return messages * _broadcast(layer_mask, messages)

    with message_hooks(model, apply):
        yield
