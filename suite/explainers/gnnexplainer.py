"""GNNExplainer (Ying et al., NeurIPS 2019), one optimisation for a whole batch.

Per instance ``b`` a free logit ``w_e`` per explainable edge; mask ``m_e = sigmoid(w_e)``
scales the edge's messages in every layer (context edges fixed at 1). Loss of
instance ``b`` with ``M_b`` explainable edges and explained class ``yhat_b``::

    L_b = -log p_yhat_b(m) + edge_size * sum_e m_e + edge_ent * (1/M_b) sum_e H(m_e)
    H(m) = -m log(m + eps) - (1 - m) log(1 - m + eps),  eps = 1e-15

The optimiser minimises ``sum_b L_b`` with Adam. The batch is a disjoint union and
Adam is element-wise, so the batched run equals one run per instance on its full
graph; each step is exactly one forward+backward of the model for the whole
batch (plus one unmasked prediction pass before the first step).

Initialisation: ``w ~ N(0, std_b^2)`` with ``std_b = gain(relu) * sqrt(2 / (2 n_b))``.
``init_nodes="subgraph"`` (default): ``n_b`` is the number of nodes of instance
``b``'s computation subgraph (nodes within ``k`` hops of a node target; every node
of a graph target), as in the paper's code, which explains a node on its extracted
neighbourhood. ``init_nodes="graph"``: ``n_b`` is the node count of the instance's
whole graph (all ``N`` nodes for node tasks), as PyG does; its smaller std leaves
less initial noise in the final mask of node tasks. Both are independent of
batching. Each instance draws from ``suite.core.seeding.generator(seed, instance_id)``
(the same stream as ``torch.manual_seed`` of that generator's seed, so a PyG run
seeded that way starts from the same draw on a graph task).

Differences from PyG's ``GNNExplainer`` (same defaults otherwise): PyG skips the
regulariser in its first step and restricts it to edges whose first gradient is
non-zero; here it applies from the first step to the explainable edges (exactly
the edges that can reach the target).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from suite.core.config import OMIT_DEFAULT, ConfigError
from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.lean_adam import LeanAdam
from suite.explainers.toolkit import (
    BatchedConfig,
    ViewExplainer,
    ViewResult,
    binary_entropy,
    explained_edge_instance,
    forward,
    nodes_per_instance,
    predict,
    reverse_partner,
    segment_sum,
    target_log_prob,
)
from suite.graph.masking import MASK_MODES, weight_mode_reason
from suite.graph.subgraphs import InstanceBatch

#: Standard deviation of the initial feature-mask logits (PyG's value).
FEATURE_MASK_STD = 0.1


@dataclass
class GNNExplainerConfig(BatchedConfig):
    """Hyper-parameters.

    Defaults are PyG's except ``epochs=300``, ``init_mean=1.0`` (both the paper's
    code), ``edge_ent=0.0`` and ``symmetric=True``, chosen by ``suite tune
    --explainer gnnexplainer --task node`` on validation instances of the default
    matrix's node datasets by faithfulness, without the ground truth (table:
    results/reference/tuning-gnnexplainer-node-removal.md; grid:
    suite/presets/tuning.yaml, the same 8 trials as every explainer). The default preset
    sets the graph level to PyG's values (``by_task``).

    Attributes:
        epochs: Adam steps.
        lr: Adam learning rate.
        edge_size: weight of ``sum_e m_e`` (per instance).
        edge_ent: weight of the mean binary entropy of the edge mask.
        node_feat_mask: also learn one feature mask [F] per instance (the paper's
            feature mask, shared by the instance's nodes), off by default; returned
            in ``Explanation.meta["node_feat_mask"]`` [B, F].
        node_feat_size: weight of the feature mask's mean.
        node_feat_ent: weight of the feature mask's mean binary entropy.
        init_nodes: ``"subgraph"`` or ``"graph"``: which node count sets the
            initial std (module docstring).
        init_mean: mean of the initial edge logits: 0.0 as PyG (masks start near
            0.5), 1.0 as the paper's code (``normal_(mask, 1.0, std)``: masks start
            near 0.73, closer to the unmasked graph the model was trained on).
        symmetric: tie the two directions of an undirected edge: the mask of
            ``u -> v`` is ``(sigmoid(w_uv) + sigmoid(w_vu)) / 2``, as the paper's
            code does (it masks a dense adjacency with ``(M + M^T) / 2``); an edge
            whose reverse is not explainable keeps its own mask.
        mask_mode: ``"message"`` (default, PyG's convention): the mask scales each
            message after GCN's degree normalisation, self-loop messages unmasked;
            ``"weight"``: the mask is an edge weight before the normalisation, i.e. the
            model runs on the weighted subgraph (degrees recomputed from the mask; a 0/1
            mask equals deleting edges). Same for sum-aggregation layers (GIN). Weight
            mode runs the model on the whole batch view each step (no pruning), slower.
            Left out of the cell key at its default.
    """

    epochs: int = 300  # `suite tune` (node level, faithfulness); PyG: 100
    lr: float = 0.01
    edge_size: float = 0.005
    edge_ent: float = 0.0  # `suite tune` (node level, faithfulness); PyG and the paper: 1.0
    node_feat_mask: bool = False
    node_feat_size: float = 1.0
    node_feat_ent: float = 0.1
    init_nodes: str = "subgraph"
    init_mean: float = 1.0  # `suite tune` (node level, faithfulness); PyG: 0.0
    symmetric: bool = True  # `suite tune` (node level, faithfulness); the paper's code too
    mask_mode: str = field(default="message", metadata={OMIT_DEFAULT: True})

    def __post_init__(self) -> None:
        if self.init_nodes not in INIT_NODES:
            raise ConfigError(f"init_nodes: expected one of {', '.join(INIT_NODES)} "
                              f"(got {self.init_nodes!r})")
        if self.mask_mode not in MASK_MODES:
            raise ConfigError(f"mask_mode: expected one of {', '.join(MASK_MODES)} "
                              f"(got {self.mask_mode!r})")
        if self.epochs < 0:
            raise ConfigError(f"epochs: must be >= 0 (got {self.epochs})")
        if not self.lr > 0:
            raise ConfigError(f"lr: must be > 0 (got {self.lr})")
        for name in ("edge_size", "edge_ent", "node_feat_size", "node_feat_ent"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0 (got {getattr(self, name)})")


def _subgraph_nodes(view: InstanceBatch, dataset: BenchmarkDataset) -> Tensor:
    return nodes_per_instance(view)


def _graph_nodes(view: InstanceBatch, dataset: BenchmarkDataset) -> Tensor:
    if dataset.task == TaskLevel.NODE:
        return torch.full((view.num_instances,), int(dataset.data.num_nodes), dtype=torch.long)
    return nodes_per_instance(view)  # a graph target's explained nodes are its whole graph


#: Node counts [B] that set the initial std, by ``init_nodes`` name.
INIT_NODES: dict[str, Callable[[InstanceBatch, BenchmarkDataset], Tensor]] = {
    "subgraph": _subgraph_nodes, "graph": _graph_nodes,
}


def initial_logits(view: InstanceBatch, seed: int, n_nodes: Tensor,
                   num_features: int = 0) -> tuple[Tensor, Tensor]:
    """Initial edge logits [M_v] and feature-mask logits [B, F] (F = ``num_features``).

    Instance ``b`` draws its edge logits (std from ``n_nodes[b]``, module docstring),
    then its feature logits, from ``generator(seed, instance_id)`` (CPU).
    """
    gain = nn.init.calculate_gain("relu")
    ptr = view.explained_edge_ptr().tolist()
    n_nodes = n_nodes.tolist()
    edges, feats = [], []
    for b, instance in enumerate(view.instance_ids.tolist()):
        gen = generator(seed, instance)
        std = gain * math.sqrt(2.0 / (2 * max(n_nodes[b], 1)))
        edges.append(torch.randn(ptr[b + 1] - ptr[b], generator=gen) * std)
        feats.append(torch.randn(num_features, generator=gen) * FEATURE_MASK_STD)
    return torch.cat(edges), torch.stack(feats)


@register_explainer(ExplainerInfo(
    name="gnnexplainer", citation="Ying et al., NeurIPS 2019 (arXiv 1903.03894)",
    description="per-instance soft edge mask, -log p_yhat + size + entropy penalties, Adam; "
    "all instances in one batched optimisation"))
class GNNExplainer(ViewExplainer):
    """GNNExplainer's soft edge mask (optionally a feature mask); scores = final ``sigmoid(w)``."""

    Config = GNNExplainerConfig

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:
        reason = super().supports(model, dataset)
        if reason is None and self.config.mask_mode == "weight":
            reason = weight_mode_reason(model)
        return reason

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        cfg: GNNExplainerConfig = self.config
        device = view.x.device
        b = view.num_instances
        use_feat = cfg.node_feat_mask and view.x.is_floating_point()
        n_nodes = INIT_NODES[cfg.init_nodes](view, dataset)
        edge_init, feat_init = initial_logits(view, seed, n_nodes, view.x.size(1) if use_feat else 0)
        logits = (edge_init + cfg.init_mean).to(device).requires_grad_(True)
        feat_logits = feat_init.to(device).requires_grad_(True)
        params = [logits, feat_logits] if use_feat else [logits]
        edge_instance = explained_edge_instance(view)
        counts = torch.bincount(edge_instance, minlength=b).clamp(min=1).to(logits.dtype)

        partner = reverse_partner(view) if cfg.symmetric else None
        target = predict(model, view)
        optimizer = LeanAdam(params, lr=cfg.lr)  # torch.optim.Adam's update, bitwise
        for _ in range(cfg.epochs):
            optimizer.zero_grad()
            mask = logits.sigmoid()
            if partner is not None:
                mask = (mask + mask[partner]) / 2
            x = None
            if use_feat:
                x = view.x * feat_logits.sigmoid()[view.node_instance]
            loss_b = -target_log_prob(forward(model, view, mask, x, mask_mode=cfg.mask_mode), target)
            loss_b = loss_b + cfg.edge_size * segment_sum(mask, edge_instance, b)
            if cfg.edge_ent:  # speed path: no entropy graph when its weight is 0
                loss_b = loss_b + cfg.edge_ent * segment_sum(binary_entropy(mask), edge_instance, b) / counts
            if use_feat:
                fm = feat_logits.sigmoid()
                loss_b = loss_b + cfg.node_feat_size * fm.mean(dim=1)
                loss_b = loss_b + cfg.node_feat_ent * binary_entropy(fm).mean(dim=1)
            loss_b.sum().backward()
            optimizer.step()

        extras = {"node_feat_mask": feat_logits.detach().sigmoid()} if use_feat else {}
        scores = logits.detach().sigmoid()
        if partner is not None:
            scores = (scores + scores[partner]) / 2
        return ViewResult(edge_scores=scores, target=target, extras=extras)
