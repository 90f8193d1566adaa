"""Deterministic seeding of every random number generator the suite touches."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (PyG's BA generator uses NumPy's)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def generator(*keys: int) -> torch.Generator:
    """A private torch generator seeded from ``keys`` (e.g. ``(seed, instance_id)``).

    Used where a batched computation must draw exactly what the one-at-a-time
    computation draws for the same instance.
    """
    value = 0
    for key in keys:
        value = (value * 1_000_003 + int(key) + 1) % (2**63 - 1)
    return torch.Generator().manual_seed(value)
