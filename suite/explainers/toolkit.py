"""Helpers for explainer authors; the suite's own explainers use only these, the metrics
and their own module (never another explainer).

The three an explainer usually needs:

- :func:`forward`: the model's logits [B, C] on a view with its explainable edges'
  messages scaled by a mask [M_v] (``mask_mode="weight"``: as edge weights instead);
- :func:`target_log_prob`: the log-probability [B] of each instance's target class;
- the explainable edges of an instance: ``view.explainable`` (bool [m] over the view's
  edges) and :func:`explained_edge_instance` (the instance [M_v] of each of them).

A *view* is an :class:`~suite.graph.subgraphs.InstanceBatch` the explainer core runs on.
Two kinds exist and the same core code runs on both:

- the batched view, ``instance_batch(dataset, ids, k)``: the disjoint union of all
  instances' computation subgraphs (explainable edges plus fixed context edges);
- the full-graph view of one instance (:func:`full_graph_view`): the *whole* graph
  (node task) with only that target's explainable edges free and every other edge
  fixed at mask 1, or the single graph (graph task). This is the reference the
  batched result must equal.

Explainers subclass :class:`ViewExplainer` and implement ``explain_view``; the base
class builds the views (``Config.batched`` picks which), guards the model (eval
mode, frozen parameters, everything restored in a ``finally``), times the call
and assembles one :class:`~suite.core.types.Explanation` in the batch's edge order.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator

import torch
from torch import Tensor, nn

from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers.base import Explainer
from suite.graph.compact import compact_for, compact_inputs, compact_logits
from suite.graph.masking import edge_mask, message_layers
from suite.graph.pruning import masked_and_pruned
from suite.graph.subgraphs import InstanceBatch, batch_chunks


@dataclass
class BatchedConfig:
    """Config fields shared by the suite's per-instance explainers.

    Attributes:
        batched: True runs all instances in one disjoint-union batch; False runs
            each instance alone on the full graph (the reference; slow).
    """

    batched: bool = True


@dataclass
class ViewResult:
    """What an explainer core returns for one view.

    Attributes:
        edge_scores: [M_v] scores of the view's explainable edges, in view order.
        node_scores: [K_v] scores of the view's explained nodes
            (:func:`explained_node_mask`), or None.
        target: [B_v] the class each instance's explanation is for, or None.
        extras: per-instance tensors [B_v, ...] stored in ``Explanation.meta``.
    """

    edge_scores: Tensor
    node_scores: Tensor | None = None
    target: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)


# ----------------------------------------------------------------- model helpers

def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (or buffers) live; CPU for a parameter-free model."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def model_num_hops(model: nn.Module) -> int:
    """Message-passing depth: ``model.num_layers`` or the number of MessagePassing layers."""
    hops = getattr(model, "num_layers", None)
    if isinstance(hops, int) and hops > 0:
        return hops
    layers = message_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no MessagePassing layers: "
                         "cannot tell how many hops its computation subgraph spans")
    return len(layers)


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and ``requires_grad=False`` on every parameter; both restored on exit."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    training = model.training
    try:
        model.eval()
        for p, _ in flags:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(training)


# ----------------------------------------------------------------------- views

def within_hops(edge_index: Tensor, target: int, hops: int, num_nodes: int) -> Tensor:
    """[N] bool: nodes with a directed path of at most ``hops`` edges into ``target``."""
    src, dst = edge_index
    reached = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
    reached[target] = True
    for _ in range(hops):
        step = reached.clone()
        step[src[reached[dst]]] = True
        reached = step
    return reached


def full_graph_view(dataset: BenchmarkDataset, instance_id: int, num_hops: int) -> InstanceBatch:
    """One instance on its full graph, as a one-instance ``InstanceBatch``.

    Node task: every node and edge of the graph; an edge ``u -> v`` is explainable
    when ``v`` lies within ``num_hops - 1`` hops of the target (only then can its
    message reach the target), all other edges are fixed context. Graph task: the
    single graph ``instance_id`` with every edge explainable. Built without
    :mod:`suite.graph.subgraphs` so it is an independent reference.
    """
    data = dataset.data
    extras = {key: getattr(data, key, None) for key in ("edge_attr", "edge_type")}
    if dataset.task == TaskLevel.NODE:
        n, e = int(data.num_nodes), int(data.edge_index.size(1))
        inner = within_hops(data.edge_index, int(instance_id), num_hops - 1, n)
        return InstanceBatch(
            task=TaskLevel.NODE, instance_ids=torch.tensor([int(instance_id)]), x=data.x,
            edge_index=data.edge_index, node_ids=torch.arange(n),
            node_instance=torch.zeros(n, dtype=torch.long), edge_ids=torch.arange(e),
            edge_instance=torch.zeros(e, dtype=torch.long), explainable=inner[data.edge_index[1]],
            target_index=torch.tensor([int(instance_id)]), prunable=False, **extras,
        )
    assert dataset.node_ptr is not None and dataset.edge_ptr is not None
    n0, n1 = int(dataset.node_ptr[instance_id]), int(dataset.node_ptr[instance_id + 1])
    e0, e1 = int(dataset.edge_ptr[instance_id]), int(dataset.edge_ptr[instance_id + 1])
    return InstanceBatch(
        task=TaskLevel.GRAPH, instance_ids=torch.tensor([int(instance_id)]), x=data.x[n0:n1],
        edge_index=data.edge_index[:, e0:e1] - n0, node_ids=torch.arange(n0, n1),
        node_instance=torch.zeros(n1 - n0, dtype=torch.long), edge_ids=torch.arange(e0, e1),
        edge_instance=torch.zeros(e1 - e0, dtype=torch.long),
        explainable=torch.ones(e1 - e0, dtype=torch.bool), target_index=torch.zeros(1, dtype=torch.long),
        **{k: (None if v is None else v[e0:e1]) for k, v in extras.items()},
    )


def instance_views(dataset: BenchmarkDataset, ids: Tensor, num_hops: int,
                   batched: bool, device: torch.device | str = "cpu",
                   max_edges: int | None = None) -> list[InstanceBatch]:
    """Batched views of all ``ids`` [B] (one, or chunks sized to fit ``device``'s memory:
    ``suite.graph.subgraphs.batch_chunks``), or one full-graph view per id."""
    if batched:
        return batch_chunks(dataset, ids, num_hops, max_edges=max_edges, device=device)
    return [full_graph_view(dataset, int(i), num_hops) for i in ids]


def explained_node_mask(view: InstanceBatch) -> Tensor:
    """[n] bool: the nodes an explanation scores.

    Node task: the target and every endpoint of an explainable edge, i.e. the nodes
    within ``k`` hops of the target (whose features can reach it); context-only
    nodes are excluded. Graph task: every node of the graph.
    """
    if view.task == TaskLevel.GRAPH:
        return torch.ones(view.node_ids.numel(), dtype=torch.bool, device=view.node_ids.device)
    mask = torch.zeros(view.node_ids.numel(), dtype=torch.bool, device=view.node_ids.device)
    mask[view.edge_index[:, view.explainable].flatten()] = True
    mask[view.target_index] = True
    return mask


def explained_edge_instance(view: InstanceBatch) -> Tensor:
    """[M_v] instance position of each explainable edge."""
    return view.edge_instance[view.explainable]


def nodes_per_instance(view: InstanceBatch) -> Tensor:
    """[B] number of explained nodes of each instance (its computation subgraph's size)."""
    mask = explained_node_mask(view)
    return torch.bincount(view.node_instance[mask], minlength=view.num_instances)


# ---------------------------------------------------------------- model calls

def forward(model: nn.Module, view: InstanceBatch, mask: Tensor | None = None,
            x: Tensor | None = None, prune: bool = True, mask_mode: str = "message") -> Tensor:
    """Logits [B, C] of the view's instances, messages scaled by ``mask``.

    ``mask`` is [M_v] over the explainable edges (context edges stay at 1) or None
    for the unmasked model; ``x`` replaces the node features [n, F] when given.
    ``prune`` (node views with ``prunable``, i.e. batches, not the full-graph reference
    views): each layer propagates only the messages that can still reach a target
    (:mod:`suite.graph.pruning`), on the compact graph with each layer's degree normalisation
    computed once per batch where the layers allow it (:mod:`suite.graph.compact`); the
    targets' logits are unchanged.
    ``mask_mode``: ``"message"`` scales messages after degree normalisation (PyG's
    convention), ``"weight"`` applies the mask as edge weights before it
    (:func:`suite.graph.masking.edge_mask`); weight mode runs on the whole view (no pruning),
    since recomputed degrees need every edge into a node.
    """
    if mask_mode != "message" and mask is not None:
        with edge_mask(model, view.full_mask(mask), mode=mask_mode):
            out = model(view.x if x is None else x, view.edge_index, **view.model_kwargs())
        return view.select_outputs(out)
    compact = compact_for(model, view) if prune else None
    if compact is not None:  # degree context computed once per batch (suite.graph.compact)
        with compact_inputs(model, compact, mask):
            return compact_logits(model, compact, view.x if x is None else x)
    full = None if mask is None else view.full_mask(mask)
    with masked_and_pruned(model, view, full, prune):
        out = model(view.x if x is None else x, view.edge_index, **view.model_kwargs())
    return view.select_outputs(out)


def predict(model: nn.Module, view: InstanceBatch) -> Tensor:
    """[B] the class the unmasked model predicts for each instance."""
    with torch.no_grad():
        return forward(model, view).argmax(dim=-1)


def target_log_prob(logits: Tensor, target: Tensor) -> Tensor:
    """[B] ``log softmax(logits)[b, target[b]]``."""
    return torch.log_softmax(logits, dim=-1).gather(1, target.view(-1, 1)).squeeze(1)


# --------------------------------------------------------------------- base class

class ViewExplainer(Explainer):
    """Base of the suite's per-instance explainers: runs ``explain_view`` on each view.

    Subclasses define ``explain_view(model, view, seed, dataset) -> ViewResult`` and a
    ``Config`` (subclass :class:`BatchedConfig` to get the ``batched`` switch).

    Batched views are chunked to fit the device's memory (``suite.graph.subgraphs.batch_chunks``);
    an instance attribute ``max_batch_edges`` (int) caps the union edges per chunk instead.

    ``Explanation.meta`` holds ``explainer``, ``hparams``, ``num_hops``, ``device``,
    ``batched``, ``target`` ([B] the explained class, where the method has one) and
    any per-instance ``extras`` of the method.
    """

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:
        return super().supports(model, dataset) or mask_support_reason(model)  # type: ignore[arg-type]

    @abstractmethod
    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        """Explain every instance of ``view`` (on the model's device) of ``dataset``."""

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        start = time.perf_counter()
        ids, hops, device = prepare_explain(self, model, dataset, ids)
        batched = bool(getattr(self.config, "batched", True))
        views = instance_views(dataset, ids, hops, batched, device=device,
                               max_edges=getattr(self, "max_batch_edges", None))
        results = []
        with frozen(model):
            for view in views:
                results.append(self.explain_view(model, view.to(device), seed, dataset))
        explanation = assemble(dataset.task, views, results, signed=self.info.signed)
        explanation.seconds = time.perf_counter() - start
        explanation.meta.update({"explainer": self.info.name, "hparams": self.hparams(),
                                 "num_hops": hops, "device": str(device), "batched": batched})
        return explanation


def mask_support_reason(model: nn.Module) -> str | None:
    """Why edge-mask explainers cannot explain ``model`` (None when they can)."""
    if not message_layers(model):
        return f"{type(model).__name__} has no MessagePassing layers to mask"
    return None


def prepare_explain(explainer: Any, model: nn.Module, dataset: BenchmarkDataset,
                    ids: Tensor) -> tuple[Tensor, int, torch.device]:
    """Refuse unsupported cells; return (ids [B] long on CPU, num_hops, model device)."""
    reason = explainer.supports(model, dataset)
    if reason is not None:
        raise ValueError(reason)
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1).cpu()
    return ids, model_num_hops(model), model_device(model)


