"""Robust accuracy: a model's accuracy on a split under an attack."""

from __future__ import annotations

import math
import zlib
from typing import Any, Iterator, Mapping

import torch
from torch import Tensor

from suite.core.seeding import generator as seeded_generator
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel
from suite.training.loop import GraphBatcher, GraphInputs, forward, node_inputs

__all__ = [
    "ATTACKS", "AttackInfo", "FeatureAttack", "FeatureAttackConfig", "InputAttack",
    "StructureAttack", "StructureAttackConfig", "build_attack", "pgd_features", "pgd_structure",
    "project_budget", "robust_accuracy",
]
from suite.training.attacks.common import target_rows
from suite.training.attacks.configs import ATTACK_GRAPHS_PER_CHUNK
from suite.training.attacks.registry import build_attack


def _split_batches(dataset: BenchmarkDataset, ids: Tensor, device: torch.device
                   ) -> Iterator[tuple[GraphInputs, Tensor, Tensor | None]]:
    """(inputs, labels, target rows) to attack: the whole graph once (node task) or
    chunks of graphs (graph task)."""
    if dataset.task == TaskLevel.NODE:
        inputs = node_inputs(dataset).to(device)
        yield inputs, dataset.y[ids].to(device), ids.to(device)
        return
    batcher = GraphBatcher(dataset, device)
    for start in range(0, ids.numel(), ATTACK_GRAPHS_PER_CHUNK):
        inputs, y = batcher(ids[start:start + ATTACK_GRAPHS_PER_CHUNK])
        yield inputs, y, None


def robust_accuracy(model: GraphModel, dataset: BenchmarkDataset, split: str, attack_name: str,
                    attack_config: Mapping[str, Any] | None = None, seed: int = 0,
                    device: torch.device | str | None = None) -> float:
    """Accuracy of ``model`` on ``split`` when each input is replaced by its attacked version.

    ``robust acc = mean_i 1[argmax_c f(A(x))_{i,c} = y_i]`` where ``A`` is attack
    ``attack_name`` with ``attack_config``, aimed at the split's instances: node tasks
    attack the whole graph once with the split's nodes as targets (one global evasion
    attack; structure budgets are shares of the whole graph); graph tasks attack each
    graph (in chunks of :data:`ATTACK_GRAPHS_PER_CHUNK`). Random draws come from a
    generator seeded with ``(seed, split)``, so the number is deterministic on CPU and
    any two models are attacked with the same draws. ``device`` defaults to the
    model's; the model's mode is restored and its parameters get no gradient.
    NaN for an empty or missing split.
    """
    ids = dataset.splits.get(split)
    if ids is None or ids.numel() == 0:
        return math.nan
    attack = build_attack(attack_name, **dict(attack_config or {}))
    if device is None:
        device = next(iter(model.parameters())).device
    device = torch.device(device)
    gen = seeded_generator(seed, 0xA77AC, zlib.crc32(split.encode()))
    correct = 0
    was_training = model.training
    try:
        for inputs, y, index in _split_batches(dataset, ids.cpu().long(), device):
            perturbed = attack(model, inputs, y, index, generator=gen)
            model.eval()
            with torch.no_grad():
                pred = target_rows(forward(model, perturbed), index).argmax(-1)
            correct += int((pred == y).sum())
    finally:
        model.train(was_training)
    return correct / ids.numel()
