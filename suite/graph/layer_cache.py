"""Reuse the outputs of frozen, ungated message-passing layers instead of recomputing them.

An explainer that gates only the top layers of a frozen model (GraphMask switches its
layers on from the top down) leaves the layers below the lowest gated one as the bare
model: on the same graph and features, in eval mode, their outputs are the same on
every optimisation step. :func:`record_layer_outputs` captures each message-passing
layer's output during one (no-grad) forward; inside :func:`reuse_layer_outputs` the
given layers return those tensors without running (no ``propagate``, no linear maps),
and everything after them (activations, the upper layers, the head) runs as before.

The results are the same numbers as a full forward, as long as (a) the reused layers'
inputs are unchanged, i.e. every layer below them is reused too or ungated and the
model input is the same, (b) the model is deterministic (eval mode: no dropout) and
(c) each layer is called once per forward, in :func:`~suite.graph.masking.message_layers`
order. :func:`record_layer_outputs` checks (c) and :func:`lower_layer_outputs` refuses
a model in training mode; callers keep (a).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import Tensor, nn

from suite.graph.masking import message_layers


@contextlib.contextmanager
def record_layer_outputs(model: nn.Module) -> Iterator[dict[int, Tensor]]:
    """Yield a dict filled, during the body's forward, with ``{layer index: output}`` (detached)
    of every message-passing layer. A layer called more than once leaves the dict empty
    after the body (its output is not one fixed tensor), so callers fall back to running it."""
    store: dict[int, Tensor] = {}
    calls: dict[int, int] = {}
    handles = []

    def make(index: int):
        def hook(module, args, output):
            calls[index] = calls.get(index, 0) + 1
            if isinstance(output, Tensor):
                store[index] = output.detach()
        return hook

    try:
        for index, layer in enumerate(message_layers(model)):
            handles.append(layer.register_forward_hook(make(index)))
        yield store
    finally:
        for handle in handles:
            handle.remove()
    if any(count != 1 for count in calls.values()):
        store.clear()


def lower_layer_outputs(model: nn.Module, outputs: dict[int, Tensor],
                        lowest_gated: int) -> dict[int, Tensor]:
    """The recorded ``outputs`` of the layers below ``lowest_gated`` (0-based), all of them or
    none: {} when one is missing or the model is in training mode (dropout would differ)."""
    if model.training or any(k not in outputs for k in range(lowest_gated)):
        return {}
    return {k: outputs[k] for k in range(lowest_gated)}


@contextlib.contextmanager
def reuse_layer_outputs(model: nn.Module, outputs: dict[int, Tensor]) -> Iterator[None]:
    """Inside the body, message-passing layer ``k`` (for each key of ``outputs``) returns
    ``outputs[k]`` instead of running its ``forward`` (forward pre-hooks still run). The
    layers are restored on exit, also on error."""
    layers = message_layers(model)
    patched = []
    try:
        for k, value in outputs.items():
            layer = layers[k]
            own = layer.__dict__.get("forward")

            def fixed(*args, _value=value, **kwargs):
                return _value

            layer.forward = fixed  # type: ignore[method-assign]
            patched.append((layer, own))
        yield
    finally:
        for layer, own in reversed(patched):
            if own is None:
                del layer.forward
            else:
                layer.forward = own  # type: ignore[method-assign]
