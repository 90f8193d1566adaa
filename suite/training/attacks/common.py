"""What both attacks share: the model guard and row selection."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor

from suite.models.base import GraphModel

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]



@contextlib.contextmanager
def attacking(model: GraphModel) -> Iterator[None]:
    """Eval mode and gradients on inside the block; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            yield
    finally:
        model.train(was_training)


def target_rows(out: Tensor, index: Tensor | None) -> Tensor:
    return out if index is None else out[index]


def uniform(shape: tuple[int, ...], generator: torch.Generator | None,
             like: Tensor) -> Tensor:
    """U[0, 1) of ``shape`` drawn on the CPU from ``generator``, on ``like``'s device/dtype."""
    return torch.rand(shape, generator=generator).to(device=like.device, dtype=like.dtype)


