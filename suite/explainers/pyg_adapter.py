"""PyG's own explainers (``torch_geometric.explain``) on the suite's cells, for the board.

Each instance gets its own ``torch_geometric.explain.Explainer`` call, on its own
fresh deep copy of the model (several PyG algorithms leave state on the model), on
the FULL graph for node tasks (target passed as ``index``) and on the single graph
for graph tasks. Settings: ``explanation_type="model"`` (explain the model's own
prediction), ``edge_mask_type="object"``, no node mask, ``model_config =
(multiclass_classification, task_level, return_type="raw")``. The returned scores
are PyG's mask values on the instance's explainable edges, the same edge set as
the suite's explainers score. Global RNG draws (GNNExplainer's initialisation)
happen inside ``torch.random.fork_rng`` seeded from ``(seed, instance id)``, so the
caller's RNG state is untouched and a batch equals its parts.

The model is called as ``model(x, edge_index, batch=..., edge_attr=..., edge_type=...)``
with the keywords the dataset needs; Captum passes extra arguments positionally,
so a small wrapper maps them back to keywords.
"""

from __future__ import annotations

import copy
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from suite.core.config import ConfigError
from suite.core.extras import missing_extra
from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers.base import Explainer, ExplainerInfo, register_explainer
from suite.explainers.toolkit import (
    full_graph_view,
    mask_support_reason,
    model_device,
    model_num_hops,
    prepare_explain,
    prepare_fit,
)
from suite.graph.masking import message_layers
from suite.graph.subgraphs import InstanceBatch


class _KeywordModel(nn.Module):
    """``forward(x, edge_index, *extras)`` -> ``model(x, edge_index, **dict(zip(names, extras)))``."""

    def __init__(self, model: nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, x: Tensor, edge_index: Tensor, *extras: Tensor, **kwargs: Tensor) -> Tensor:
        kwargs.update(zip(self.names, extras))
        return self.model(x, edge_index, **kwargs)


def _captum_missing(needed_by: str) -> str | None:
    """Why ``needed_by`` cannot run without Captum (None when Captum is installed)."""
    try:
        import captum.attr  # noqa: F401
    except ImportError as exc:
        return missing_extra(exc, needed_by) or f"{needed_by} needs captum ({exc})"
    return None


class PygExplainer(Explainer):
    """Base of the adapters: one PyG ``Explainer`` call per instance on a model copy."""

    @abstractmethod
    def algorithm(self) -> Any:
        """A fresh ``torch_geometric.explain.algorithm.ExplainerAlgorithm``."""

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:  # type: ignore[override]
        return super().supports(model, dataset) or mask_support_reason(model)  # type: ignore[arg-type]

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        start = time.perf_counter()
        ids, hops, device = prepare_explain(self, model, dataset, ids)
        edge_ids, counts, scores = [], [], []
        for instance in ids.tolist():
            view = full_graph_view(dataset, instance, hops)
            mask = self._explain_one(model, view.to(device), generator(seed, instance).initial_seed())
            edge_ids.append(view.edge_ids[view.explainable])
            scores.append(mask[view.explainable.to(mask.device)].detach().float().cpu())
            counts.append(int(view.explainable.sum()))
        ptr = torch.tensor([0] + counts, dtype=torch.long).cumsum(0)
        return Explanation(
            task=dataset.task, instance_ids=ids,
            edge_ids=torch.cat(edge_ids) if edge_ids else torch.zeros(0, dtype=torch.long),
            edge_ptr=ptr, edge_scores=torch.cat(scores) if scores else torch.zeros(0),
            signed=self.info.signed, seconds=time.perf_counter() - start,
            meta={"explainer": self.info.name, "hparams": self.hparams(), "num_hops": hops,
                  "device": str(device), "batched": False},
        )

    def _explain_one(self, model: nn.Module, view: InstanceBatch, seed: int) -> Tensor:
        """PyG's edge mask [E_view] for the single instance of ``view``."""
        from torch_geometric.explain import Explainer as PygRunner

        kwargs = view.model_kwargs()
        wrapped = _KeywordModel(copy.deepcopy(model), tuple(kwargs)).eval()
        for p in wrapped.parameters():
            p.requires_grad_(False)
        runner = PygRunner(
            model=wrapped, algorithm=self.algorithm(), explanation_type="model",
            edge_mask_type="object", node_mask_type=None,
            model_config=dict(mode="multiclass_classification", task_level=view.task.value,
                              return_type="raw"),
        )
        index = int(view.target_index[0]) if view.task == TaskLevel.NODE else None
        devices = [view.x.device] if view.x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            out = runner(view.x, view.edge_index, index=index, **kwargs)
        return out.edge_mask


