"""A toy explainer plug-in: edges between low-degree nodes matter most.

Score of edge (u, v) in an instance's computation subgraph:
``1 / sqrt(deg(u) * deg(v))`` (in-degrees in the instance batch, context edges
included), divided by the instance's maximum, so scores lie in (0, 1]. Motif
nodes of the BA-based synthetic datasets have low degree, so this heuristic is
better than random there, and far from the gradient methods. It uses only the
suite's public API: ``Explainer``, ``ExplainerInfo``, ``register_explainer``,
``instance_batch`` and ``Explanation``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from suite.core.types import Explanation
from suite.explainers import Explainer, ExplainerInfo, register_explainer
from suite.graph.subgraphs import instance_batch

__version__ = "0.1.0"


@dataclass
class InverseDegreeConfig:
    """``power``: the exponent of the inverse degree product (0.5: 1 / sqrt(deg u * deg v))."""

    power: float = 0.5


@register_explainer(ExplainerInfo(
    name="toy-inverse-degree", citation="toy plug-in (tests/plugin_pkg)", source="plugin",
    description="1 / sqrt(deg(u) deg(v)) per edge of the computation subgraph, max-normalised"))
class InverseDegreeExplainer(Explainer):
    """Model-independent edge scores from node degrees (see the module docstring)."""

    Config = InverseDegreeConfig

    def explain(self, model, dataset, ids, seed) -> Explanation:
        start = time.perf_counter()
        batch = instance_batch(dataset, ids, model.num_layers)
        src, dst = batch.edge_index
        degree = torch.bincount(dst, minlength=batch.x.size(0)).clamp(min=1).double()
        raw = (degree[src] * degree[dst]).pow(-self.config.power)[batch.explainable]
        owner = batch.edge_instance[batch.explainable]
        top = torch.zeros(ids.numel(), dtype=raw.dtype).scatter_reduce(
            0, owner, raw, reduce="amax", include_self=False)
        scores = (raw / top[owner]).float()
        return Explanation(task=dataset.task, instance_ids=ids,
                           edge_ids=batch.edge_ids[batch.explainable],
                           edge_ptr=batch.explained_edge_ptr(), edge_scores=scores,
                           seconds=max(time.perf_counter() - start, 1e-9))
