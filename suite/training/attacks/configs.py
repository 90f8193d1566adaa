"""Hyper-parameters of the attacks and their named choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from suite.core.config import OMIT_DEFAULT, ConfigError

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]



NORMS = ("linf", "l2")
CANDIDATES = ("existing+random", "existing+all")
DISCRETISE = ("bernoulli", "topk")
PROTECT = ("none", "ground-truth")
BUDGET_SCOPES = ("graph", "targets")

#: Bisection iterations of :func:`project_budget` (float32: the threshold is then exact
#: to ~2^-40 of the range of ``a``).
BISECTION_ITERS = 40

#: Graphs attacked together by :func:`robust_accuracy` (bounds memory; the attacks are
#: per graph, so results do not depend on it except through the random draws' order).
ATTACK_GRAPHS_PER_CHUNK = 256


def check_rules(rules: dict[str, tuple[bool, str]], config: Any) -> None:
    for name, (valid, rule) in rules.items():
        if not valid:
            raise ConfigError(f"{name}: must be {rule} (got {getattr(config, name)!r})")


@dataclass
class FeatureAttackConfig:
    """Hyper-parameters of ``pgd-features`` (see :func:`pgd_features`; our defaults).

    Attributes:
        epsilon: ball radius, in feature units (relative to the features' scale).
        norm: ``"linf"`` (element-wise) or ``"l2"`` (per node row).
        steps: ascent steps.
        step_size: None = ``2.5 * epsilon / steps``.
        random_start: start from a uniform point of the ball.
    """

    epsilon: float = 0.1
    norm: str = "linf"
    steps: int = 10
    step_size: float | None = None
    random_start: bool = True

    def __post_init__(self) -> None:
        check_rules({"epsilon": (self.epsilon >= 0, ">= 0"), "steps": (self.steps >= 0, ">= 0"),
                "step_size": (self.step_size is None or self.step_size > 0, "> 0 or null"),
                "norm": (self.norm in NORMS, f"one of {', '.join(NORMS)}")}, self)


@dataclass
class StructureAttackConfig:
    """Hyper-parameters of ``pgd-structure`` (see :func:`pgd_structure`; our defaults).

    Attributes:
        budget_share: flips per graph = ``max(1, floor(share * pairs))`` (node tasks: of
            the whole graph's edge pairs), unless ``budget`` is set.
        budget: absolute flips per graph (node tasks: in total), or None.
        steps: projected-gradient steps.
        step_size: eta: the largest entry of a graph moves by ``eta / sqrt(t)`` at step t.
        removal_only: never insert edges (forced when the data has ``edge_attr``).
        candidates: ``"existing+random"`` or ``"existing+all"`` (insertion candidates).
        insert_ratio: sampled insertion candidates per input pair (``existing+random``).
        discretise: ``"bernoulli"`` (best of ``samples`` draws, as Xu et al.) or ``"topk"``.
        samples: Bernoulli draws.
        insert_edge_type: edge type of inserted edges; None = the input's most common.
        protect: ``"none"`` or ``"ground-truth"``: never flip a pair of the explanation
            ground truth (see :func:`pgd_structure`); left out of cell keys at ``"none"``.
        budget_scope: ``"graph"`` (Xu et al.: node tasks share one budget over the whole
            graph, whatever the targets) or ``"targets"`` (node tasks: the budget scaled
            by the targets' share of the nodes, so flips per target match between the
            training and the test attack; see :func:`pgd_structure`); left out of cell
            keys at ``"graph"``.
    """

    budget_share: float = 0.05
    budget: int | None = None
    steps: int = 20
    step_size: float = 0.5
    removal_only: bool = False
    candidates: str = "existing+random"
    insert_ratio: float = 1.0
    discretise: str = "bernoulli"
    samples: int = 20
    insert_edge_type: int | None = None
    protect: str = field(default="none", metadata={OMIT_DEFAULT: True})
    budget_scope: str = field(default="graph", metadata={OMIT_DEFAULT: True})

    def __post_init__(self) -> None:
        check_rules({
            "budget_scope": (self.budget_scope in BUDGET_SCOPES,
                             f"one of {', '.join(BUDGET_SCOPES)}"),
            "protect": (self.protect in PROTECT, f"one of {', '.join(PROTECT)}"),
            "budget_share": (0 <= self.budget_share <= 1, "in [0, 1]"),
            "budget": (self.budget is None or self.budget >= 0, ">= 0 or null"),
            "steps": (self.steps >= 0, ">= 0"), "step_size": (self.step_size > 0, "> 0"),
            "candidates": (self.candidates in CANDIDATES, f"one of {', '.join(CANDIDATES)}"),
            "insert_ratio": (self.insert_ratio >= 0, ">= 0"),
            "discretise": (self.discretise in DISCRETISE, f"one of {', '.join(DISCRETISE)}"),
            "samples": (self.samples >= 1, ">= 1"),
            "insert_edge_type": (self.insert_edge_type is None or self.insert_edge_type >= 0,
                                 ">= 0 or null"),
        }, self)
