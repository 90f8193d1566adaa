"""Leave-one-edge-out occlusion: the faithful reference of every cell.

Each undirected edge (both directions together) is removed from the instance's graph on
its own, degrees recomputed, and its score is the drop of the probability of the
model's original prediction (``suite.metrics.removal.leave_one_pair_out``): signed, as
removing an edge may also raise that probability (metrics read ``|score|``, the
suite's convention for signed attributions). Exact and
model-agnostic, it measures what the deletion curve's first step measures, one edge at
a time; the board shows it as a labelled reference row, never ranked, and reports every
explainer's rank correlation with it.

Cost: one forward pass of the batch per pair position (``max_b P_b`` passes).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from suite.core.types import BenchmarkDataset
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.toolkit import BatchedConfig, ViewExplainer, ViewResult
from suite.graph.subgraphs import InstanceBatch
from suite.metrics.removal import leave_one_pair_out
from suite.protocol import REFERENCE_SOURCE


@dataclass
class OcclusionConfig(BatchedConfig):
    """No hyper-parameters beyond ``batched`` (which changes nothing for this method)."""


@register_explainer(ExplainerInfo(
    name="occlusion", source=REFERENCE_SOURCE, signed=True,
    citation="Zeiler & Fergus, ECCV 2014 (occlusion); leave-one-edge-out as the faithful "
             "reference, cf. GraphFramEx (Amara et al., LoG 2022, arXiv 2206.09677)",
    description="exact leave-one-edge-out: the drop of the original prediction's probability "
                "when an undirected edge is removed from the graph (the faithful reference "
                "row: shown, not ranked)"))
class Occlusion(ViewExplainer):
    """Scores = probability drop when the edge's undirected pair is removed (module doc)."""

    Config = OcclusionConfig

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        return ViewResult(edge_scores=leave_one_pair_out(model, view).float())
