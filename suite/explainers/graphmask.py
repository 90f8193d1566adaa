"""GraphMask (Schlichtkrull, De Cao, Titov; ICLR 2021; arXiv 2010.00577).

Two registered explainers share the objective, the gates and the schedule:

- ``graphmask``: the paper's amortised method. One gate network per message-passing
  layer, trained on a training set, then applied to unseen instances in one
  forward pass.
- ``graphmask-instance``: the per-instance variant the paper compares against:
  free gate logits per edge, layer and instance, one batched optimisation.

**Gate of layer k (amortised).** For every real edge ``u -> v`` the gate network
reads the source state ``h_u``, the message ``m_uv`` and the target state ``h_v``
*of layer k* (``h`` = the node states the layer passes to ``propagate`` as ``x``, a
``(source, target)`` pair where the layer uses one; trailing dimensions such as
GAT's heads are flattened). Each input goes through its own ``Linear`` (no bias)
and ``LayerNorm``; the three are summed with one bias vector and divided by 3;
ReLU; ``Linear`` to one logit. Hidden size = message size. The gate inputs come
from the *unmasked* model (one no-grad pass records them, as the reference code
does), so explaining is one forward pass of the model.

**Gates and replacement.** Logit -> hard-concrete gate ``z`` (module
:mod:`suite.explainers.hard_concrete`: temperature 1/3, gamma -0.2, zeta 1.0, +3
shift so gates start open, straight-through 0.5 threshold). Message of a real
edge at a gated layer: ``m' = z m + (1 - z) b_k`` with a learned baseline vector
``b_k`` (message shape) per layer. Self-loop messages that GCN/GAT append after
the ``E`` real ones pass unchanged.

**Objective** (per step, over a mini-batch)::

    max_alpha min_{gates, baselines}
        penalty_scaling * sum_{k enabled} mean_edges P(z_k != 0)
        + softplus(alpha) * (D - allowance)

``D`` = the mean over the batch's instances of ``KL(p_orig || p_masked)``, the
divergence of the masked model's class distribution from the model's *own original*
distribution (we use the KL to the full distribution, not the cross-entropy to the
original argmax: KL is 0 for the unmasked model, so the allowance ``beta`` = 0.03 is
a budget on the change the gates cause, whatever the model's confidence).
``alpha`` starts at 0.55 and follows gradient *ascent* with (centered) RMSprop,
lr 1e-2, clipped to [-2, 30]; gates and baselines follow Adam.

**Schedule.** Layers are switched on from the top (last) layer down: during epoch
``e`` (0-based) the top ``min(L, e // epochs_per_layer + 1)`` layers are gated
(:func:`enabled_layers`); earlier-enabled layers keep training. The target model is
frozen (eval mode, no gradients into its parameters; the reference code leaves the
model's dropout on during probe training, here the divergence measures the gates alone).

**Data (amortised).** Graph tasks: mini-batches of ``batch_size`` training graphs
(reshuffled each epoch). Node tasks: one step per epoch on the full graph, ``D``
averaged over the training target nodes; with ``node_view="subgraph"`` on the union of
the targets' ``2L``-hop neighbourhoods instead (the same outputs and the same gate inputs
on every explainable edge; the L0 term is then the mean over that subgraph's edges, not
the whole graph's, so on a large graph of many components, such as a treebank, it is
not diluted by edges no target reads, and each step costs the subgraph, not the graph).

**Model selection** (amortised). After every ``eval_every`` epochs the gates are
evaluated in eval mode (hard, noise-free) on the dev set, the validation instances
(``dev_set="explain"``: ``dataset.explain_ids["val"]``, chosen like the fit
instances; ``"split"``: ``dataset.splits["val"]``; never test instances). The kept
state is the one with the fewest retained dev edges (summed over layers; a layer
not yet gated retains all) whose dev accuracy (w.r.t. the dataset's labels) differs
by less than ``dev_tolerance`` (5%) relative from the unmasked model's; when none
qualifies, the last state (:func:`select_candidate`).

**Scores.** ``edge_layer_scores[k, e]`` = ``P(z_k,e > 0.5)``, the probability that
the training-mode gate of edge ``e`` at layer ``k`` is open (a strictly increasing
function of the logit, in (0, 1), no ties; :func:`hard_concrete.open_probability`).
``edge_scores[e]`` = the maximum over the gated layers (``layer_reduce="max"``: an
edge counts as much as its most-used message; ``"mean"`` is offered; the amortised
``graphmask`` also takes ``"max-varying"``, the max over the gated layers whose gate scores
vary over the dev instances' edges (a layer whose gate network sees the same input on every
edge, e.g. the first layer of a sum-aggregating model on constant node features, gives one
score to all edges, and under ``max`` that constant ties every edge it exceeds; all layers
when none varies), and ``"auto"``: after ``fit``, whichever of the three keeps the model's
own prediction longest as low-scored edges are dropped on the dev instances
(:func:`~suite.metrics.drop_curve.drop_curve_score`; no ground truth read).
``meta["hard_gates"]`` [L, M] are the eval-mode hard gates. A layer the selected
amortised probe does not gate yet (model selection picked an epoch before the
schedule reached it) passes every message: its scores are 1 and its hard gates
open, and it is left out of the reduction (its gate network was never trained).
For node tasks the gates are per edge, not per target: they are computed once on
the full graph and each target reads those of its explainable edges.

Differences from PyG's ``GraphMaskExplainer`` (registered separately as
``pyg-graphmask``): see ``../shared/REFERENCES.md``; in short PyG trains per
instance, re-creates lambda every step, uses a scalar baseline, zeta 1.2, a
min/max-midpoint threshold, rewrites the model's messages and adds a feature mask.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from suite.core.config import OMIT_DEFAULT, ConfigError
from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers import hard_concrete as hc
from suite.explainers.base import Explainer, ExplainerInfo, register_explainer
from suite.explainers.lean_adam import LeanAdam
from suite.explainers.toolkit import (
    BatchedConfig,
    ViewExplainer,
    ViewResult,
    explained_edge_instance,
    frozen,
    mask_support_reason,
    model_device,
    model_fingerprint,
    model_num_hops,
    prepare_fit,
)
from suite.graph.compact import CompactBatch, compact_for, compact_inputs, compact_logits
from suite.graph.layer_cache import lower_layer_outputs, record_layer_outputs, reuse_layer_outputs
from suite.graph.masking import MessageContext, message_hooks, message_layers
from suite.graph.subgraphs import InstanceBatch, edge_extras, graph_batch, hop_union, instance_batch
from suite.metrics.drop_curve import drop_curve_score
from suite.protocol import DEV_SETS, dev_instances

#: Random stream (with the seed) of the amortised training noise and batch order.
_TRAIN_STREAM = 7_340_033
#: Random stream of the amortised gate network's initialisation.
_INIT_STREAM = 7_340_034
LAYER_REDUCE = ("max", "mean")
#: ``layer_reduce`` values of the amortised ``graphmask`` only (module doc): the max over the
#: layers whose dev gate scores vary, and the per-fit choice among the others.
MAX_VARYING = "max-varying"
AUTO_REDUCE = "auto"
AMORTISED_REDUCE = LAYER_REDUCE + (MAX_VARYING,)
#: A gated layer whose dev gate scores span less than this counts as constant.
CONSTANT_SPAN = 1e-6
NODE_VIEWS = ("graph", "subgraph")
#: ``baseline`` values of ``graphmask-instance`` (:class:`GraphMaskInstanceConfig`).
INSTANCE_BASELINES = ("learned", "zero")


# ------------------------------------------------------------------------ config

@dataclass
class GraphMaskObjectiveConfig(hc.HardConcreteConfig):
    """Fields shared by both variants (the hard-concrete constants are inherited).

    Attributes:
        epochs_per_layer: epochs each newly enabled layer trains before the next
            lower one is switched on (total epochs = layers x this).
        lr: Adam learning rate of gates and baselines (the paper: 3e-4; our
            default 1e-3, see :class:`GraphMaskConfig`).
        penalty_scaling: weight of the expected-L0 term (ours; not a paper value).
        allowance: beta, the divergence the constraint allows (paper: 0.03).
        lambda_init: initial alpha, lambda = softplus(alpha) (paper: 0.55).
        lambda_lr: RMSprop learning rate of alpha (paper: 1e-2).
        lambda_min, lambda_max: clip of alpha after each step (paper: -2, 30).
        lambda_centered: centered RMSprop for alpha (as PyG's port of the reference).
        layer_reduce: ``"max"`` or ``"mean"`` over layers for ``edge_scores`` (``graphmask``
            also ``"max-varying"`` and ``"auto"``, module doc).
        temperature, gamma, zeta, loc_bias, threshold, eps: the hard-concrete
            constants (:class:`~suite.explainers.hard_concrete.HardConcreteConfig`).
    """

    epochs_per_layer: int = 100
    lr: float = 1e-3  # the paper: 3e-4 (see GraphMaskConfig)
    penalty_scaling: float = 1.0
    allowance: float = 0.03
    lambda_init: float = 0.55
    lambda_lr: float = 1e-2
    lambda_min: float = -2.0
    lambda_max: float = 30.0
    lambda_centered: bool = True
    layer_reduce: str = "max"

    def __post_init__(self) -> None:
        if self.epochs_per_layer < 1:
            raise ConfigError(f"epochs_per_layer: must be >= 1 (got {self.epochs_per_layer})")
        for name in ("lr", "lambda_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0 (got {getattr(self, name)})")
        for name in ("penalty_scaling", "allowance"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0 (got {getattr(self, name)})")
        if not self.lambda_min <= self.lambda_init <= self.lambda_max:
            raise ConfigError(f"lambda_init: must lie in [lambda_min, lambda_max] = "
                              f"[{self.lambda_min}, {self.lambda_max}] (got {self.lambda_init})")
        choices = self.layer_reduce_choices()
        if self.layer_reduce not in choices:
            raise ConfigError(f"layer_reduce: expected one of {', '.join(choices)} "
                              f"(got {self.layer_reduce!r})")
        hc.validate(self)

    @classmethod
    def layer_reduce_choices(cls) -> tuple[str, ...]:
        return LAYER_REDUCE

    @property
    def hard_concrete(self) -> hc.HardConcreteConfig:
        return hc.constants(self)


@dataclass
class GraphMaskConfig(GraphMaskObjectiveConfig):
    """Hyper-parameters of the amortised ``graphmask`` (plus the shared fields above).

    ``lr`` defaults to 1e-3, not the paper's 3e-4: a node task trains on its one
    graph, one step per epoch, so 100 epochs per layer are only 100 steps (the
    paper's datasets give thousands of mini-batch steps per epoch; the measurements
    are in docs/explainer-settings.md). Graph tasks take ``len(ids) / batch_size``
    steps per epoch, so far fewer epochs per layer suffice there (e.g. 10).

    Attributes:
        batch_size: training graphs per step (graph tasks; node tasks train on the
            full graph, one step per epoch).
        eval_every: evaluate on the dev set after every this many epochs (and after
            the last one).
        dev_tolerance: largest relative change of dev accuracy a kept state may cause.
        dev_set: ``"explain"`` (validation instances chosen like explained ones,
            ``dataset.explain_ids["val"]``, falling back to the split) or ``"split"``
            (``dataset.splits["val"]``).
        node_view: node tasks: ``"graph"`` (fit, dev and explain on the whole graph) or
            ``"subgraph"`` (on the union of the instances' ``2L``-hop neighbourhoods; see
            the module doc). Left out of the cell key at its default.
    """

    batch_size: int = 32
    eval_every: int = 1
    dev_tolerance: float = 0.05
    dev_set: str = "explain"
    node_view: str = field(default="graph", metadata={OMIT_DEFAULT: True})

    @classmethod
    def layer_reduce_choices(cls) -> tuple[str, ...]:
        return AMORTISED_REDUCE + (AUTO_REDUCE,)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1 (got {getattr(self, name)})")
        if not 0 <= self.dev_tolerance < 1:
            raise ConfigError(f"dev_tolerance: must lie in [0, 1) (got {self.dev_tolerance})")
        if self.dev_set not in DEV_SETS:
            raise ConfigError(f"dev_set: expected one of {', '.join(DEV_SETS)} (got {self.dev_set!r})")
        if self.node_view not in NODE_VIEWS:
            raise ConfigError(f"node_view: expected one of {', '.join(NODE_VIEWS)} (got {self.node_view!r})")


@dataclass
class GraphMaskInstanceConfig(BatchedConfig, GraphMaskObjectiveConfig):
    """Hyper-parameters of ``graphmask-instance`` (the shared fields plus ``batched``).

    Free logits move by about ``lr`` per Adam step, so the paper's 3e-4 (chosen for
    a gate *network*) would need thousands of steps to close a gate: the default
    here is 0.1 (ours).

    Attributes:
        baseline: ``"learned"`` (the paper's: a baseline message per layer and instance,
            optimised with the gates) or ``"zero"`` (dropped messages are zeroed and
            nothing but the gates is optimised: erasure, not the paper's method; a
            diagnostic of the learned baseline's hindsight bias). Left out of the cell
            key at its default.
    """

    lr: float = 0.1
    baseline: str = field(default="learned", metadata={OMIT_DEFAULT: True})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.baseline not in INSTANCE_BASELINES:
            raise ConfigError(f"baseline: expected one of {', '.join(INSTANCE_BASELINES)} "
                              f"(got {self.baseline!r})")


# ------------------------------------------------------------------ pure helpers

def enabled_layers(epoch: int, num_layers: int, epochs_per_layer: int) -> list[int]:
    """Layers gated during 0-based ``epoch``: the top ``min(L, epoch // epl + 1)`` layers."""
    count = min(num_layers, epoch // epochs_per_layer + 1)
    return list(range(num_layers - count, num_layers))


def divergence(original_logits: Tensor, masked_logits: Tensor) -> Tensor:
    """[B] ``KL(p_orig || p_masked) = sum_c p_orig,c (log p_orig,c - log p_masked,c)``."""
    log_p = torch.log_softmax(original_logits, dim=-1)
    log_q = torch.log_softmax(masked_logits, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


class SafeRMSprop:
    """RMSprop for one tensor (no momentum, no weight decay), ``torch.optim.RMSprop``'s
    update except that the centered variance estimate is clamped at 0 before its root.

    Per step with gradient ``g`` (smoothing ``rho`` = 0.99, ``eps`` = 1e-8, PyTorch's)::

        s = rho s + (1 - rho) g^2;   m = rho m + (1 - rho) g            (m: centered only)
        p -= lr * g / (sqrt(max(s - m^2, 0)) + eps)    (centered; else sqrt(s) + eps)

    ``s - m^2`` is a variance, >= 0 in exact arithmetic, but it tends to 0 when ``g``
    stays (almost) constant, and in float32 it then drops below 0 by rounding:
    ``torch.optim.RMSprop(centered=True)`` takes the root of that negative number and
    turns the parameter into NaN. GraphMask's alpha gets an almost constant gradient
    whenever the divergence stays under the allowance (e.g. a model whose output
    hardly depends on its input): alpha sits at ``lambda_min`` and PyTorch's centered
    RMSprop made it NaN after ~1,460 steps. Otherwise the two are the same operations
    in the same order, so the results are bit-identical (test).
    """

    def __init__(self, param: Tensor, lr: float, centered: bool, rho: float = 0.99,
                 eps: float = 1e-8) -> None:
        self.param, self.lr, self.centered, self.rho, self.eps = param, lr, centered, rho, eps
        self.square_avg = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.grad_avg = torch.zeros_like(param, memory_format=torch.preserve_format)

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grad = self.param.grad
        if grad is None:
            return
        self.square_avg.mul_(self.rho).addcmul_(grad, grad, value=1 - self.rho)
        if self.centered:
            self.grad_avg.lerp_(grad, 1 - self.rho)
            avg = self.square_avg.addcmul(self.grad_avg, self.grad_avg, value=-1).clamp_(min=0).sqrt_()
        else:
            avg = self.square_avg.sqrt()
        self.param.addcdiv_(grad, avg.add_(self.eps), value=-self.lr)


class Lagrangian:
    """``lambda = softplus(alpha)``, alpha [shape] updated by gradient ascent.

    ``term(d)`` = ``softplus(alpha) * (d - allowance)`` goes into the loss; after the
    loss's ``backward`` (which fills ``alpha.grad = sigmoid(alpha) (d - allowance)``),
    :meth:`ascend` flips the gradient, takes one RMSprop step (:class:`SafeRMSprop`) and
    clips alpha, so lambda grows while the divergence exceeds the allowance and shrinks
    otherwise.
    """

    def __init__(self, cfg: GraphMaskObjectiveConfig, shape: Sequence[int] = (),
                 device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self._diff: Tensor | None = None  # (div - allowance) of the last direct_term
        self.alpha = torch.full(tuple(shape), float(cfg.lambda_init), device=device, requires_grad=True)
        self.optimizer = SafeRMSprop(self.alpha, lr=cfg.lambda_lr, centered=cfg.lambda_centered)

    @property
    def multiplier(self) -> Tensor:
        return F.softplus(self.alpha.detach())

    def term(self, div: Tensor) -> Tensor:
        return F.softplus(self.alpha) * (div - self.cfg.allowance)

    def direct_term(self, div: Tensor) -> Tensor:
        """:meth:`term` whose backward reaches ``div`` only; :meth:`direct_grad` (after the
        backward) then sets ``alpha.grad`` to the numbers autograd gives ``term(div).sum()``."""
        diff = div - self.cfg.allowance
        self._diff = diff.detach()
        return F.softplus(self.alpha.detach()) * diff

    @torch.no_grad()
    def direct_grad(self) -> None:
        """``alpha.grad`` of the last :meth:`direct_term`'s sum: softplus' backward kernel at
        alpha with the upstream ``1.0 * (div - allowance)`` (F.softplus: beta 1, threshold 20)."""
        self.alpha.grad = torch.ops.aten.softplus_backward(self._diff, self.alpha.detach(), 1.0, 20.0)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def ascend(self) -> None:
        if self.alpha.grad is None:
            return
        self.alpha.grad.neg_()
        self.optimizer.step()
        with torch.no_grad():
            self.alpha.clamp_(self.cfg.lambda_min, self.cfg.lambda_max)


@dataclass
class Candidate:
    """One evaluated probe state (model selection).

    Attributes:
        epoch: 0-based epoch after which it was evaluated.
        retained: hard-open gates on dev edges, summed over layers.
        total: dev edges times layers.
        dev_score: dev accuracy of the masked model.
        layer_share: [L] retained share per layer on the dev edges.
        state: the probe's state (gate network and baselines) or None.
    """

    epoch: int
    retained: int
    total: int
    dev_score: float
    layer_share: list[float] = field(default_factory=list)
    state: Any = None


def select_candidate(candidates: Sequence[Candidate], reference: float, tolerance: float) -> int:
    """Index of the kept state: fewest ``retained`` among those whose ``dev_score``
    differs from ``reference`` by less than ``tolerance`` relative (ties: the later
    one); the last candidate when none qualifies. Raises on an empty list."""
    if not candidates:
        raise ValueError("no candidate states to select from")
    best = None
    for i, c in enumerate(candidates):
        ok = abs(c.dev_score - reference) < tolerance * abs(reference) or c.dev_score == reference
        if ok and (best is None or c.retained <= candidates[best].retained):
            best = i
    return len(candidates) - 1 if best is None else best


def reduce_layers(layer_scores: Tensor, rule: str) -> Tensor:
    """[L, M] -> [M] by ``rule`` (``"max"`` or ``"mean"``)."""
    return layer_scores.max(dim=0).values if rule == "max" else layer_scores.mean(dim=0)


# ------------------------------------------------------------------------ hooks

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


def _run(model: nn.Module, view: InstanceBatch) -> Tensor:
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
            yield lambda: _run(model, view)
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


# ------------------------------------------------------------------- gate network

class LayerGate(nn.Module):
    """Gate of one layer: ``Linear(ReLU((LN(W_u h_u) + LN(W_m m) + LN(W_v h_v) + b) / 3)) -> 1``."""

    def __init__(self, src_dim: int, msg_dim: int, dst_dim: int) -> None:
        super().__init__()
        hidden = msg_dim
        self.proj = nn.ModuleList([nn.Linear(d, hidden, bias=False) for d in (src_dim, msg_dim, dst_dim)])
        self.norm = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(3)])
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.out = nn.Linear(hidden, 1)

    def forward(self, inputs: LayerInputs) -> Tensor:
        total = self.bias
        for proj, norm, value in zip(self.proj, self.norm, (inputs.src, inputs.msg, inputs.dst)):
            total = total + norm(proj(value))
        return self.out(torch.relu(total / 3)).squeeze(-1)


class GateNetwork(nn.Module):
    """One :class:`LayerGate` and one baseline message ``b_k`` per layer."""

    def __init__(self, shapes: Sequence[tuple[int, tuple[int, ...], int]]) -> None:
        super().__init__()
        self.msg_shapes = [tuple(m) for _, m, _ in shapes]
        self.gates = nn.ModuleList([LayerGate(s, math.prod(m), d) for s, m, d in shapes])
        bounds = [1.0 / math.sqrt(max(math.prod(m), 1)) for _, m, _ in shapes]
        self.baselines = nn.ParameterList(
            [nn.Parameter(torch.empty(m).uniform_(-a, a)) for (_, m, _), a in zip(shapes, bounds)])

    @property
    def num_layers(self) -> int:
        return len(self.gates)


# ------------------------------------------------------------------ amortised

def _full_graph(dataset: BenchmarkDataset, targets: Tensor) -> InstanceBatch:
    """The whole graph of a node task as one view whose outputs are ``targets`` [B]."""
    data = dataset.data
    n, e = int(data.num_nodes), int(data.edge_index.size(1))
    return InstanceBatch(
        task=TaskLevel.NODE, instance_ids=targets, x=data.x, edge_index=data.edge_index,
        node_ids=torch.arange(n), node_instance=torch.zeros(n, dtype=torch.long),
        edge_ids=torch.arange(e), edge_instance=torch.zeros(e, dtype=torch.long),
        explainable=torch.ones(e, dtype=torch.bool), target_index=targets,
        edge_attr=getattr(data, "edge_attr", None), edge_type=getattr(data, "edge_type", None),
    )


def _hop_graph(dataset: BenchmarkDataset, targets: Tensor, num_layers: int) -> InstanceBatch:
    """The union of ``targets``' ``2 * num_layers``-hop neighbourhoods as one view (outputs:
    ``targets`` [B]). Every explainable edge of a target (head within ``L - 1`` hops) has
    both end states exact at every layer, also under degree normalisation: a state at
    layer ``l`` of a node ``d`` hops out needs ``d + l + 1 <= 2L`` hops."""
    data = dataset.data
    subset, edge_index, position, edges = hop_union(data.edge_index, targets, 2 * num_layers,
                                                    int(data.num_nodes))
    return InstanceBatch(
        task=TaskLevel.NODE, instance_ids=targets, x=data.x[subset], edge_index=edge_index,
        node_ids=subset, node_instance=torch.zeros(subset.numel(), dtype=torch.long),
        edge_ids=edges, edge_instance=torch.zeros(edges.numel(), dtype=torch.long),
        explainable=torch.ones(edges.numel(), dtype=torch.bool), target_index=position,
        **edge_extras(data, edges),
    )


def _local_edges(view: InstanceBatch, edge_ids: Tensor, num_edges: int) -> Tensor:
    """Positions in ``view`` of global ``edge_ids`` [k] (all must lie in it)."""
    local = torch.full((num_edges,), -1, dtype=torch.long)
    local[view.edge_ids] = torch.arange(view.edge_ids.numel())
    out = local[edge_ids]
    if bool((out < 0).any()):
        raise ValueError("graphmask: an explained edge lies outside the node view")
    return out


@dataclass
class _Record:
    """A view with the unmasked model's gate inputs and outputs on it."""

    view: InstanceBatch
    inputs: dict[int, LayerInputs]
    logits: Tensor
    outputs: dict[int, Tensor] = field(default_factory=dict)

    def lower(self, model: nn.Module, layers: Sequence[int]) -> dict[int, Tensor]:
        """The recorded outputs of the layers below the lowest of ``layers`` (ungated, so
        the gated forward may reuse them: :mod:`suite.graph.layer_cache`); {} when not recorded."""
        return lower_layer_outputs(model, self.outputs, min(layers)) if layers else {}


def _record(model: nn.Module, view: InstanceBatch, outputs: bool = False) -> _Record:
    """The unmasked model's gate inputs and outputs on ``view``; with ``outputs`` also every
    message-passing layer's output (same forward)."""
    num_edges = int(view.edge_index.size(1))
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.no_grad())
        store = stack.enter_context(record_inputs(model, num_edges))
        layer_out = stack.enter_context(record_layer_outputs(model)) if outputs else {}
        logits = _run(model, view)
    return _Record(view=view, inputs=dict(store), logits=logits, outputs=layer_out)


@dataclass
class FittedGraphMask:
    """What ``fit`` leaves on the explainer (CPU copies of the probe state)."""

    network: GateNetwork
    fingerprint: str
    num_layers: int
    fit_seconds: float
    selected_epoch: int
    epochs: int
    dev_layer_share: list[float]
    dev_score_masked: float
    dev_score_unmasked: float
    dev_size: int
    lambda_final: float
    history: list[dict[str, float]]
    gated_layers: list[int] = field(default_factory=list)
    #: the reduction ``explain`` applies (``layer_reduce``, or the one ``"auto"`` chose)
    layer_reduce: str = "max"
    #: ``"auto"``: dev drop-curve score of each candidate reduction (else empty)
    reduce_scores: dict[str, float] = field(default_factory=dict)
    #: gated layers whose dev gate scores vary (``"max-varying"`` reduces over these)
    varying_layers: list[int] = field(default_factory=list)


@register_explainer(ExplainerInfo(
    name="graphmask", amortised=True,
    citation="Schlichtkrull, De Cao & Titov, ICLR 2021 (arXiv 2010.00577)",
    description="amortised GraphMask: one gate network per layer on (h_u, m_uv, h_v), hard-concrete "
    "gates, learned baseline messages, L0 + Lagrangian divergence constraint, layers enabled top-down, "
    "dev-set model selection; scores = P(gate open) reduced over layers (layer_reduce: max, mean, "
    "max-varying or auto)"))
class GraphMask(Explainer):
    """The paper's amortised GraphMask (module docstring). ``fit`` first, then ``explain``.

    ``fit`` stores the selected probe with a fingerprint of the model's parameters;
    ``explain`` refuses another model and raises ``ValueError`` before ``fit``.

    ``Explanation.meta``: ``hard_gates`` [L, M] bool; ``retained_share`` [L] (share of
    the explained edges the hard gates keep, per layer); ``gated_layers``;
    ``dev_retained_share`` [L], ``dev_score_masked`` / ``dev_score_unmasked`` (dev
    accuracy with the hard gates and baselines / of the plain model), ``dev_size``,
    ``selected_epoch``, ``epochs``, ``lambda`` (final), ``fit_seconds``, and the
    same dev figures as ``report_*`` scalars.
    """

    Config = GraphMaskConfig
    #: Reuse the ungated lower layers' outputs of each step's unmasked record in the gated
    #: forward instead of recomputing them (:mod:`suite.graph.layer_cache`; the same numbers).
    reuse_frozen_layers: bool = True

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.fitted: FittedGraphMask | None = None

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:  # type: ignore[override]
        return super().supports(model, dataset) or mask_support_reason(model)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ fit

    def _node_view(self, dataset: BenchmarkDataset, ids: Tensor, num_layers: int) -> InstanceBatch:
        """The view a node task is fitted, evaluated and explained on (``node_view``)."""
        if self.config.node_view == "subgraph":
            return _hop_graph(dataset, ids, num_layers)
        return _full_graph(dataset, ids)

    def _views(self, dataset: BenchmarkDataset, ids: Tensor, order: Tensor | None = None) -> list[InstanceBatch]:
        ids = ids if order is None else ids[order]
        size = self.config.batch_size
        return [graph_batch(dataset, ids[i:i + size]) for i in range(0, ids.numel(), size)]

    def fit(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
            seed: int) -> None:
        start = time.perf_counter()
        ids = prepare_fit(self, model, dataset, ids)
        self.fitted = None
        device = model_device(model)
        num_layers = len(message_layers(model))
        dev_ids = dev_instances(dataset, self.config.dev_set)
        with frozen(model):
            fitted = self._train(model, dataset, ids, dev_ids, seed, device, num_layers)
        rule = self.config.layer_reduce
        fitted.layer_reduce = LAYER_REDUCE[0] if rule == AUTO_REDUCE else rule
        self.fitted = fitted
        if rule in (MAX_VARYING, AUTO_REDUCE):
            dev = self.explain(model, dataset, dev_ids, seed)
            scores = dev.edge_layer_scores
            fitted.varying_layers = [k for k in fitted.gated_layers if scores.size(1)
                                     and float(scores[k].max() - scores[k].min()) > CONSTANT_SPAN]
            if rule == AUTO_REDUCE:
                fitted.reduce_scores = self._reduce_scores(model, dataset, dev_ids, scores)
                fitted.layer_reduce = max(AMORTISED_REDUCE, key=fitted.reduce_scores.__getitem__)
        fitted.fit_seconds = time.perf_counter() - start

    def _reduce_scores(self, model: nn.Module, dataset: BenchmarkDataset, dev_ids: Tensor,
                       layer_scores: Tensor) -> dict[str, float]:
        """Dev :func:`drop_curve_score` of each reduction in :data:`AMORTISED_REDUCE` given
        the dev explanation's ``layer_scores`` [L, M] (ties keep the first, ``max``). Reads
        the model's predictions only, no ground truth."""

        view = instance_batch(dataset, dev_ids, model_num_hops(model)).to(model_device(model))
        with frozen(model), torch.no_grad():
            return {rule: drop_curve_score(model, view, self._edge_scores(layer_scores, rule)
                                           .to(view.edge_index.device))
                    for rule in AMORTISED_REDUCE}

    def _edge_scores(self, layer_scores: Tensor, rule: str) -> Tensor:
        """[L, M] per-layer scores -> [M] edge scores by ``rule``, over the fitted probe's
        gated layers (``"max-varying"``: its varying ones, when there are any)."""
        fitted = self.fitted
        assert fitted is not None
        layers = fitted.gated_layers
        if rule == MAX_VARYING:
            layers, rule = fitted.varying_layers or layers, "max"
        return reduce_layers(layer_scores[layers], rule)

    def _train(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, dev_ids: Tensor,
               seed: int, device: torch.device, num_layers: int) -> FittedGraphMask:
        cfg: GraphMaskConfig = self.config
        hcfg = cfg.hard_concrete
        node_task = dataset.task == TaskLevel.NODE
        fingerprint = model_fingerprint(model)
        gen = generator(seed, _TRAIN_STREAM)

        reuse = self.reuse_frozen_layers
        hops = model_num_hops(model)
        node_record = (_record(model, self._node_view(dataset, ids, hops).to(device), reuse)
                       if node_task else None)
        first = node_record or _record(model, self._views(dataset, ids[:1])[0].to(device))
        if len(first.inputs) != num_layers:
            raise ValueError(f"graphmask: saw messages of {len(first.inputs)} of {num_layers} layers")
        shapes = [(first.inputs[k].src.size(1), first.inputs[k].msg_shape, first.inputs[k].dst.size(1))
                  for k in range(num_layers)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(generator(seed, _INIT_STREAM).initial_seed())
            network = GateNetwork(shapes)
        network = network.to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=cfg.lr)
        lagrangian = Lagrangian(cfg, (), device)

        # dev set: the unmasked model's record, labels and the dev edges to count
        dev_view = (self._node_view(dataset, dev_ids, hops) if node_task
                    else graph_batch(dataset, dev_ids)).to(device)
        dev = _record(model, dev_view, reuse)
        dev_labels = dataset.y[dev_ids].to(device)
        reference = float((dev.logits.argmax(-1) == dev_labels).float().mean())
        if node_task and dev_ids.numel():
            dev_edges = torch.zeros(dev_view.edge_index.size(1), dtype=torch.bool)
            within = instance_batch(dataset, dev_ids, hops)
            dev_edges[_local_edges(dev_view.to("cpu"), within.edge_ids[within.explainable],
                                   int(dataset.data.edge_index.size(1)))] = True
            dev_edges = dev_edges.to(device)
        else:
            dev_edges = torch.ones(dev_view.edge_index.size(1), dtype=torch.bool, device=device)

        candidates: list[Candidate] = []
        history: list[dict[str, float]] = []
        epochs = num_layers * cfg.epochs_per_layer
        for epoch in range(epochs):
            layers = enabled_layers(epoch, num_layers, cfg.epochs_per_layer)
            if node_task:
                records: Iterator[_Record] = iter([node_record])  # type: ignore[list-item]
            else:
                order = torch.randperm(ids.numel(), generator=gen)
                records = (_record(model, v.to(device), reuse) for v in self._views(dataset, ids, order))
            sum_div, sum_l0, steps = 0.0, 0.0, 0
            for rec in records:
                network.train()
                gates, l0 = {}, torch.zeros((), device=device)
                for k in layers:
                    logits = network.gates[k](rec.inputs[k])
                    noise = hc.uniform_noise(logits.shape, hcfg, gen, device)
                    gates[k] = hc.sample(logits, hcfg, noise).gate
                    l0 = l0 + hc.expected_l0(logits, hcfg).mean()
                baselines = {k: network.baselines[k] for k in layers}
                with reuse_layer_outputs(model, rec.lower(model, layers)), \
                        gate_messages(model, int(rec.view.edge_index.size(1)), gates, baselines):
                    masked = _run(model, rec.view)
                div = divergence(rec.logits, masked).mean()
                loss = cfg.penalty_scaling * l0 + lagrangian.term(div)
                optimizer.zero_grad()
                lagrangian.zero_grad()
                loss.backward()
                optimizer.step()
                lagrangian.ascend()
                sum_div += float(div.detach())
                sum_l0 += float(l0.detach())
                steps += 1
            if (epoch + 1) % cfg.eval_every == 0 or epoch == epochs - 1:
                cand = self._evaluate(model, network, dev, dev_labels, dev_edges, layers, epoch)
                candidates.append(cand)
                keep = select_candidate(candidates, reference, cfg.dev_tolerance)
                for i, old in enumerate(candidates[:-1]):  # only the kept and the last hold a state
                    if i != keep:
                        old.state = None
                history.append({"epoch": epoch, "divergence": sum_div / steps, "l0": sum_l0 / steps,
                                "lambda": float(lagrangian.multiplier), "dev_score": cand.dev_score,
                                "dev_retained": cand.retained / max(cand.total, 1)})

        chosen = candidates[select_candidate(candidates, reference, cfg.dev_tolerance)]
        network.load_state_dict(chosen.state)
        network = network.cpu().eval()
        return FittedGraphMask(
            network=network, fingerprint=fingerprint, num_layers=num_layers, fit_seconds=0.0,
            selected_epoch=chosen.epoch, epochs=epochs, dev_layer_share=chosen.layer_share,
            dev_score_masked=chosen.dev_score, dev_score_unmasked=reference,
            dev_size=int(dev_ids.numel()), lambda_final=float(lagrangian.multiplier), history=history,
            gated_layers=enabled_layers(chosen.epoch, num_layers, cfg.epochs_per_layer))

    def _evaluate(self, model: nn.Module, network: GateNetwork, dev: _Record, labels: Tensor,
                  dev_edges: Tensor, layers: list[int], epoch: int) -> Candidate:
        """Dev accuracy and retained dev edges of the current probe, hard eval gates."""
        network.eval()
        hcfg = self.config.hard_concrete
        with torch.no_grad():
            gates = {k: hc.deterministic(network.gates[k](dev.inputs[k]), hcfg).gate for k in layers}
            baselines = {k: network.baselines[k] for k in layers}
            with reuse_layer_outputs(model, dev.lower(model, layers)), \
                    gate_messages(model, int(dev.view.edge_index.size(1)), gates, baselines):
                masked = _run(model, dev.view)
        score = float((masked.argmax(-1) == labels).float().mean()) if labels.numel() else math.nan
        n_dev = int(dev_edges.sum())
        share = []
        for k in range(network.num_layers):
            kept = int(gates[k][dev_edges].sum()) if k in gates else n_dev
            share.append(kept / max(n_dev, 1))
        retained = int(round(sum(s * n_dev for s in share)))
        return Candidate(epoch=epoch, retained=retained, total=n_dev * network.num_layers,
                         dev_score=score, layer_share=share,
                         state={k: v.detach().clone() for k, v in network.state_dict().items()})

    # -------------------------------------------------------------- explain

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        start = time.perf_counter()
        reason = self.supports(model, dataset)
        if reason is not None:
            raise ValueError(reason)
        fitted = self.fitted
        if fitted is None:
            raise ValueError("graphmask is amortised: call fit(model, dataset, train_ids, seed) "
                             "before explain")
        if model_fingerprint(model) != fitted.fingerprint:
            raise ValueError("graphmask: these gates were fitted on another model (its parameters "
                             "differ); call fit again with this model")
        ids = torch.as_tensor(ids, dtype=torch.long).view(-1).cpu()
        device = model_device(model)
        hops = model_num_hops(model)
        network = fitted.network.to(device).eval()
        hcfg = self.config.hard_concrete
        if dataset.task == TaskLevel.NODE:
            batch = instance_batch(dataset, ids, hops)
            view = self._node_view(dataset, ids, hops)
            global_ids = batch.edge_ids[batch.explainable]
            picked = _local_edges(view, global_ids, int(dataset.data.edge_index.size(1)))
            ptr = batch.explained_edge_ptr()
        else:
            view = graph_batch(dataset, ids)
            picked = torch.arange(view.edge_ids.numel())
            ptr = view.explained_edge_ptr()
        try:
            with frozen(model), torch.no_grad():
                rec = _record(model, view.to(device))
                logits = torch.stack([network.gates[k](rec.inputs[k]) for k in range(fitted.num_layers)])
        finally:
            fitted.network.cpu()
        logits = logits.cpu()[:, picked]
        gated = torch.zeros(fitted.num_layers, dtype=torch.bool)
        gated[fitted.gated_layers] = True
        # a layer the selected probe does not gate passes every message: open, score 1
        layer_scores = torch.where(gated.view(-1, 1), hc.open_probability(logits, hcfg),
                                   torch.ones_like(logits))
        hard = hc.deterministic(logits, hcfg).hard | ~gated.view(-1, 1)
        edge_ids = view.edge_ids[picked]
        return Explanation(
            task=dataset.task, instance_ids=ids, edge_ids=edge_ids.cpu(), edge_ptr=ptr.cpu(),
            edge_scores=self._edge_scores(layer_scores, fitted.layer_reduce).float(),
            edge_layer_scores=layer_scores.float(), signed=False,
            seconds=time.perf_counter() - start, fit_seconds=fitted.fit_seconds,
            meta={
                "explainer": self.info.name, "hparams": self.hparams(), "num_hops": hops,
                "device": str(device), "batched": True,
                "hard_gates": hard,
                "retained_share": hard.float().mean(dim=1) if hard.size(1) else torch.ones(hard.size(0)),
                "layer_score": "P(z > threshold) of the training-mode gate",
                "gated_layers": list(fitted.gated_layers),
                "layer_reduce": fitted.layer_reduce,
                "varying_layers": list(fitted.varying_layers),
                **{f"report_dev_drop_curve_{rule}": v for rule, v in fitted.reduce_scores.items()},
                "dev_retained_share": torch.tensor(fitted.dev_layer_share),
                "dev_score_masked": fitted.dev_score_masked,
                "dev_score_unmasked": fitted.dev_score_unmasked,
                "dev_size": fitted.dev_size,
                "selected_epoch": fitted.selected_epoch, "epochs": fitted.epochs,
                "lambda": fitted.lambda_final, "fit_seconds": fitted.fit_seconds,
                # scalars for tables (suite.reports reads ``report_*`` keys)
                "report_dev_acc_masked": fitted.dev_score_masked,
                "report_dev_acc_unmasked": fitted.dev_score_unmasked,
                "report_dev_retained": float(sum(fitted.dev_layer_share) / max(len(fitted.dev_layer_share), 1)),
            },
        )


# ------------------------------------------------------------------ per instance

#: Steps of hard-concrete noise each instance draws at once (a constant, so an instance's
#: noise does not depend on the batch it is in).
NOISE_BLOCK = 32


def step_noise(gens: Sequence[torch.Generator], sizes: Sequence[int], num_layers: int,
               steps: int, cfg: hc.HardConcreteConfig, device: torch.device | str,
               edges: Sequence[Tensor] | None = None) -> Iterator[list[Tensor]]:
    """Per step, one tensor per layer of *logistic* noise (:func:`hard_concrete.logistic` of
    ``U(eps, 1 - eps)``): [M] over the explainable edges, instance ``b``'s ``sizes[b]``
    columns from its own generator ``gens[b]``, drawn :data:`NOISE_BLOCK` steps at a time (one
    draw per instance per block, not per step); with ``edges`` (per layer, positions among
    the M edges) only layer ``k``'s ``edges[k]`` (the logistic transform and the selection
    run once per block)."""
    for start in range(0, steps, NOISE_BLOCK):
        block = min(NOISE_BLOCK, steps - start)
        if gens:
            noise = torch.cat([hc.uniform_noise((block, num_layers, n), cfg, gen)
                               for gen, n in zip(gens, sizes)], dim=2).to(device)
        else:
            noise = torch.zeros(block, num_layers, 0, device=device)
        layers = [noise[:, k] if edges is None else noise[:, k].index_select(1, edges[k])
                  for k in range(num_layers)]
        per_layer = [hc.logistic(u).unbind(0) for u in layers]
        for step in range(block):
            yield [per_layer[k][step] for k in range(num_layers)]


@torch.no_grad()
def add_l0_grad(logits: Sequence[Tensor], weight: Tensor, cfg: hc.HardConcreteConfig) -> None:
    """Add ``d/d logits of sum(expected_l0(logits) * weight)`` to each [M] tensor's ``.grad``.

    The numbers autograd gives for that term in the loss (its value is not needed): the
    sum and product pass ``weight`` down unchanged (1.0 * w), the shift is the identity,
    and the sigmoid's backward is the same kernel (``aten.sigmoid_backward``) at the same
    saved output; the two contributions to a gradient are summed once, in either order
    the same float. Saves the forward graph and five backward nodes per layer and step.
    """
    for t in logits:
        grad = torch.ops.aten.sigmoid_backward(weight, hc.expected_l0(t, cfg))
        if t.grad is None:
            t.grad = grad
        else:
            t.grad.add_(grad)


def _segment_mean(values: Tensor, segment: Tensor, counts: Tensor) -> Tensor:
    """[M] values, [M] segment ids -> [B] means (``counts`` [B] >= 1)."""
    return values.new_zeros(counts.numel()).index_add(0, segment, values) / counts


@register_explainer(ExplainerInfo(
    name="graphmask-instance",
    citation="Schlichtkrull, De Cao & Titov, ICLR 2021 (arXiv 2010.00577): the per-instance "
    "(non-amortised) variant of their comparison",
    description="per-instance GraphMask: free hard-concrete logits per edge, layer and instance, "
    "per-instance baselines and lambda, L0 + Lagrangian divergence constraint, layers enabled "
    "top-down; all instances in one batched optimisation"))
class GraphMaskInstance(ViewExplainer):
    """GraphMask optimised per instance (the paper's hindsight-prone comparison).

    Per instance ``b``: a free logit per explainable edge and layer (initial 0, so the
    +3 shift opens every gate), a baseline message per layer, its own ``alpha``. The
    loss of instance ``b`` is ``penalty_scaling * sum_{k enabled} mean_{e in b}
    P(z_k,e != 0) + softplus(alpha_b) (KL_b - allowance)``; the batch minimises the
    sum. Adam (one parameter tensor per layer, so a layer's bias correction starts
    when it is switched on) and RMSprop are element-wise and every instance draws its
    initial baselines and noise from ``generator(seed, instance_id)``, so a batch
    equals its parts and equals one instance at a time on the full graph
    (``batched=False``). No model selection: the final state is returned.

    ``baseline="zero"`` (not the paper's) zeroes the dropped messages and optimises the
    gates only: a per-instance baseline can stand in for the very messages it replaces
    (the hindsight bias the paper argues against per-instance optimisation), and the zero
    baseline measures how much of a low score that explains.

    ``Explanation.meta``: ``hard_gates`` [L, M], ``retained_share`` [B, L] (eval-mode
    hard gates), ``lambda`` [B], ``divergence`` [B] (KL with the hard eval gates),
    ``target`` [B] (the model's original prediction).
    """

    Config = GraphMaskInstanceConfig
    #: Reuse the ungated lower layers' outputs (recorded once) instead of recomputing them
    #: every step (:mod:`suite.graph.layer_cache`; the same numbers). False: the plain path.
    reuse_frozen_layers: bool = True
    #: Give the L0 term's gradient to the logits (:func:`add_l0_grad`) and the Lagrangian's
    #: to alpha (:meth:`Lagrangian.direct_term`) directly instead of through autograd (the
    #: same numbers). False: the plain path.
    direct_grads: bool = True

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        explanation = super().explain(model, dataset, ids, seed)
        layer_scores = explanation.meta.pop("_layer_scores")
        explanation.edge_layer_scores = layer_scores.t().contiguous().float()
        explanation.meta["hard_gates"] = explanation.meta.pop("_hard_gates").t().contiguous()
        explanation.meta["layer_score"] = "P(z > threshold) of the training-mode gate"
        if explanation.num_instances:
            explanation.meta["report_mean_divergence"] = float(explanation.meta["divergence"].mean())
        return explanation

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        cfg: GraphMaskInstanceConfig = self.config
        hcfg = cfg.hard_concrete
        device = view.x.device
        b = view.num_instances
        edge_instance = explained_edge_instance(view)
        m = int(edge_instance.numel())
        counts = torch.bincount(edge_instance, minlength=b).clamp(min=1).float()
        sizes = (view.explained_edge_ptr()[1:] - view.explained_edge_ptr()[:-1]).tolist()
        rec = _record(model, view)
        num_layers = len(message_layers(model))
        if len(rec.inputs) != num_layers:
            raise ValueError(f"graphmask-instance: saw messages of {len(rec.inputs)} of {num_layers} layers")
        shapes = [rec.inputs[k].msg_shape for k in range(num_layers)]
        gens = [generator(seed, int(i)) for i in view.instance_ids.tolist()]

        drawn = []  # per instance: one baseline per layer, U(-1/sqrt(d), 1/sqrt(d))
        for gen in gens:
            drawn.append([(torch.rand(s, generator=gen) * 2 - 1) / math.sqrt(max(math.prod(s), 1))
                          for s in shapes])
        learned = cfg.baseline == "learned"
        baselines = [torch.stack([d[k] for d in drawn]).to(device).requires_grad_(True)
                     if b and learned else
                     torch.zeros((b, *shapes[k]), device=device, requires_grad=learned)
                     for k in range(num_layers)]
        logits = [torch.zeros(m, device=device, requires_grad=True) for _ in range(num_layers)]
        # torch.optim.Adam's update, bitwise, without its per-step wrapper (suite.explainers.lean_adam)
        optimizer = LeanAdam(logits + baselines if learned else logits, lr=cfg.lr)
        lagrangian = Lagrangian(cfg, (b,), device)
        compact = compact_for(model, view)  # None on full-graph views and graph batches

        edges = gated_edges(compact)

        def pick(k: int, values: Tensor) -> Tensor:
            """``values`` [M, ...] over the explainable edges -> layer ``k``'s gated edges."""
            return values if edges is None else values.index_select(0, edges[k])

        base_index = [pick(k, edge_instance) for k in range(num_layers)]
        # the frozen model's ungated lower layers give the same outputs on every step:
        # recorded once (same graph, same context), then reused instead of recomputed
        unmasked: dict[int, Tensor] = {}
        if self.reuse_frozen_layers:
            with torch.no_grad(), record_layer_outputs(model) as unmasked:
                gated_logits(model, view, compact, {}, {})
        # d loss / d expected-L0 of each edge: penalty / its instance's edge count (the
        # gradient the per-instance mean gives; the loss's value is not used)
        l0_weight = (torch.ones_like(counts) * cfg.penalty_scaling / counts)[edge_instance]
        steps = num_layers * cfg.epochs_per_layer
        gates: dict[int, Tensor] = {}
        base: dict[int, Tensor] = {}
        phase = contextlib.ExitStack()  # per phase: the hooks, and the reused lower layers
        try:
            for epoch, noise in zip(range(steps), step_noise(gens, sizes, num_layers, steps, hcfg,
                                                             device, edges)):
                layers = enabled_layers(epoch, num_layers, cfg.epochs_per_layer)
                if epoch % cfg.epochs_per_layer == 0:  # a new phase: one more layer gated
                    phase.close()
                    phase = contextlib.ExitStack()
                    phase.enter_context(reuse_layer_outputs(
                        model, lower_layer_outputs(model, unmasked, layers[0]) if layers else {}))
                    run = phase.enter_context(gated_model(model, view, compact, gates, base))
                # gates are element-wise in (logit, noise): sampled at the gated edges only
                for k in layers:
                    gates[k] = hc.sample_logistic(pick(k, logits[k]), hcfg, noise[k]).gate
                    base[k] = baselines[k].index_select(0, base_index[k])
                div = divergence(rec.logits, run())
                if self.direct_grads:
                    loss = lagrangian.direct_term(div).sum()
                else:
                    loss = lagrangian.term(div).sum()
                    for k in layers:
                        loss = loss + (hc.expected_l0(logits[k], hcfg) * l0_weight).sum()
                optimizer.zero_grad()
                lagrangian.zero_grad()
                loss.backward()
                if self.direct_grads:
                    add_l0_grad([logits[k] for k in layers], l0_weight, hcfg)
                    lagrangian.direct_grad()
                optimizer.step()
                lagrangian.ascend()
        finally:
            phase.close()
        gates.clear()
        base.clear()

        with torch.no_grad():
            final = torch.stack([t.detach() for t in logits]) if num_layers else torch.zeros(0, m)
            layer_scores = hc.open_probability(final, hcfg)
            eval_gates = hc.deterministic(final, hcfg)
            hard = eval_gates.hard
            all_layers = range(num_layers)
            masked = gated_logits(model, view, compact,
                                  {k: pick(k, eval_gates.gate[k]) for k in all_layers},
                                  {k: baselines[k].detach()[base_index[k]] for k in all_layers})
            share = torch.stack([_segment_mean(hard[k].float(), edge_instance, counts)
                                 for k in all_layers], dim=1)
        return ViewResult(
            edge_scores=reduce_layers(layer_scores, cfg.layer_reduce),
            target=rec.logits.argmax(-1),
            extras={"_layer_scores": layer_scores.t(), "_hard_gates": hard.t(), "retained_share": share,
                    "lambda": lagrangian.multiplier.view(-1), "divergence": divergence(rec.logits, masked)},
        )