@dataclass
class PygGNNExplainerConfig:
    """Attributes: epochs: Adam steps; lr: learning rate (PyG's defaults)."""

    epochs: int = 100
    lr: float = 0.01

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs: must be >= 1 (got {self.epochs})")
        if not self.lr > 0:
            raise ConfigError(f"lr: must be > 0 (got {self.lr})")


@register_explainer(ExplainerInfo(
    name="pyg-gnnexplainer", source="pyg",
    citation="Ying et al., NeurIPS 2019; implementation: torch_geometric.explain.GNNExplainer",
    description="PyG's GNNExplainer, run one instance at a time on the full graph "
    "(its own model copy per instance)"))
class PygGNNExplainer(PygExplainer):
    Config = PygGNNExplainerConfig

    def algorithm(self) -> Any:
        from torch_geometric.explain.algorithm import GNNExplainer

        return GNNExplainer(epochs=self.config.epochs, lr=self.config.lr)


class _CaptumAdapter(PygExplainer):
    """PyG's ``CaptumExplainer`` with one Captum method (raw logit of the predicted class)."""

    method: str = ""

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:  # type: ignore[override]
        reason = super().supports(model, dataset)
        return reason or _captum_missing(self.info.name)

    def captum_kwargs(self) -> dict[str, Any]:
        return {}

    def algorithm(self) -> Any:
        from torch_geometric.explain.algorithm import CaptumExplainer

        return CaptumExplainer(self.method, **self.captum_kwargs())


@register_explainer(ExplainerInfo(
    name="pyg-saliency", source="pyg",
    citation="Simonyan et al., 2014; implementation: torch_geometric CaptumExplainer('Saliency')",
    description="PyG's CaptumExplainer('Saliency'): |d logit_yhat / d m_e| (raw logit), "
    "run one instance at a time on the full graph"))
class PygSaliency(_CaptumAdapter):
    method = "Saliency"


@dataclass
class PygIntegratedGradientsConfig:
    """Attributes: steps: Captum's ``n_steps`` (its default Gauss-Legendre rule)."""

    steps: int = 50

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"steps: must be >= 1 (got {self.steps})")


@register_explainer(ExplainerInfo(
    name="pyg-integrated-gradients", source="pyg", signed=True,
    citation="Sundararajan et al., ICML 2017; implementation: torch_geometric "
    "CaptumExplainer('IntegratedGradients')",
    description="PyG's CaptumExplainer('IntegratedGradients') on the edge mask (raw logit, "
    "signed), run one instance at a time on the full graph"))
class PygIntegratedGradients(_CaptumAdapter):
    method = "IntegratedGradients"
    Config = PygIntegratedGradientsConfig

    def captum_kwargs(self) -> dict[str, Any]:
        return {"n_steps": self.config.steps}


