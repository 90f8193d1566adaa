"""The amortised ``graphmask`` explainer: gate networks trained on the fit instances."""

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor, nn

from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers import hard_concrete as hc
from suite.explainers.base import Explainer, ExplainerInfo, register_explainer
from suite.explainers.graphmask.config import (
    AMORTISED_REDUCE,
    AUTO_REDUCE,
    CONSTANT_SPAN,
    INIT_STREAM,
    LAYER_REDUCE,
    MAX_VARYING,
    TRAIN_STREAM,
    GraphMaskConfig,
)
from suite.explainers.graphmask.gates import GateNetwork
from suite.explainers.graphmask.hooks import LayerInputs, gate_messages, record_inputs, run_view
from suite.explainers.graphmask.objective import (
    Candidate,
    Lagrangian,
    divergence,
    enabled_layers,
    reduce_layers,
    select_candidate,
)
from suite.explainers.toolkit import (
    frozen,
    mask_support_reason,
    model_device,
    model_fingerprint,
    model_num_hops,
    prepare_fit,
)
from suite.graph.layer_cache import lower_layer_outputs, record_layer_outputs, reuse_layer_outputs
from suite.graph.masking import message_layers
from suite.graph.subgraphs import InstanceBatch, edge_extras, graph_batch, hop_union, instance_batch
from suite.metrics.drop_curve import drop_curve_score
from suite.protocol import dev_instances


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

    def take(self, rows: Tensor) -> "_Record":
        """The record of the instances at positions ``rows`` [b] of this one's view, sliced
        out of it (every recorded value belongs to one edge, node or instance of a disjoint
        union, so this is what recording ``view.take(rows)`` afresh gives)."""
        (nodes, _), (edges, _) = self.view.positions(rows)
        inputs = {k: LayerInputs(src=v.src.index_select(0, edges), msg=v.msg.index_select(0, edges),
                                 dst=v.dst.index_select(0, edges), msg_shape=v.msg_shape)
                  for k, v in self.inputs.items()}
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.logits.device).view(-1)
        return _Record(view=self.view.take(rows), inputs=inputs,
                       logits=self.logits.index_select(0, rows),
                       outputs={k: v.index_select(0, nodes) for k, v in self.outputs.items()})

    @property
    def nbytes(self) -> int:
        """Bytes held by the recorded tensors (the view not counted)."""
        tensors = [self.logits, *self.outputs.values()]
        tensors += [t for v in self.inputs.values() for t in (v.src, v.msg, v.dst)]
        return sum(t.numel() * t.element_size() for t in tensors)

    def lower(self, model: nn.Module, layers: Sequence[int]) -> dict[int, Tensor]:
        """The recorded outputs of the layers below the lowest of ``layers`` (ungated, so
        the gated forward may reuse them: :mod:`suite.graph.layer_cache`); {} when not recorded."""
        return lower_layer_outputs(model, self.outputs, min(layers)) if layers else {}


def record_view(model: nn.Module, view: InstanceBatch, outputs: bool = False) -> _Record:
    """The unmasked model's gate inputs and outputs on ``view``; with ``outputs`` also every
    message-passing layer's output (same forward)."""
    num_edges = int(view.edge_index.size(1))
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.no_grad())
        store = stack.enter_context(record_inputs(model, num_edges))
        layer_out = stack.enter_context(record_layer_outputs(model)) if outputs else {}
        logits = run_view(model, view)
    return _Record(view=view, inputs=dict(store), logits=logits, outputs=layer_out)


#: Bytes up to which a graph-task fit records every training graph once and slices each
#: mini-batch's record out of it (above it, each mini-batch is recorded afresh per epoch).
RECORD_BYTES = 512 * 2**20


def _graph_records(model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, first: _Record,
                   outputs: bool, device: torch.device) -> Callable[[Tensor], _Record]:
    """rows [b] (positions in ``ids``) -> the record of the graphs ``ids[rows]``: sliced out
    of one record of all of them where it fits :data:`RECORD_BYTES` (estimated from
    ``first``, the record of one graph), else recorded afresh."""
    edges = dataset.edge_ptr[ids + 1] - dataset.edge_ptr[ids]
    per_edge = first.nbytes / max(int(first.view.edge_index.size(1)), 1)
    if per_edge * int(edges.sum()) > RECORD_BYTES:
        return lambda rows: record_view(model, graph_batch(dataset, ids[rows]).to(device), outputs)
    every = record_view(model, graph_batch(dataset, ids).to(device), outputs)
    return lambda rows: every.take(rows.to(device))


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

    def fit(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
            seed: int) -> None:
        start = time.perf_counter()
        ids = prepare_fit(self, model, dataset, ids)
        self.fitted = None
        device = model_device(model)
        num_layers = len(message_layers(model))
        dev_ids = dev_instances(dataset, self.config.dev_set)
        if not dev_ids.numel():  # no validation instances (a user's data): the fit instances
            dev_ids = ids
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
        gen = generator(seed, TRAIN_STREAM)

        reuse = self.reuse_frozen_layers
        hops = model_num_hops(model)
        node_record = (record_view(model, self._node_view(dataset, ids, hops).to(device), reuse)
                       if node_task else None)
        first = node_record or record_view(model, graph_batch(dataset, ids[:1]).to(device), reuse)
        if len(first.inputs) != num_layers:
            raise ValueError(f"graphmask: saw messages of {len(first.inputs)} of {num_layers} layers")
        shapes = [(first.inputs[k].src.size(1), first.inputs[k].msg_shape, first.inputs[k].dst.size(1))
                  for k in range(num_layers)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(generator(seed, INIT_STREAM).initial_seed())
            network = GateNetwork(shapes)
        network = network.to(device)
        optimizer = torch.optim.Adam(network.parameters(), lr=cfg.lr, foreach=True)
        lagrangian = Lagrangian(cfg, (), device)

        # dev set: the unmasked model's record, labels and the dev edges to count
        dev_view = (self._node_view(dataset, dev_ids, hops) if node_task
                    else graph_batch(dataset, dev_ids)).to(device)
        dev = record_view(model, dev_view, reuse)
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

        if not node_task:
            record_of = _graph_records(model, dataset, ids, first, reuse, device)
        candidates: list[Candidate] = []
        history: list[dict[str, float]] = []
        epochs = num_layers * cfg.epochs_per_layer
        for epoch in range(epochs):
            layers = enabled_layers(epoch, num_layers, cfg.epochs_per_layer)
            if node_task:
                records: Iterator[_Record] = iter([node_record])  # type: ignore[list-item]
            else:
                order = torch.randperm(ids.numel(), generator=gen)
                records = (record_of(rows) for rows in order.split(cfg.batch_size))
            sum_div, sum_l0, steps = 0.0, 0.0, 0
            network.train()  # until the epoch's evaluation
            for rec in records:
                gates, l0 = {}, torch.zeros((), device=device)
                for k in layers:
                    logits = network.gates[k](rec.inputs[k])
                    noise = hc.uniform_noise(logits.shape, hcfg, gen, device)
                    gates[k] = hc.sample(logits, hcfg, noise).gate
                    l0 = l0 + hc.expected_l0(logits, hcfg).mean()
                baselines = {k: network.baselines[k] for k in layers}
                with reuse_layer_outputs(model, rec.lower(model, layers)), \
                        gate_messages(model, int(rec.view.edge_index.size(1)), gates, baselines):
                    masked = run_view(model, rec.view)
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
                masked = run_view(model, dev.view)
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
                rec = record_view(model, view.to(device))
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
