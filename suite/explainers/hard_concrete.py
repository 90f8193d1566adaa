"""The hard-concrete gate of GraphMask (Schlichtkrull et al., ICLR 2021), as pure functions.

A gate with logit ``a`` (the +``loc_bias`` shift already added, see :func:`shifted`)
and temperature ``t``, stretch interval ``(gamma, zeta)``:

- training: ``u ~ U(eps, 1 - eps)``, ``s = sigmoid((log u - log(1 - u) + a) / t)``;
- eval: no noise and, as in the reference code (and Louizos et al.), no
  temperature: ``s = sigmoid(a)``;
- both: stretch ``s' = (zeta - gamma) s + gamma``, clamp ``z_soft = clamp(s', 0, 1)``,
  hard gate ``z_hard = 1[z_soft > threshold]``; the gate used in the forward pass
  is ``z_hard`` with the gradient of ``z_soft`` (straight-through estimator).

Closed forms (``L`` is a standard logistic variable, so ``P(L > c) = sigmoid(-c)``):

- expected L0 (probability that the training gate is non-zero):
  ``P(z > 0) = P(s > -gamma / (zeta - gamma)) = sigmoid(a - t log(-gamma / zeta))``;
- probability that the training gate passes the threshold:
  ``P(z > c) = sigmoid(a - t log((c - gamma) / (zeta - c)))``.

The reference constants are ``t = 1/3``, ``gamma = -0.2``, ``zeta = 1.0``,
``loc_bias = 3`` (gates start open), threshold 0.5. With ``zeta = 1`` the upper
clamp never binds: a gate can be exactly 0 but only approaches 1 in its soft value.
Louizos et al.'s defaults differ (``gamma = -0.1``, ``zeta = 1.1``, ``t = 2/3``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from suite.core.config import ConfigError


@dataclass
class HardConcreteConfig:
    """Constants of the hard-concrete gate (defaults: GraphMask's reference code).

    Attributes:
        temperature: ``t`` of the relaxed Bernoulli (training samples only).
        gamma: lower end of the stretch interval (< 0).
        zeta: upper end of the stretch interval (>= 1).
        loc_bias: added to every logit, so gates start open (sigmoid(3) = 0.95).
        threshold: straight-through hard gate ``1[z_soft > threshold]``.
        eps: uniform noise is drawn from ``U(eps, 1 - eps)``.
    """

    temperature: float = 1.0 / 3.0
    gamma: float = -0.2
    zeta: float = 1.0
    loc_bias: float = 3.0
    threshold: float = 0.5
    eps: float = 1e-6

    def __post_init__(self) -> None:
        validate(self)


def validate(cfg: "HardConcreteConfig | object", prefix: str = "") -> None:
    """Raise ``ConfigError`` naming the field for constants outside their domain.

    Works on any object with the fields of :class:`HardConcreteConfig` (an
    explainer config that embeds them), ``prefix`` goes in front of field names.
    """
    t, gamma, zeta = cfg.temperature, cfg.gamma, cfg.zeta  # type: ignore[attr-defined]
    threshold, eps = cfg.threshold, cfg.eps  # type: ignore[attr-defined]
    if not t > 0:
        raise ConfigError(f"{prefix}temperature: must be > 0 (got {t})")
    if not gamma < 0:
        raise ConfigError(f"{prefix}gamma: must be < 0 (got {gamma})")
    if not zeta >= 1:
        raise ConfigError(f"{prefix}zeta: must be >= 1 (got {zeta})")
    if not 0 < threshold < 1:
        raise ConfigError(f"{prefix}threshold: must lie in (0, 1) (got {threshold})")
    if not 0 < eps < 0.5:
        raise ConfigError(f"{prefix}eps: must lie in (0, 0.5) (got {eps})")


def constants(cfg: object) -> HardConcreteConfig:
    """The hard-concrete fields of any config carrying them, as a ``HardConcreteConfig``."""
    if isinstance(cfg, HardConcreteConfig):
        return cfg
    return HardConcreteConfig(**{name: getattr(cfg, name) for name in
                                 ("temperature", "gamma", "zeta", "loc_bias", "threshold", "eps")})


class Gate(NamedTuple):
    """A sampled gate: ``soft`` = clamped stretched value, ``gate`` = straight-through
    hard gate (value ``1[soft > threshold]``, gradient of ``soft``)."""

    soft: Tensor
    gate: Tensor

    @property
    def hard(self) -> Tensor:
        """The hard gate as bool (no gradient)."""
        return self.gate.detach() > 0.5


def shifted(logits: Tensor, cfg: HardConcreteConfig) -> Tensor:
    """``logits + loc_bias``: the location of the gate distribution."""
    return logits + cfg.loc_bias


def uniform_noise(shape: torch.Size | tuple[int, ...], cfg: HardConcreteConfig,
                  generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> Tensor:
    """``U(eps, 1 - eps)`` noise of ``shape``, drawn on the generator's device (CPU
    by default) and moved to ``device``."""
    u = torch.rand(shape, generator=generator)
    u = u * (1 - 2 * cfg.eps) + cfg.eps
    return u if device is None else u.to(device)


def stretch_and_clamp(s: Tensor, cfg: HardConcreteConfig) -> Tensor:
    """``clamp((zeta - gamma) s + gamma, 0, 1)``."""
    return (s * (cfg.zeta - cfg.gamma) + cfg.gamma).clamp(0.0, 1.0)


def straight_through(soft: Tensor, cfg: HardConcreteConfig) -> Gate:
    """Hard 0/1 value of ``soft > threshold`` with the gradient of ``soft``."""
    hard = (soft > cfg.threshold).to(soft.dtype)
    # the same values as ``soft + (hard - soft).detach()``, one autograd node fewer
    return Gate(soft=soft, gate=soft + (hard - soft.detach()))


def logistic(noise: Tensor) -> Tensor:
    """``log u - log(1 - u)``: uniform ``noise`` u -> logistic noise (no gradient needed; an
    optimisation loop can compute it for many steps at once)."""
    return torch.log(noise) - torch.log1p(-noise)


def sample_logistic(logits: Tensor, cfg: HardConcreteConfig, logistic_noise: Tensor) -> Gate:
    """:func:`sample` from precomputed ``logistic(noise)`` (the same numbers)."""
    s = torch.sigmoid((logistic_noise + shifted(logits, cfg)) / cfg.temperature)
    return straight_through(stretch_and_clamp(s, cfg), cfg)


def sample(logits: Tensor, cfg: HardConcreteConfig, noise: Tensor) -> Gate:
    """Training gate from raw ``logits`` (shift added here) and ``noise`` ~ U(eps, 1-eps)."""
    return sample_logistic(logits, cfg, logistic(noise))


def deterministic(logits: Tensor, cfg: HardConcreteConfig) -> Gate:
    """Eval gate from raw ``logits``: no noise, no temperature (the reference code)."""
    return straight_through(stretch_and_clamp(torch.sigmoid(shifted(logits, cfg)), cfg), cfg)


def expected_l0(logits: Tensor, cfg: HardConcreteConfig) -> Tensor:
    """Element-wise ``P(z != 0) = sigmoid(logit + loc_bias - t log(-gamma / zeta))``."""
    return torch.sigmoid(shifted(logits, cfg) - cfg.temperature * math.log(-cfg.gamma / cfg.zeta))


def open_probability(logits: Tensor, cfg: HardConcreteConfig) -> Tensor:
    """Element-wise ``P(z > threshold)`` of the training gate (the probability that
    the sampled hard gate is open): ``sigmoid(a - t log((c - gamma) / (zeta - c)))``."""
    c = cfg.threshold
    return torch.sigmoid(shifted(logits, cfg) - cfg.temperature * math.log((c - cfg.gamma) / (cfg.zeta - c)))
