"""Order-free tie-breaking for every metric that ranks edges.

Top-k masks, drop curves and removal curves all sort edges by score. Equal scores must
not fall back to the edges' storage order: in the synthetic datasets the base graph's
edges come before the motif's, so a positional tie-break would favour or punish an
explainer for where the generator put its edges. Instead each edge gets a key that is a
pure function of the seed, the instance (its dataset id) and the edge's endpoints
(global node ids), and ties are broken by that key.

Shapes: ``E`` edges (or pairs); keys are int64 in ``[0, 2^31 - 1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

_HASH_MODULUS = 2_147_483_647  # 2^31 - 1: every step's product stays below 2^62
_HASH_FACTOR = 1_000_003


def tie_break_keys(first: Tensor, second: Tensor, instance: Tensor, seed: int = 0,
                   ordered: bool = False) -> Tensor:
    """[E] int64 keys of the edges ``first -> second`` of ``instance`` (all [E]).

    ``ordered=False`` keys the unordered pair (both directions get one key, for metrics
    that remove an undirected edge as one); ``ordered=True`` keys the directed edge.
    A pure function of the values: reordering the edges reorders the keys with them.
    """
    low, high = ((first, second) if ordered
                 else (torch.minimum(first, second), torch.maximum(first, second)))
    key = torch.full_like(low, int(seed) % _HASH_MODULUS, dtype=torch.long)
    for value in (instance, low, high):
        key = (key * _HASH_FACTOR + value.long() % _HASH_MODULUS) % _HASH_MODULUS
    return key


def rank_within_instances(instance: Tensor, score: Tensor, key: Tensor,
                          descending: bool = True) -> Tensor:
    """[E] position of each edge in its instance's order: by score (highest first when
    ``descending``, lowest first otherwise), ties by increasing ``key``.

    ``instance`` [E] holds non-negative instance positions; edges need not be grouped.
    """
    order = torch.argsort(key, stable=True)
    order = order[torch.argsort(-score[order] if descending else score[order], stable=True)]
    order = order[torch.argsort(instance[order], stable=True)]
    rank = torch.empty_like(order)
    counts = torch.bincount(instance, minlength=int(instance.max()) + 1 if instance.numel() else 0)
    starts = torch.cat([counts.new_zeros(1), counts.cumsum(0)[:-1]])
    rank[order] = torch.arange(order.numel(), device=order.device) - starts[instance[order]]
    return rank


__all__ = ["rank_within_instances", "tie_break_keys"]
