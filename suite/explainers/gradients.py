"""Gradient attributions w.r.t. an edge mask: Saliency, Integrated Gradients, Grad x Input.

Every method differentiates ``F_yhat``, the model's output for the class ``yhat`` the
unmasked model predicts, w.r.t. an edge mask ``m`` [M] that scales each explainable
edge's messages (all layers; context edges fixed at 1) and w.r.t. the node features
``x`` [n, F]. ``F`` is each method's published output (option ``output``, :data:`OUTPUTS`):
the unnormalised class score (the logit) for Saliency (Simonyan et al. 2014 differentiate
the class score before the softmax) and Grad x Input, the class probability for
Integrated Gradients (Sundararajan et al. 2017 attribute ``F: R^n -> [0, 1]``). The batch
is a disjoint union, so the gradient of ``sum_b F_yhat(b)`` gives every instance exactly
its own gradient: one backward serves the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from suite.core.config import ConfigError
from suite.core.types import BenchmarkDataset
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.toolkit import (
    BatchedConfig,
    ViewExplainer,
    ViewResult,
    explained_node_mask,
    forward,
    predict,
    target_log_prob,
)
from suite.graph.subgraphs import InstanceBatch

#: What a gradient method differentiates: name -> ``f(logits [B, C], target [B]) -> [B]``.
OUTPUTS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "logit": lambda logits, target: logits.gather(1, target.view(-1, 1)).squeeze(1),
    "probability": lambda logits, target: torch.softmax(logits, dim=-1).gather(
        1, target.view(-1, 1)).squeeze(1),
    "log-probability": target_log_prob,
}


def check_output(value: str) -> None:
    """Raise ``ConfigError`` naming the field when ``value`` is not one of :data:`OUTPUTS`."""
    if value not in OUTPUTS:
        raise ConfigError(f"output: expected one of {', '.join(OUTPUTS)} (got {value!r})")


@dataclass
class Gradients:
    """Gradients of ``sum_b F_yhat(b)`` at one point: ``edge`` [M], ``x`` [n, F] or None."""

    edge: Tensor
    x: Tensor | None
    logits: Tensor


def gradients(model: nn.Module, view: InstanceBatch, target: Tensor | None,
              edge_value: float = 1.0, x_scale: float = 1.0, want_x: bool = True,
              output: str = "logit") -> Gradients:
    """One forward+backward of ``OUTPUTS[output]`` at mask ``m = edge_value`` and features
    ``x_scale * x``.

    ``target`` [B] is the explained class per instance; None takes the argmax of
    this very forward pass (equal to the unmasked prediction when ``edge_value``
    and ``x_scale`` are 1). Integer features get no gradient (``x`` is None).
    """
    mask = torch.full((view.num_explainable,), float(edge_value), device=view.x.device,
                      requires_grad=True)
    want_x = want_x and view.x.is_floating_point()
    x = (view.x * x_scale).detach().requires_grad_(True) if want_x else view.x
    logits = forward(model, view, mask, x)
    if target is None:
        target = logits.detach().argmax(dim=-1)
    objective = OUTPUTS[output](logits, target).sum()
    inputs = [mask, x] if want_x else [mask]
    grads = torch.autograd.grad(objective, inputs, allow_unused=True)
    edge = grads[0] if grads[0] is not None else torch.zeros_like(mask)
    grad_x = None
    if want_x:
        grad_x = grads[1] if grads[1] is not None else torch.zeros_like(x)
    return Gradients(edge=edge.detach(), x=None if grad_x is None else grad_x.detach(),
                     logits=logits.detach())


def _node_rows(view: InstanceBatch, values: Tensor | None) -> Tensor | None:
    """[n, ...] per-union-node values -> [K] rows of the explained nodes (or None)."""
    return None if values is None else values[explained_node_mask(view)]


# --------------------------------------------------------------------- saliency

@dataclass
class SaliencyConfig(BatchedConfig):
    """Config of the one-pass gradient methods (Saliency, Grad x Input).

    Attributes:
        node_scores: also score nodes (from d F / d x, same pass).
        output: what is differentiated (:data:`OUTPUTS`; the published choice, the logit).
    """

    node_scores: bool = True
    output: str = "logit"

    def __post_init__(self) -> None:
        check_output(self.output)


@register_explainer(ExplainerInfo(
    name="saliency", citation="Simonyan et al., ICLR 2014 workshop (arXiv 1312.6034); "
    "for GNNs: Pope et al., CVPR 2019",
    description="|d F_yhat / d m_e| at edge mask m = 1, F the logit; nodes: ||d F_yhat / d x_v||_2"))
class Saliency(ViewExplainer):
    """Edge score ``|d F_yhat / d m_e|`` at ``m = 1``; node score ``||d F_yhat / d x_v||_2``.

    One forward+backward for the whole batch (the forward at ``m = 1`` is the
    unmasked model, so it also gives the prediction ``yhat``).
    """

    Config = SaliencyConfig

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        grads = gradients(model, view, target=None, want_x=self.config.node_scores,
                          output=self.config.output)
        nodes = None if grads.x is None else grads.x.norm(dim=-1)
        return ViewResult(edge_scores=grads.edge.abs(), node_scores=_node_rows(view, nodes),
                          target=grads.logits.argmax(dim=-1))


# ------------------------------------------------------------------ grad x input

@register_explainer(ExplainerInfo(
    name="grad-x-input", signed=True,
    citation="Shrikumar et al., 2016 (arXiv 1605.01713); for GNNs: Sanchez-Lengeling et al., "
    "NeurIPS 2020",
    description="edge: m_e * d F_yhat / d m_e at m = 1 (the signed gradient), F the logit; "
    "nodes: sum_f x_vf * d F_yhat / d x_vf"))
class GradXInput(ViewExplainer):
    """Edge score ``m_e * d F_yhat / d m_e`` at ``m = 1``, which equals the signed gradient
    (the edge mask's input value is 1); node score ``sum_f x_vf * d F_yhat / d x_vf``.
    """

    Config = SaliencyConfig

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        grads = gradients(model, view, target=None, want_x=self.config.node_scores,
                          output=self.config.output)
        nodes = None if grads.x is None else (grads.x * view.x).sum(dim=-1)
        return ViewResult(edge_scores=grads.edge, node_scores=_node_rows(view, nodes),
                          target=grads.logits.argmax(dim=-1))


# ----------------------------------------------------------- integrated gradients

PathRule = Callable[[int], tuple[Tensor, Tensor]]


def _midpoint(steps: int) -> tuple[Tensor, Tensor]:
    """Riemann midpoint rule: alpha_i = (i + 1/2) / s, weight 1/s (i = 0..s-1)."""
    alphas = (torch.arange(steps, dtype=torch.float64) + 0.5) / steps
    return alphas, torch.full((steps,), 1.0 / steps, dtype=torch.float64)


def _trapezoid(steps: int) -> tuple[Tensor, Tensor]:
    """Trapezoid rule: alpha_i = i / (s-1), weight 1/(s-1), halved at both ends."""
    if steps < 2:
        raise ConfigError(f"steps: the trapezoid rule needs at least 2 (got {steps})")
    alphas = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    weights = torch.full((steps,), 1.0 / (steps - 1), dtype=torch.float64)
    weights[0] = weights[-1] = 0.5 / (steps - 1)
    return alphas, weights


#: Quadrature rules for the path integral, by name.
PATH_RULES: dict[str, PathRule] = {"midpoint": _midpoint, "trapezoid": _trapezoid}


@dataclass
class IntegratedGradientsConfig(BatchedConfig):
    """Config of Integrated Gradients.

    Attributes:
        steps: quadrature points on the straight path from the baseline to the input.
        rule: ``"midpoint"`` (Riemann midpoint, default) or ``"trapezoid"``.
        node_scores: also attribute nodes (IG on ``x`` from a zero baseline; ``steps``
            more forward+backward passes).
        output: what is attributed (:data:`OUTPUTS`; the published choice, the class
            probability).
    """

    steps: int = 50
    rule: str = "midpoint"
    node_scores: bool = True
    output: str = "probability"

    def __post_init__(self) -> None:
        check_output(self.output)
        if self.steps < 1:
            raise ConfigError(f"steps: must be >= 1 (got {self.steps})")
        if self.rule not in PATH_RULES:
            raise ConfigError(f"rule: expected one of {', '.join(PATH_RULES)} (got {self.rule!r})")


@register_explainer(ExplainerInfo(
    name="integrated-gradients", signed=True,
    citation="Sundararajan et al., ICML 2017 (arXiv 1703.01365)",
    description="edge mask path from 0 to 1: (1 - 0) * mean_alpha d p_yhat / d m_e, p the "
    "class probability (Riemann midpoint); nodes: IG on x from a zero baseline, summed over "
    "features"))
class IntegratedGradients(ViewExplainer):
    """Signed Integrated Gradients on the edge mask and on the node features.

    Edge ``e``: ``IG_e = (1 - 0) * sum_i w_i * d F_yhat / d m_e |_{m = alpha_i}``,
    the mask of every explainable edge moved together from the baseline 0 to 1
    (context edges stay at 1). Node ``v``: ``sum_f x_vf * sum_i w_i * d F_yhat /
    d x_vf |_{alpha_i x}`` with the edge mask at 1. The rule picks ``(alpha_i, w_i)``
    (midpoint: ``alpha_i = (i + 1/2) / steps``, ``w_i = 1/steps``). ``yhat`` comes from
    one unmasked prediction pass; each step is one forward+backward for the batch.
    ``F`` is ``OUTPUTS[output]`` (default the class probability). Completeness:
    ``sum_e IG_e`` approximates ``F(m = 1) - F(m = 0)``.
    """

    Config = IntegratedGradientsConfig

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        target = predict(model, view)
        alphas, weights = PATH_RULES[self.config.rule](self.config.steps)
        edge = torch.zeros(view.num_explainable, dtype=torch.float64, device=view.x.device)
        for alpha, weight in zip(alphas.tolist(), weights.tolist()):
            grads = gradients(model, view, target, edge_value=alpha, want_x=False,
                              output=self.config.output)
            edge += weight * grads.edge.double()
        nodes = None
        if self.config.node_scores and view.x.is_floating_point():
            total = torch.zeros_like(view.x, dtype=torch.float64)
            for alpha, weight in zip(alphas.tolist(), weights.tolist()):
                grads = gradients(model, view, target, x_scale=alpha, want_x=True,
                                  output=self.config.output)
                assert grads.x is not None
                total += weight * grads.x.double()
            nodes = _node_rows(view, (view.x.double() * total).sum(dim=-1))
        return ViewResult(edge_scores=edge.float(), node_scores=None if nodes is None else nodes.float(),
                          target=target)