def prepare_fit(explainer: Any, model: nn.Module, dataset: BenchmarkDataset,
                ids: Tensor) -> Tensor:
    """Refuse unsupported cells and empty training sets; return ``ids`` [B] long on CPU."""
    reason = explainer.supports(model, dataset)
    if reason is not None:
        raise ValueError(reason)
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1).cpu()
    if ids.numel() == 0:
        raise ValueError(f"{explainer.info.name}.fit: no training instances (ids is empty)")
    return ids


def assemble(task: TaskLevel, views: list[InstanceBatch], results: list[ViewResult],
             signed: bool) -> Explanation:
    """Concatenate per-view results into one ``Explanation`` (CPU tensors)."""
    edge_ids, edge_counts, edge_scores = [], [], []
    node_ids, node_counts, node_scores = [], [], []
    targets, extras = [], {}
    for view, result in zip(views, results):
        b = view.num_instances
        edge_ids.append(view.edge_ids[view.explainable])
        edge_counts.append(torch.bincount(view.edge_instance[view.explainable], minlength=b))
        scores = result.edge_scores.detach().cpu()
        if scores.numel() != edge_ids[-1].numel():
            raise RuntimeError(f"explainer returned {scores.numel()} edge scores for "
                               f"{edge_ids[-1].numel()} explainable edges")
        edge_scores.append(scores)
        if result.node_scores is not None:
            mask = explained_node_mask(view)
            node_ids.append(view.node_ids[mask])
            node_counts.append(torch.bincount(view.node_instance[mask], minlength=b))
            node_scores.append(result.node_scores.detach().cpu())
        if result.target is not None:
            targets.append(result.target.detach().cpu())
        for key, value in result.extras.items():
            extras.setdefault(key, []).append(value.detach().cpu())

    def ptr(counts: list[Tensor]) -> Tensor:
        flat = torch.cat(counts) if counts else torch.zeros(0, dtype=torch.long)
        return torch.cat([flat.new_zeros(1), flat.cumsum(0)])

    has_nodes = bool(node_scores) and len(node_scores) == len(views)
    meta: dict[str, Any] = {key: torch.cat(values) for key, values in extras.items()}
    if targets and len(targets) == len(views):
        meta["target"] = torch.cat(targets)
    return Explanation(
        task=task,
        instance_ids=torch.cat([v.instance_ids.cpu() for v in views]),
        edge_ids=torch.cat(edge_ids).cpu(),
        edge_ptr=ptr(edge_counts).cpu(),
        edge_scores=torch.cat(edge_scores).float(),
        node_ids=torch.cat(node_ids).cpu() if has_nodes else None,
        node_ptr=ptr(node_counts).cpu() if has_nodes else None,
        node_scores=torch.cat(node_scores).float() if has_nodes else None,
        signed=signed,
        meta=meta,
    )


