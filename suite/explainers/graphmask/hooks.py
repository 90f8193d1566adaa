"""Message hooks: record each layer's inputs and gate its messages."""

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from suite.graph.compact import CompactBatch, compact_inputs, compact_logits
from suite.graph.masking import MessageContext, message_hooks
from suite.graph.subgraphs import InstanceBatch


def _real_messages(ctx: MessageContext, messages: Tensor, num_edges: int) -> None:
    """Check that the layer sent ``num_edges`` real messages plus appended self-loops."""
    extra = messages.size(0) - num_edges
    loops = ctx.edge_index[:, num_edges:]
    if extra < 0 or (extra and not bool((loops[0] == loops[1]).all())):
        raise ValueError(
            f"layer {ctx.layer} sent {messages.size(0)} messages for {num_edges} edges: GraphMask "
            "gates one message per edge (only appended self-loop messages may go ungated)")


def _node_states(ctx: MessageContext) -> tuple[Tensor, Tensor]:
    """The layer's (source, target) node states as passed to ``propagate`` (``x``)."""
    x = ctx.propagate_kwargs.get("x")
    if isinstance(x, (tuple, list)):
        src, dst = x[0], x[1] if len(x) > 1 else None
        dst = src if dst is None else dst
    else:
        src = dst = x
    if not isinstance(src, Tensor) or not isinstance(dst, Tensor):
        raise ValueError(f"layer {ctx.layer} passes no node states 'x' to propagate: "
                         "GraphMask's gate reads (h_u, m_uv, h_v)")
    return src, dst


@dataclass
class LayerInputs:
    """What gate k reads for the ``E`` real edges: flattened ``h_u``, ``m_uv``, ``h_v``."""

    src: Tensor
    msg: Tensor
    dst: Tensor
    msg_shape: tuple[int, ...]


@contextlib.contextmanager
def record_inputs(model: nn.Module, num_edges: int) -> Iterator[dict[int, LayerInputs]]:
    """Record every layer's gate inputs (detached) during the forward passes in the body."""
    store: dict[int, LayerInputs] = {}

    def fn(ctx: MessageContext, messages: Tensor) -> Tensor:
        _real_messages(ctx, messages, num_edges)
        src, dst = _node_states(ctx)
        ei = ctx.edge_index[:, :num_edges]
        store[ctx.layer] = LayerInputs(
            src=src[ei[0]].reshape(num_edges, -1).detach(),
            msg=messages[:num_edges].reshape(num_edges, -1).detach(),
            dst=dst[ei[1]].reshape(num_edges, -1).detach(),
            msg_shape=tuple(messages.shape[1:]),
        )
        return messages

    with message_hooks(model, fn):
        yield store


@contextlib.contextmanager
def gate_messages(model: nn.Module, num_edges: int | Sequence[int], gates: dict[int, Tensor],
                  baselines: dict[int, Tensor], explainable: Tensor | None = None) -> Iterator[None]:
    """Replace messages of real edges at the layers in ``gates``: ``z m + (1 - z) b``.

    ``num_edges``: real edges per layer call (one int for every layer, or one per layer,
    as on a compact batch, ``suite.graph.compact``, where each layer keeps its own edges).

    ``gates[k]``: [M] gate values of the explainable edges (all ``E`` edges when
    ``explainable`` is None); context edges and appended self-loops pass unchanged.
    ``baselines[k]``: the message shape (one baseline) or [M, *message shape] (one
    per explainable edge, e.g. per instance). All hooks go when the body exits.
    """

    # the body runs one graph (an optimisation loop calls it once per step), so each
    # layer's message layout is checked on its first call per (message, edge) count only
    checked: set[tuple[int, int, int]] = set()

    def fn(ctx: MessageContext, messages: Tensor) -> Tensor:
        edges = num_edges if isinstance(num_edges, int) else num_edges[ctx.layer]
        key = (ctx.layer, int(messages.size(0)), int(ctx.edge_index.size(1)))
        if key not in checked:
            _real_messages(ctx, messages, edges)
            checked.add(key)
        if ctx.layer not in gates:
            return messages
        real, rest = messages[:edges], messages[edges:]
        z, base = gates[ctx.layer], baselines[ctx.layer]
        if z.dtype != messages.dtype:
            z = z.to(messages.dtype)
        if base.dtype != messages.dtype:
            base = base.to(messages.dtype)
        if explainable is None:
            zz = z.view([-1] + [1] * (real.dim() - 1))
            new = zz * real + (1 - zz) * base
        else:
            part = real[explainable]
            zz = z.view([-1] + [1] * (part.dim() - 1))
            new = real.masked_scatter(explainable.view([-1] + [1] * (real.dim() - 1)).expand_as(real),
                                      zz * part + (1 - zz) * base)
        return torch.cat([new, rest]) if rest.numel() else new

    with message_hooks(model, fn):
        yield


def run_view(model: nn.Module, view: InstanceBatch) -> Tensor:
    return view.select_outputs(model(view.x, view.edge_index, **view.model_kwargs()))


def gated_edges(compact: CompactBatch | None) -> list[Tensor] | None:
    """Per layer, the positions (among the view's explainable edges) of the edges the layer
    gates: on a ``compact`` batch (``suite.graph.compact``) the edges it keeps; None (no compact
    batch): every explainable edge at every layer."""
    return None if compact is None else [item.mask_index for item in compact.layers]


@contextlib.contextmanager
def gated_model(model: nn.Module, view: InstanceBatch, compact: CompactBatch | None,
                gates: dict[int, Tensor], base: dict[int, Tensor]) -> Iterator[Callable[[], Tensor]]:
    """Yield ``run() -> [B, C]``, the view's outputs with the layers in ``gates`` gated
    (:func:`gated_logits`); the hooks go in once and read ``gates`` and ``base`` at every
    call, so a loop can update the two dicts in place between calls."""
    if compact is None:
        # graph batches: every edge is explainable, so no masked select/scatter
        explainable = None if bool(view.explainable.all()) else view.explainable
        with gate_messages(model, int(view.edge_index.size(1)), gates, base, explainable):
            yield lambda: run_view(model, view)
        return
    counts = [int(item.mask_index.numel()) for item in compact.layers]
    with compact_inputs(model, compact, None), gate_messages(model, counts, gates, base):
        yield lambda: compact_logits(model, compact, view.x)


def gated_logits(model: nn.Module, view: InstanceBatch, compact: CompactBatch | None,
                 gates: dict[int, Tensor], base: dict[int, Tensor]) -> Tensor:
    """[B, C] the view's outputs with the layers in ``gates`` gated: ``gates[k]`` and the
    baseline messages ``base[k]`` [*, *message shape] are over layer ``k``'s gated edges
    (:func:`gated_edges`: every explainable edge, or on a ``compact`` batch only the edges
    layer ``k`` keeps, which give the same outputs)."""
    with gated_model(model, view, compact, gates, base) as run:
        return run()
