"""The per-instance ``graphmask-instance`` explainer: one batched optimisation of gate logits."""

import contextlib
import math
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn

from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, Explanation
from suite.explainers import hard_concrete as hc
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.graphmask.amortised import record_view
from suite.explainers.graphmask.config import GraphMaskInstanceConfig
from suite.explainers.graphmask.hooks import gated_edges, gated_logits, gated_model
from suite.explainers.graphmask.objective import (
    Lagrangian,
    divergence,
    enabled_layers,
    reduce_layers,
)
from suite.explainers.lean_adam import LeanAdam
from suite.explainers.toolkit import (
    ViewExplainer,
    ViewResult,
    explained_edge_instance,
    model_device,
    model_num_hops,
    prepare_fit,
)
from suite.graph.compact import compact_for
from suite.graph.layer_cache import lower_layer_outputs, record_layer_outputs, reuse_layer_outputs
from suite.graph.masking import message_layers
from suite.graph.subgraphs import InstanceBatch, instance_batch
from suite.protocol import select_instances

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


#: The generator stream of the shared baselines' initial draw (instances use their ids).
SHARED_BASELINE_STREAM = -1


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
    baseline measures how much of a low score that explains. ``baseline="shared"``: one
    learned baseline per layer for every instance, as the amortised method has; ``fit``
    learns it jointly with per-instance gates on the fit instances, and ``explain`` keeps it
    fixed (so a batch still equals its parts), so that the comparison with ``graphmask``
    isolates the amortisation.

    ``Explanation.meta``: ``hard_gates`` [L, M], ``retained_share`` [B, L] (eval-mode
    hard gates), ``lambda`` [B], ``divergence`` [B] (KL with the hard eval gates),
    ``target`` [B] (the model's original prediction).
    """

    Config = GraphMaskInstanceConfig
    #: ``baseline="shared"``: the fitted baselines [1, *message shape] per layer (None: not fitted).
    _shared: list[Tensor] | None = None
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

    def fit(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
            seed: int) -> None:
        """``baseline="shared"``: learn one baseline message per layer, shared by every
        instance, jointly with per-instance gates on at most ``fit_instances`` of ``ids``
        (a seeded subset), and keep it for ``explain``; the other baselines fit nothing."""
        self._shared = None
        cfg: GraphMaskInstanceConfig = self.config
        if cfg.baseline != "shared":
            return
        ids = select_instances(prepare_fit(self, model, dataset, ids), cfg.fit_instances, seed)
        view = instance_batch(dataset, ids, model_num_hops(model)).to(model_device(model))
        self._shared = self._optimise(model, view, seed, None)[1]  # detached

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        shared = self._shared
        if self.config.baseline == "shared" and shared is None:
            raise ValueError("graphmask-instance with baseline 'shared': call fit(model, "
                             "dataset, ids, seed) before explain()")
        return self._optimise(model, view, seed, shared)[0]

    def _optimise(self, model: nn.Module, view: InstanceBatch, seed: int,
                  shared: list[Tensor] | None) -> tuple[ViewResult, list[Tensor]]:
        """Optimise the view's gates; also the baselines [b or 1, *message shape] per layer.

        ``shared``: fitted shared baselines (frozen); None with ``baseline="shared"``: one
        learned baseline per layer for the whole view (the fit)."""
        cfg: GraphMaskInstanceConfig = self.config
        hcfg = cfg.hard_concrete
        device = view.x.device
        b = view.num_instances
        edge_instance = explained_edge_instance(view)
        m = int(edge_instance.numel())
        counts = torch.bincount(edge_instance, minlength=b).clamp(min=1).float()
        sizes = (view.explained_edge_ptr()[1:] - view.explained_edge_ptr()[:-1]).tolist()
        rec = record_view(model, view)
        num_layers = len(message_layers(model))
        if len(rec.inputs) != num_layers:
            raise ValueError(f"graphmask-instance: saw messages of {len(rec.inputs)} of {num_layers} layers")
        shapes = [rec.inputs[k].msg_shape for k in range(num_layers)]
        gens = [generator(seed, int(i)) for i in view.instance_ids.tolist()]

        one_baseline = cfg.baseline == "shared"  # one baseline per layer, index 0 for every edge
        learned = cfg.baseline == "learned" or (one_baseline and shared is None)
        if shared is not None:
            baselines = [t.to(device) for t in shared]
        elif one_baseline:
            first = generator(seed, SHARED_BASELINE_STREAM)
            baselines = [((torch.rand(s, generator=first) * 2 - 1) / math.sqrt(max(math.prod(s), 1)))
                         .unsqueeze(0).to(device).requires_grad_(True) for s in shapes]
        else:
            drawn = []  # per instance: one baseline per layer, U(-1/sqrt(d), 1/sqrt(d))
            for gen in gens:
                drawn.append([(torch.rand(s, generator=gen) * 2 - 1) / math.sqrt(max(math.prod(s), 1))
                              for s in shapes])
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

        base_index = [pick(k, torch.zeros_like(edge_instance) if one_baseline else edge_instance)
                      for k in range(num_layers)]
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
        result = ViewResult(
            edge_scores=reduce_layers(layer_scores, cfg.layer_reduce),
            target=rec.logits.argmax(-1),
            extras={"_layer_scores": layer_scores.t(), "_hard_gates": hard.t(), "retained_share": share,
                    "lambda": lagrangian.multiplier.view(-1), "divergence": divergence(rec.logits, masked)},
        )
        return result, [t.detach() for t in baselines]
