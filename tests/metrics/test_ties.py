"""Tie-breaking by (seed, instance, endpoints): rankings of equal scores do not depend on
where the edges are stored."""

from __future__ import annotations

import torch

from suite.metrics.drop_curve import drop_mask
from suite.metrics.fidelity import topk_mask
from suite.metrics.ties import rank_within_instances, tie_break_keys


def test_tie_breaking_ignores_the_storage_order():
    """Equal scores: the order comes from keys of (seed, instance, endpoints), so permuting the
    pairs selects the same pairs."""
    gen = torch.Generator().manual_seed(1)
    first, second = torch.randint(0, 50, (40,), generator=gen), torch.randint(0, 50, (40,), generator=gen)
    inst, score = torch.arange(40) % 3, torch.ones(40)
    def chosen(perm):
        f, s, i = first[perm], second[perm], inst[perm]
        rank = rank_within_instances(i, score[perm], tie_break_keys(f, s, i, seed=7))
        return {(int(i[k]), min(int(f[k]), int(s[k])), max(int(f[k]), int(s[k])))
                for k in range(40) if rank[k] < 5}
    assert chosen(torch.arange(40)) == chosen(torch.randperm(40, generator=gen))
    assert tie_break_keys(first, second, inst).tolist() == tie_break_keys(second, first, inst).tolist()


def _instances(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Three instances of 12 / 9 / 15 directed edges with heavily tied scores."""
    counts = torch.tensor([12, 9, 15])
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    m = int(ptr[-1])
    src, dst = torch.randint(0, 100, (m,), generator=gen), torch.randint(100, 200, (m,), generator=gen)
    scores = torch.randint(0, 3, (m,), generator=gen).double()  # three distinct values
    return ptr, src, dst, scores


def _within_instance_permutation(ptr: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.cat([ptr[b] + torch.randperm(int(ptr[b + 1] - ptr[b]), generator=gen)
                      for b in range(ptr.numel() - 1)])


def test_permuting_the_edge_order_leaves_the_tie_broken_topk_unchanged():
    gen = torch.Generator().manual_seed(3)
    ptr, src, dst, scores = _instances(gen)
    inst = torch.repeat_interleave(torch.arange(3) + 40, ptr.diff())  # dataset instance ids
    k = torch.tensor([4, 3, 5])

    def kept(perm: torch.Tensor, fn) -> set[tuple[int, int, int]]:
        keys = tie_break_keys(src[perm], dst[perm], inst[perm], seed=5, ordered=True)
        mask = fn(scores[perm], keys)
        return {(int(inst[perm][e]), int(src[perm][e]), int(dst[perm][e]))
                for e in torch.nonzero(mask).reshape(-1).tolist()}

    top = lambda s, keys: topk_mask(s, ptr, k, keys)  # noqa: E731
    dropped = lambda s, keys: drop_mask(s, ptr, 0.5, keys) == 0  # noqa: E731
    for fn in (top, dropped):
        reference = kept(torch.arange(ptr[-1]), fn)
        for _ in range(5):
            assert kept(_within_instance_permutation(ptr, gen), fn) == reference
    # without keys the positional tie-break does depend on the order (the check can fail)
    identities = [{(int(src[p][e]), int(dst[p][e]))
                   for e in torch.nonzero(topk_mask(scores[p], ptr, k)).reshape(-1).tolist()}
                  for p in [_within_instance_permutation(ptr, gen) for _ in range(5)]]
    assert len({frozenset(s) for s in identities}) > 1


def test_ordered_keys_tell_the_two_directions_apart_and_the_seed_changes_them():
    first, second, inst = torch.tensor([3, 7]), torch.tensor([7, 3]), torch.tensor([0, 0])
    assert tie_break_keys(first, second, inst)[0] == tie_break_keys(first, second, inst)[1]
    ordered = tie_break_keys(first, second, inst, ordered=True)
    assert ordered[0] != ordered[1]
    assert not torch.equal(ordered, tie_break_keys(first, second, inst, seed=1, ordered=True))
