"""Stratified splits: sizes, disjointness, class proportions (cross-checked with sklearn)."""

from __future__ import annotations

import pytest
import torch

from suite.datasets.splits import split_sizes, stratified_split


@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 80, 160, 300, 511, 999])
def test_split_sizes_sum_to_n_and_stay_within_one_of_the_quota(n):
    fractions = (0.8, 0.1, 0.1)
    sizes = split_sizes(n, fractions)
    assert sum(sizes) == n
    for size, f in zip(sizes, fractions):
        assert abs(size - f * n) < 1


def _labels() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    counts = [300, 80, 160, 160, 7, 1]
    labels = torch.cat([torch.full((c,), k) for k, c in enumerate(counts)])
    return labels[torch.randperm(labels.numel(), generator=gen)]


def test_stratified_split_is_a_partition_with_class_proportions():
    labels = _labels()
    splits = stratified_split(labels, seed=0)
    assert list(splits) == ["train", "val", "test"]
    ids = torch.cat(list(splits.values()))
    assert torch.equal(ids.sort().values, torch.arange(labels.numel()))
    for name, part in splits.items():
        assert torch.equal(part, part.sort().values)
    for cls in labels.unique():
        n = int((labels == cls).sum())
        for name, f in zip(splits, (0.8, 0.1, 0.1)):
            got = int((labels[splits[name]] == cls).sum())
            assert abs(got - f * n) < 1, (int(cls), name, got, n)


def test_stratified_split_matches_sklearn_class_counts():
    from sklearn.model_selection import train_test_split

    labels = _labels()
    keep = labels < 4  # sklearn needs >= 2 members per class for stratify
    y = labels[keep]
    ours = stratified_split(y, seed=1, fractions=(0.8, 0.2), names=("train", "test"))
    _, sk_test = train_test_split(torch.arange(y.numel()).numpy(), test_size=0.2, stratify=y.numpy(),
                                  random_state=1)
    ours_counts = torch.bincount(y[ours["test"]], minlength=4)
    sk_counts = torch.bincount(y[torch.as_tensor(sk_test)], minlength=4)
    assert (ours_counts - sk_counts).abs().max() <= 1


def test_stratified_split_is_seeded():
    labels = _labels()
    a, b, c = stratified_split(labels, 3), stratified_split(labels, 3), stratified_split(labels, 4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["test"], c["test"])


@pytest.mark.parametrize("fractions", [(0.8, 0.1), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_bad_fractions_name_the_field(fractions):
    with pytest.raises(ValueError, match=r"fractions: .*\(got"):
        stratified_split(torch.zeros(10, dtype=torch.long), 0, fractions=fractions)
