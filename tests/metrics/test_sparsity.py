"""Soft masks and sparsity of soft explanations."""

from __future__ import annotations

import math

import pytest
import torch

from suite.metrics.sparsity import instance_sparsity, mean_sparsity, soft_mask


def _ragged(counts: list[int], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ptr = torch.tensor([0] + counts).cumsum(0)
    return torch.rand(int(ptr[-1]), generator=gen) * 3, ptr


def test_soft_mask_divides_by_the_instance_max():
    scores, ptr = _ragged([5, 0, 8, 1], 0)
    mask = soft_mask(scores, ptr)
    for b in range(4):
        part = scores[ptr[b]:ptr[b + 1]]
        if part.numel():
            assert torch.allclose(mask[ptr[b]:ptr[b + 1]], part / part.max())
            assert float(mask[ptr[b]:ptr[b + 1]].max()) == 1.0
    assert ((mask >= 0) & (mask <= 1)).all()


def test_soft_mask_shifts_negative_scores_and_zeroes_all_zero_instances():
    scores = torch.tensor([-1.0, 1.0, 3.0, 0.0, 0.0])
    ptr = torch.tensor([0, 3, 5])
    mask = soft_mask(scores, ptr)
    assert torch.allclose(mask, torch.tensor([0.0, 0.5, 1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="NaN"):
        soft_mask(torch.tensor([float("nan")]), torch.tensor([0, 1]))


def test_instance_sparsity_matches_its_formula():
    scores, ptr = _ragged([5, 0, 8, 1, 20], 1)
    got = instance_sparsity(scores, ptr)
    for b in range(5):
        part = scores[ptr[b]:ptr[b + 1]].double()
        if part.numel() == 0:
            assert math.isnan(got[b])
        else:
            assert float(got[b]) == pytest.approx(1 - float((part / part.max()).mean()))
    assert mean_sparsity(scores, ptr) == pytest.approx(float(got[~got.isnan()].mean()))


def test_sparsity_extremes_and_scale_invariance():
    ptr = torch.tensor([0, 4, 8])
    uniform_and_onehot = torch.tensor([2.0, 2.0, 2.0, 2.0, 0.0, 5.0, 0.0, 0.0])
    got = instance_sparsity(uniform_and_onehot, ptr)
    assert torch.allclose(got, torch.tensor([0.0, 0.75], dtype=torch.float64))
    scores, ptr = _ragged([6, 9], 2)
    assert torch.allclose(instance_sparsity(scores * 7.5, ptr), instance_sparsity(scores, ptr))
    assert math.isnan(mean_sparsity(torch.zeros(0), torch.tensor([0, 0])))