@dataclass
class PygGraphMaskConfig:
    """PyG's ``GraphMaskExplainer`` arguments (its defaults; its own range checks).

    Attributes:
        epochs: training epochs per layer (layers enabled top-down).
        lr: Adam learning rate.
        penalty_scaling: weight of the L0 penalty, in [0, 10].
        lambda_lr: learning rate of PyG's Lagrange multiplier.
        init_lambda: the multiplier's initial value, in [0, 1].
        allowance: tolerated loss, in [0, 1].
    """

    epochs: int = 100
    lr: float = 0.01
    penalty_scaling: float = 5.0
    lambda_lr: float = 0.01
    init_lambda: float = 0.55
    allowance: float = 0.03

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs: must be >= 1 (got {self.epochs})")
        for name in ("lr", "lambda_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0 (got {getattr(self, name)})")
        if not 0 <= self.penalty_scaling <= 10:
            raise ConfigError(f"penalty_scaling: must lie in [0, 10] (got {self.penalty_scaling})")
        for name in ("init_lambda", "allowance"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name}: must lie in [0, 1] (got {getattr(self, name)})")


@register_explainer(ExplainerInfo(
    name="pyg-graphmask", source="pyg",
    citation="Schlichtkrull et al., ICLR 2021; implementation: torch_geometric "
    "GraphMaskExplainer (a per-instance variant, not the paper's amortised method)",
    description="PyG's GraphMaskExplainer, PyG's PER-INSTANCE variant (NOT the paper's amortised "
    "GraphMask, which is `graphmask`): trained per instance, lambda re-created every step, scalar "
    "baseline, zeta 1.2, min/max-midpoint threshold, a node-feature mask, and LayerNorm+ReLU "
    "inserted into every message; scores = mean over layers; run one instance at a time on the "
    "full graph (its own model copy per instance)"))
class PygGraphMask(PygExplainer):
    """PyG's ``GraphMaskExplainer``; refuses models whose layers lack ``in_channels``/``out_channels``
    (e.g. GIN) or send multi-head messages (GAT), which it cannot handle."""

    Config = PygGraphMaskConfig

    def supports(self, model: nn.Module, dataset: BenchmarkDataset) -> str | None:  # type: ignore[override]
        reason = super().supports(model, dataset)
        if reason is not None:
            return reason

        for layer in message_layers(model):
            name = type(layer).__name__
            if not isinstance(getattr(layer, "in_channels", None), int) or \
                    not isinstance(getattr(layer, "out_channels", None), int):
                return (f"GraphMaskExplainer needs in_channels and out_channels (ints) on every "
                        f"message-passing layer; {name} has none")
            if int(getattr(layer, "heads", 1) or 1) > 1:
                return (f"GraphMaskExplainer cannot gate multi-head messages ({name} with "
                        f"heads={layer.heads}): it gates each head and then flattens the "
                        "[E, heads] gates, so its scores no longer line up with the edges")
        return None

    def _explain_one(self, model: nn.Module, view: InstanceBatch, seed: int) -> Tensor:
        self._num_layers = len(message_layers(model))
        return super()._explain_one(model, view, seed)

    def algorithm(self) -> Any:
        from torch_geometric.explain.algorithm import GraphMaskExplainer

        cfg = self.config
        return GraphMaskExplainer(self._num_layers, epochs=cfg.epochs, lr=cfg.lr,
                                  penalty_scaling=cfg.penalty_scaling,
                                  lambda_optimizer_lr=cfg.lambda_lr, init_lambda=cfg.init_lambda,
                                  allowance=cfg.allowance, log=False)


#: Key of the generator that picks PyG PGExplainer's fit subset.
_FIT_SUBSET_STREAM = 0x9F17


@dataclass
class PygPGExplainerConfig:
    """PyG's ``PGExplainer`` arguments (its defaults: lr 0.003; epochs has no default).

    Attributes:
        epochs: training passes over the fit instances (one ``algorithm.train`` call per
            instance and epoch: PyG's PGExplainer takes a single index per call).
        lr: Adam learning rate of its MLP.
        fit_instances: train on at most this many of the fit instances (a fixed seeded
            subset; 0 = all): the default matrix caps it to keep PyG's per-instance
            training within the run's time budget.
    """

    epochs: int = 30
    lr: float = 0.003
    fit_instances: int = 0

    def __post_init__(self) -> None:
        if self.fit_instances < 0:
            raise ConfigError(f"fit_instances: must be >= 0 (got {self.fit_instances})")
        if self.epochs < 1:
            raise ConfigError(f"epochs: must be >= 1 (got {self.epochs})")
        if not self.lr > 0:
            raise ConfigError(f"lr: must be > 0 (got {self.lr})")


