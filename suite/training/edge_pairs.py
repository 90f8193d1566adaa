"""Node-pair keys of directed edge lists: one integer per (ordered or unordered) pair.

Shared by the structure attack (candidate pairs, flips of both directions) and DropEdge
(one draw per undirected edge). ``n`` bounds the node ids, so ``key // n`` and
``key % n`` recover the pair.
"""

from __future__ import annotations

from torch import Tensor


def is_symmetric(edge_index: Tensor, n: int) -> bool:
    """True when every edge ``(u, v)`` of ``edge_index`` [2, m] has its reverse ``(v, u)``."""
    forward_keys = (edge_index[0] * n + edge_index[1]).sort().values
    backward_keys = (edge_index[1] * n + edge_index[0]).sort().values
    return forward_keys.equal(backward_keys)


def pair_keys(a: Tensor, b: Tensor, n: int, symmetric: bool) -> Tensor:
    """Key [m] of each pair ``(a_i, b_i)``: ``a * n + b``, or of ``{a_i, b_i}`` (both
    directions share one key: ``min * n + max``) when ``symmetric``."""
    if symmetric:
        a, b = a.minimum(b), a.maximum(b)
    return a * n + b