# --------------------------------------------------------------------------- shared by explainers

#: Inside the logarithms of the binary entropy (PyG's value).
ENTROPY_EPS = 1e-15


def binary_entropy(m: Tensor) -> Tensor:
    """Element-wise ``H(m) = -m log(m + eps) - (1 - m) log(1 - m + eps)`` in nats."""
    return -m * torch.log(m + ENTROPY_EPS) - (1 - m) * torch.log(1 - m + ENTROPY_EPS)


def segment_sum(values: Tensor, segment: Tensor, count: int) -> Tensor:
    """[M] values, [M] segment ids in 0..count-1 -> [count] sums."""
    return values.new_zeros(count).index_add(0, segment, values)


def reverse_partner(view: InstanceBatch) -> Tensor:
    """[M_v] position (among the explainable edges) of each explainable edge's reverse
    in the same instance, or the edge's own position when its reverse is not explainable."""
    ei = view.edge_index[:, view.explainable]
    m = ei.size(1)
    n = max(int(view.x.size(0)), 1)
    key = ei[0] * n + ei[1]
    rev = ei[1] * n + ei[0]
    order = torch.argsort(key)
    pos = torch.searchsorted(key[order], rev).clamp(max=max(m - 1, 0))
    found = key[order][pos] == rev if m else torch.zeros(0, dtype=torch.bool, device=ei.device)
    own = torch.arange(m, device=ei.device)
    return torch.where(found, order[pos], own)


def model_fingerprint(model: nn.Module) -> str:
    """SHA-256 of the model's class, state-dict names, shapes, dtypes and values."""
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()
