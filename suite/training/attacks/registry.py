"""The attack registry: ``build_attack(name, **config)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from suite.core.config import build_config, config_dict
from suite.core.registry import Registry
from suite.models.base import GraphModel
from suite.training.loop import GraphInputs

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]
from suite.training.attacks.configs import FeatureAttackConfig, StructureAttackConfig
from suite.training.attacks.features import pgd_features
from suite.training.attacks.structure import pgd_structure


@dataclass(frozen=True)
class AttackInfo:
    """Declarative metadata of a registered attack."""

    name: str
    citation: str
    description: str = ""


class InputAttack:
    """An attack bound to a validated config: ``attack(model, inputs, y, index, generator)``
    returns perturbed inputs. Subclasses set ``Config``, ``info`` and :meth:`__call__`."""

    Config: type
    info: AttackInfo

    def __init__(self, **config: Any) -> None:
        self.settings = build_config(self.Config, config, where=f"attack.{self.info.name}")

    def config(self) -> dict[str, Any]:
        return config_dict(self.settings)

    def __call__(self, model: GraphModel, inputs: GraphInputs, y: Tensor,
                 index: Tensor | None = None,
                 generator: torch.Generator | None = None) -> GraphInputs:
        raise NotImplementedError


ATTACKS: Registry[Callable[..., InputAttack]] = Registry("attack")


def _register(info: AttackInfo) -> Callable[[type[InputAttack]], type[InputAttack]]:
    def decorator(cls: type[InputAttack]) -> type[InputAttack]:
        cls.info = info
        ATTACKS.add(info.name, cls, info=info)
        return cls

    return decorator


@_register(AttackInfo(
    name="pgd-features", citation="Madry et al., ICLR 2018 (arXiv 1706.06083)",
    description="projected gradient ascent on node features in an L-inf or L2 ball"))
class FeatureAttack(InputAttack):
    Config = FeatureAttackConfig

    def __call__(self, model: GraphModel, inputs: GraphInputs, y: Tensor,
                 index: Tensor | None = None,
                 generator: torch.Generator | None = None) -> GraphInputs:
        x = pgd_features(model, inputs, y, index, self.settings, generator=generator)
        return inputs.replace(x=x)


@_register(AttackInfo(
    name="pgd-structure", citation="Xu et al., IJCAI 2019 (arXiv 1906.04214)",
    description="projected-gradient topology attack: continuous edge flips under a per-graph "
                "budget, then a Bernoulli or top-budget discretisation"))
class StructureAttack(InputAttack):
    Config = StructureAttackConfig

    def __call__(self, model: GraphModel, inputs: GraphInputs, y: Tensor,
                 index: Tensor | None = None,
                 generator: torch.Generator | None = None) -> GraphInputs:
        return pgd_structure(model, inputs, y, index, self.settings, generator=generator)


def build_attack(name: str, **config: Any) -> InputAttack:
    """Registered attack ``name`` with ``config`` (unknown or invalid keys raise ConfigError)."""
    return ATTACKS.get(name)(**config)
