"""Erasure search: the exhaustive baseline of GraphMask's synthetic experiment.

For every graph, every subset of its edges is tried as the set of *dropped* edges
(messages scaled by 0, the suite's edge-mask convention); among the subsets that
leave the model's prediction unchanged, the largest one is chosen (ties: the one
keeping the highest log-probability of the predicted class, then the first in
enumeration order). The kept edges (score 1) are the explanation; dropped edges
score 0. This is the "optimal" explanation GraphMask is compared with
(Schlichtkrull et al., ICLR 2021, Sec. 4): nothing is dropped that the model
needs, and as much as possible is dropped.

Cost is ``2^m`` model evaluations for a graph of ``m`` edges, run as one batched
forward pass per chunk of subsets; ``max_edges`` (default 12, the task's largest
star) refuses larger graphs up front.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from suite.core.config import ConfigError
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers.base import Explainer, ExplainerInfo, register_explainer
from suite.explainers.toolkit import frozen, prepare_explain
from suite.graph.masking import edge_mask
from suite.graph.subgraphs import InstanceBatch, graph_batch


@dataclass
class ErasureConfig:
    """Hyper-parameters.

    Attributes:
        max_edges: largest graph (in edges) the search accepts (``2^max_edges`` subsets).
        subsets_per_pass: subsets evaluated in one batched forward pass (bounds memory).
    """

    max_edges: int = 12
    subsets_per_pass: int = 4096

    def __post_init__(self) -> None:
        if not 1 <= self.max_edges <= 20:
            raise ConfigError(f"max_edges: expected 1..20 (got {self.max_edges})")
        if self.subsets_per_pass < 1:
            raise ConfigError(f"subsets_per_pass: must be >= 1 (got {self.subsets_per_pass})")


def subset_masks(num_edges: int) -> Tensor:
    """[2^m, m] float keep-masks of every subset: row ``s`` keeps edge ``j`` iff bit ``j``
    of ``s`` is 0 (row 0 keeps everything, the last row drops everything)."""
    rows = torch.arange(2 ** num_edges).view(-1, 1)
    bits = (rows >> torch.arange(num_edges).view(1, -1)) & 1
    return (1 - bits).float()


def _replicated_log_probs(model: nn.Module, graph: InstanceBatch, keep: Tensor) -> Tensor:
    """Log-probabilities [S, C] of one graph under each of ``S`` keep-masks [S, m]."""
    s, m = keep.shape
    n = graph.x.size(0)
    offsets = (torch.arange(s, device=keep.device) * n).repeat_interleave(m)
    edge_index = graph.edge_index.repeat(1, s) + offsets
    kwargs = {"batch": torch.arange(s, device=keep.device).repeat_interleave(n)}
    if graph.edge_attr is not None:
        kwargs["edge_attr"] = graph.edge_attr.repeat(s, 1)
    if graph.edge_type is not None:
        kwargs["edge_type"] = graph.edge_type.repeat(s)
    with edge_mask(model, keep.reshape(-1)):
        logits = model(graph.x.repeat(s, 1), edge_index, **kwargs)
    return logits.log_softmax(dim=-1)


def erasure_search(model: nn.Module, graph: InstanceBatch, subsets_per_pass: int = 4096) -> Tensor:
    """[m] keep-mask (1 kept, 0 dropped) of the largest prediction-preserving drop set.

    ``graph`` is a one-graph ``InstanceBatch`` (``graph_batch`` of one id).
    """
    m = graph.edge_index.size(1)
    device = graph.x.device
    with torch.no_grad():
        pred = _replicated_log_probs(model, graph, torch.ones(1, m, device=device)).argmax(-1)
        masks = subset_masks(m).to(device)
        best_key: tuple[float, float] | None = None
        best = masks[0]
        for start in range(0, masks.size(0), subsets_per_pass):
            chunk = masks[start : start + subsets_per_pass]
            log_probs = _replicated_log_probs(model, graph, chunk)
            same = log_probs.argmax(-1) == pred
            if not bool(same.any()):
                continue
            dropped = (1 - chunk).sum(dim=1)
            target = log_probs[:, int(pred)]
            # lexicographic (dropped, log-prob) among prediction-preserving subsets;
            # argmax returns the first maximum, i.e. the earliest subset on ties
            score = torch.where(same, dropped * 1e6 + target.clamp(min=-1e5), torch.full_like(target, -1e12))
            i = int(score.argmax())
            key = (float(dropped[i]), float(target[i]))
            if best_key is None or key > best_key:
                best_key, best = key, chunk[i]
    return best


@register_explainer(ExplainerInfo(
    name="erasure-search", citation="Schlichtkrull et al., ICLR 2021 (arXiv 2010.00577), "
    "the exhaustive baseline", task_levels=frozenset({TaskLevel.GRAPH}), source="baseline",
    description="exhaustive search over all edge subsets: the largest set of edges whose "
    "removal keeps the prediction; kept edges score 1 (small graphs only)"))
class ErasureSearch(Explainer):
    """Exhaustive erasure search (module docstring); scores are the hard keep-mask."""

    Config = ErasureConfig

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:  # type: ignore[override]
        reason = super().supports(model, dataset)  # type: ignore[arg-type]
        if reason:
            return reason
        assert dataset.edge_ptr is not None
        largest = int(dataset.edge_ptr.diff().max()) if dataset.num_graphs else 0
        if largest > self.config.max_edges:
            return (f"erasure-search tries 2^m edge subsets per graph; {dataset.name} has graphs "
                    f"of up to {largest} edges (max_edges={self.config.max_edges})")
        return None

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        start = time.perf_counter()
        ids, _hops, device = prepare_explain(self, model, dataset, ids)
        batch = graph_batch(dataset, ids)
        scores = []
        with frozen(model):
            for b, gid in enumerate(ids.tolist()):
                graph = graph_batch(dataset, torch.tensor([gid])).to(device)
                scores.append(erasure_search(model, graph, self.config.subsets_per_pass).cpu())
        ptr = torch.cat([torch.zeros(1, dtype=torch.long),
                         torch.bincount(batch.edge_instance, minlength=ids.numel()).cumsum(0)])
        keep = torch.cat(scores) if scores else torch.zeros(0)
        return Explanation(task=TaskLevel.GRAPH, instance_ids=ids, edge_ids=batch.edge_ids,
                           edge_ptr=ptr, edge_scores=keep, seconds=time.perf_counter() - start,
                           meta={"explainer": self.info.name, "hparams": self.hparams(),
                                 "device": str(device), "hard_gates": keep.bool().view(1, -1)})