@register_explainer(ExplainerInfo(
    name="pyg-pgexplainer", source="pyg", amortised=True,
    citation="Luo et al., NeurIPS 2020; implementation: torch_geometric.explain.PGExplainer",
    description="PyG's PGExplainer (phenomenon explanations of the model's own prediction): "
    "fit trains its MLP one instance per call on the full graph (node tasks) or on each "
    "graph; explain runs one instance at a time"))
class PygPGExplainer(PygExplainer):
    """PyG's ``PGExplainer``; ``fit`` must run before ``explain``. The target is the
    model's own prediction, so the phenomenon it explains is the model's output."""

    Config = PygPGExplainerConfig

    def algorithm(self) -> Any:
        from torch_geometric.explain.algorithm import PGExplainer

        return PGExplainer(epochs=self.config.epochs, lr=self.config.lr)

    def _runner(self, wrapped: nn.Module, task: TaskLevel) -> Any:
        from torch_geometric.explain import Explainer as PygRunner

        return PygRunner(
            model=wrapped, algorithm=self._algorithm, explanation_type="phenomenon",
            edge_mask_type="object", node_mask_type=None,
            model_config=dict(mode="multiclass_classification", task_level=task.value,
                              return_type="raw"))

    def fit(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, seed: int) -> None:
        ids = prepare_fit(self, model, dataset, ids)
        if 0 < self.config.fit_instances < ids.numel():
            order = torch.randperm(ids.numel(), generator=generator(seed, _FIT_SUBSET_STREAM))
            ids = ids[order[: self.config.fit_instances]].sort().values
        hops, device = model_num_hops(model), model_device(model)
        views = [full_graph_view(dataset, int(i), hops).to(device) for i in
                 (ids[:1] if dataset.task == TaskLevel.NODE else ids)]
        kwargs = views[0].model_kwargs()
        self._wrapped = _KeywordModel(copy.deepcopy(model), tuple(kwargs)).eval()
        for p in self._wrapped.parameters():
            p.requires_grad_(False)
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(generator(seed, 0).initial_seed())
            self._algorithm = self.algorithm().to(device)
            self._runner(self._wrapped, dataset.task)  # connects the model config
            if dataset.task == TaskLevel.NODE:
                view = views[0]
                with torch.no_grad():
                    target = self._wrapped(view.x, view.edge_index, **kwargs).argmax(-1)
                for epoch in range(self.config.epochs):
                    for index in ids.tolist():
                        self._algorithm.train(epoch, self._wrapped, view.x, view.edge_index,
                                              target=target, index=int(index), **kwargs)
            else:
                targets = []
                with torch.no_grad():
                    for view in views:
                        vk = view.model_kwargs()
                        targets.append(self._wrapped(view.x, view.edge_index, **vk).argmax(-1))
                for epoch in range(self.config.epochs):
                    for view, target in zip(views, targets):
                        self._algorithm.train(epoch, self._wrapped, view.x, view.edge_index,
                                              target=target, **view.model_kwargs())

    def _explain_one(self, model: nn.Module, view: InstanceBatch, seed: int) -> Tensor:
        if getattr(self, "_algorithm", None) is None:
            raise RuntimeError("pyg-pgexplainer: call fit() before explain()")
        kwargs = view.model_kwargs()
        runner = self._runner(self._wrapped, view.task)
        with torch.no_grad():
            target = self._wrapped(view.x, view.edge_index, **kwargs).argmax(-1)
        index = int(view.target_index[0]) if view.task == TaskLevel.NODE else None
        out = runner(view.x, view.edge_index, target=target, index=index, **kwargs)
        return out.edge_mask
