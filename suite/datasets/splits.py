"""Seeded stratified train/val/test splits."""

from __future__ import annotations

import math

import torch
from torch import Tensor

SPLIT_NAMES: tuple[str, ...] = ("train", "val", "test")


def split_sizes(n: int, fractions: tuple[float, ...]) -> list[int]:
    """Split ``n`` items by ``fractions`` with the largest-remainder rule.

    Each part gets ``floor(f_i * n)``; the items left over go one each to the parts
    with the largest fractional remainders (ties to the earlier part). The sizes
    sum to ``n`` exactly. Example: ``n = 511`` at (0.8, 0.1, 0.1) -> [409, 51, 51].
    """
    quotas = [f * n for f in fractions]
    sizes = [math.floor(q + 1e-9) for q in quotas]
    order = sorted(range(len(fractions)), key=lambda i: (-(quotas[i] - sizes[i]), i))
    for i in order[: n - sum(sizes)]:
        sizes[i] += 1
    return sizes


def stratified_split(labels: Tensor, seed: int, fractions: tuple[float, ...] = (0.8, 0.1, 0.1),
                     names: tuple[str, ...] = SPLIT_NAMES) -> dict[str, Tensor]:
    """Split item ids ``0..len(labels)-1`` so every class keeps the same proportions.

    Within each class the items are shuffled by a private generator seeded with
    ``seed`` and cut by ``split_sizes`` (so each class's part sizes are within one
    of ``f_i * n_class``).

    Args:
        labels: [n] long class label per item (node or graph).
        seed: the shuffle seed.
        fractions: one fraction per split, positive, summing to 1.
        names: the split names, one per fraction.

    Returns:
        ``{name: sorted long tensor of ids}``; the parts are disjoint and cover all ids.
    """
    if len(fractions) != len(names):
        raise ValueError(f"fractions: expected {len(names)} values for splits {names} (got {fractions!r})")
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions: expected non-negative values summing to 1 (got {fractions!r})")
    labels = torch.as_tensor(labels).long().flatten()
    gen = torch.Generator().manual_seed(int(seed))
    parts: list[list[Tensor]] = [[] for _ in names]
    for cls in torch.unique(labels).tolist():  # sorted, so the draw order is fixed
        members = (labels == cls).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=gen)]
        start = 0
        for i, size in enumerate(split_sizes(members.numel(), fractions)):
            parts[i].append(members[start : start + size])
            start += size
    empty = torch.zeros(0, dtype=torch.long)
    return {name: torch.cat(part or [empty]).sort().values for name, part in zip(names, parts)}
