"""Node states of a frozen model, read from its message-passing layers by forward hooks.

The state of a node after layer ``l`` is the output of the model's ``l``-th
``MessagePassing`` layer (in module registration order, as :mod:`suite.graph.masking`
counts layers): what the layer returns, before any activation, dropout, jumping
knowledge or readout the model applies afterwards. Any model built from
``MessagePassing`` layers works; the model is never edited: a temporary forward
hook records the outputs and is removed in a ``finally``, also when the forward
raises.

Amortised explainers (PGExplainer) feed these states to their own networks.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn

from suite.graph.masking import message_layers
from suite.graph.subgraphs import InstanceBatch

__all__ = ["all_node_states", "capture_states", "forward_with_states", "node_states"]


def _indices(layers: Sequence[int] | None, count: int) -> list[int]:
    """Layer indices (negative ones count from the end) -> 0..count-1, checked."""
    if layers is None:
        return list(range(count))
    for index in layers:
        if not -count <= index < count:
            raise ValueError(f"layer index out of range: the model has {count} MessagePassing "
                             f"layers (got {index})")
    return [index % count for index in layers]


def _layer_output(output: object) -> Tensor:
    """The node-state tensor of a layer's return value (GAT may return a tuple)."""
    if isinstance(output, Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return output[0]
    raise TypeError(f"a message-passing layer returned {type(output).__name__}, not node states")


@contextlib.contextmanager
def capture_states(model: nn.Module, layers: Sequence[int] | None = None) -> Iterator[dict[int, Tensor]]:
    """Record the outputs of the model's message-passing layers while the context is open.

    ``layers`` are indices among :func:`~suite.graph.masking.message_layers` (negative
    indices count from the end; None: all layers). Yields a dict ``index -> [n, H]``
    filled by every forward inside the context (a layer called again overwrites
    its entry). The hooks are removed on exit, also on error.
    """
    all_layers = message_layers(model)
    if not all_layers:
        raise ValueError(f"{type(model).__name__} has no MessagePassing layers to read states from")
    chosen = _indices(layers, len(all_layers))
    states: dict[int, Tensor] = {}
    handles = []
    try:
        for index in chosen:
            def hook(module, inputs, output, _index=index):
                states[_index] = _layer_output(output)

            handles.append(all_layers[index].register_forward_hook(hook))
        yield states
    finally:
        for handle in handles:
            handle.remove()


def forward_with_states(model: nn.Module, view: InstanceBatch,
                        layers: Sequence[int] | None = (-1,)) -> tuple[Tensor, list[Tensor]]:
    """One forward of the unmasked model on ``view``.

    Returns ``(outputs [B, C] of the view's instances, [states [n, H_l] of each
    requested layer, in the order asked])``.
    """
    with capture_states(model, layers) as states:
        out = model(view.x, view.edge_index, **view.model_kwargs())
    order = _indices(layers, len(message_layers(model)))
    missing = [i for i in order if i not in states]
    if missing:
        raise RuntimeError(f"MessagePassing layer(s) {missing} of {type(model).__name__} did not run "
                           "in the forward pass")
    return view.select_outputs(out), [states[i] for i in order]


def node_states(model: nn.Module, view: InstanceBatch) -> Tensor:
    """[n, H]: the output of the model's last message-passing layer for every node of ``view``."""
    return forward_with_states(model, view, (-1,))[1][0]


def all_node_states(model: nn.Module, view: InstanceBatch) -> Tensor:
    """[n, sum_l H_l]: every message-passing layer's output, concatenated in layer order."""
    return torch.cat(forward_with_states(model, view, None)[1], dim=-1)
