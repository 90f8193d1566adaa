"""The random baseline: uniform scores, deterministic per (seed, instance id)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.toolkit import BatchedConfig, ViewExplainer, ViewResult, explained_node_mask
from suite.graph.subgraphs import InstanceBatch


@dataclass
class RandomConfig(BatchedConfig):
    """No hyper-parameters beyond ``batched`` (which changes nothing for this method)."""


@register_explainer(ExplainerInfo(
    name="random", citation="baseline", source="baseline",
    description="uniform U(0, 1) edge and node scores, drawn per instance from (seed, instance id)"))
class RandomExplainer(ViewExplainer):
    """Scores ~ U(0, 1), independent of the model.

    Instance ``i`` draws its edge scores, then its node scores, from
    ``suite.core.seeding.generator(seed, i)``, so a batch equals its parts.
    """

    Config = RandomConfig

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        edge_ptr = view.explained_edge_ptr().tolist()
        node_mask = explained_node_mask(view)
        node_counts = torch.bincount(view.node_instance[node_mask], minlength=view.num_instances)
        edges, nodes = [], []
        for b, instance in enumerate(view.instance_ids.tolist()):
            gen = generator(seed, instance)
            edges.append(torch.rand(edge_ptr[b + 1] - edge_ptr[b], generator=gen))
            nodes.append(torch.rand(int(node_counts[b]), generator=gen))
        return ViewResult(edge_scores=torch.cat(edges), node_scores=torch.cat(nodes))
