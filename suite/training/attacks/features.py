"""``pgd-features``: projected gradient ascent on node features (Madry et al., ICLR 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from suite.models.base import GraphModel
from suite.training.loop import GraphInputs, forward

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]
from suite.training.attacks.common import attacking, target_rows, uniform
from suite.training.attacks.configs import FeatureAttackConfig


def pgd_features(model: GraphModel, inputs: GraphInputs, y: Tensor, index: Tensor | None,
                 config: FeatureAttackConfig,
                 generator: torch.Generator | None = None) -> Tensor:
    r"""Projected gradient ascent on node features: x' [n, F] with ||x' - x|| <= epsilon.

    .. math::
        \delta_0 \sim \text{ball} \text{ (or 0)}, \quad
        \delta_{t+1} = \Pi_{\epsilon}\big(\delta_t + \alpha\, d(\nabla_\delta
        \mathrm{CE}(f(x + \delta_t)_{index}, y))\big)

    with ``d(g) = sign(g)`` and ``Pi`` = clamp to [-eps, eps] element-wise for
    ``norm="linf"``, and ``d(g) = g / ||g_v||`` per node row v and ``Pi`` = scale each
    row into the L2 ball of radius ``epsilon`` for ``norm="l2"``. Every node's features
    may move (the whole input graph), not only the targets'. The features are not
    clipped to any data range.

    Args:
        model, inputs: the model and its clean inputs (not modified).
        y: labels of the rows ``index`` ([len(index)]) or of every output row.
        index: output rows whose mean cross-entropy is maximised (None = all rows).
        config: the ball (``epsilon`` in feature units, ``norm``), ``steps`` (0 = the random
            start only), ``step_size`` (alpha; None = ``2.5 * epsilon / steps``, a common
            heuristic that lets a walk started on the ball's surface cross it) and
            ``random_start`` (a uniform point of the ball: L-inf each entry U[-eps, eps],
            L2 a uniform direction per row at radius U[0, eps]; else the clean features).
        generator: CPU generator for the random start.

    Returns:
        The perturbed features, detached, on ``inputs.x``'s device.
    """
    epsilon, steps, norm = config.epsilon, config.steps, config.norm
    x = inputs.x.detach()
    if epsilon == 0:
        return x.clone()
    alpha = 2.5 * epsilon / max(steps, 1) if config.step_size is None else float(config.step_size)
    delta = _ball_start(x, epsilon, norm, generator) if config.random_start else torch.zeros_like(x)
    with attacking(model):
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(target_rows(forward(model, inputs.replace(x=x + delta)), index), y)
            (grad,) = torch.autograd.grad(loss, delta, allow_unused=True)
            grad = torch.zeros_like(x) if grad is None else grad
            with torch.no_grad():
                moved = delta.detach() + alpha * _direction(grad, norm)
                delta = _project_ball(moved, epsilon, norm)
    return (x + delta).detach()


def _ball_start(x: Tensor, epsilon: float, norm: str, generator: torch.Generator | None) -> Tensor:
    if norm == "linf":
        return (2 * uniform(tuple(x.shape), generator, x) - 1) * epsilon
    direction = torch.randn(tuple(x.shape), generator=generator).to(x)
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return direction * uniform((x.size(0), 1), generator, x) * epsilon


def _direction(grad: Tensor, norm: str) -> Tensor:
    if norm == "linf":
        return grad.sign()
    return grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def _project_ball(delta: Tensor, epsilon: float, norm: str) -> Tensor:
    if norm == "linf":
        return delta.clamp(-epsilon, epsilon)
    scale = (epsilon / delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale
