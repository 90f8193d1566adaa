"""The hard-concrete gate: reference constants, closed forms vs Monte Carlo, eval mode."""

from __future__ import annotations

import math

import pytest
import torch

from suite.core.config import ConfigError
from suite.explainers import hard_concrete as hc

CFG = hc.HardConcreteConfig()
LOGITS = torch.tensor([-6.0, -3.5, -2.66, -1.0, 0.0, 1.5])


def test_reference_defaults():
    assert CFG.temperature == pytest.approx(1 / 3)
    assert (CFG.gamma, CFG.zeta, CFG.loc_bias, CFG.threshold) == (-0.2, 1.0, 3.0, 0.5)


@pytest.mark.parametrize("field,value", [("temperature", 0.0), ("gamma", 0.1), ("zeta", 0.9),
                                         ("threshold", 1.0), ("eps", 0.0)])
def test_bad_constants_name_the_field(field, value):
    with pytest.raises(ConfigError, match=f"{field}.*got"):
        hc.HardConcreteConfig(**{field: value})


def _monte_carlo(logits: torch.Tensor, n: int = 200_000) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    noise = hc.uniform_noise((n, logits.numel()), CFG, gen)
    return hc.sample(logits.expand(n, -1), CFG, noise).soft


def test_expected_l0_and_open_probability_match_monte_carlo():
    soft = _monte_carlo(LOGITS)
    torch.testing.assert_close(hc.expected_l0(LOGITS, CFG), (soft > 0).float().mean(0), atol=5e-3, rtol=0)
    torch.testing.assert_close(hc.open_probability(LOGITS, CFG), (soft > 0.5).float().mean(0),
                               atol=5e-3, rtol=0)


def test_expected_l0_formula():
    shift = CFG.temperature * math.log(-CFG.gamma / CFG.zeta)
    torch.testing.assert_close(hc.expected_l0(LOGITS, CFG), torch.sigmoid(LOGITS + 3 - shift))


def test_samples_lie_in_unit_interval_and_gates_are_binary():
    soft = _monte_carlo(LOGITS, 10_000)
    assert soft.min() >= 0 and soft.max() <= 1
    assert (soft == 0).any()  # the stretch makes exact zeros possible
    gen = torch.Generator().manual_seed(1)
    gate = hc.sample(LOGITS, CFG, hc.uniform_noise(LOGITS.shape, CFG, gen)).gate
    assert set(gate.tolist()) <= {0.0, 1.0}


def test_straight_through_gradient_is_the_soft_gradient():
    logits = torch.tensor([0.2, -1.0, 2.0], requires_grad=True)
    noise = torch.tensor([0.3, 0.6, 0.5])
    hc.sample(logits, CFG, noise).gate.sum().backward()
    hard_grad = logits.grad.clone()
    logits.grad = None
    hc.sample(logits, CFG, noise).soft.sum().backward()
    torch.testing.assert_close(hard_grad, logits.grad)
    assert (hard_grad != 0).any()


def test_eval_gate_is_deterministic_without_noise_or_temperature():
    a, b = hc.deterministic(LOGITS, CFG), hc.deterministic(LOGITS, CFG)
    assert torch.equal(a.soft, b.soft) and torch.equal(a.gate, b.gate)
    expected = (torch.sigmoid(LOGITS + 3) * 1.2 - 0.2).clamp(0, 1)
    torch.testing.assert_close(a.soft, expected)
    torch.testing.assert_close(a.gate, (expected > 0.5).float())


def test_gates_start_open():
    zero = torch.zeros(5)
    assert bool(hc.deterministic(zero, CFG).hard.all())
    assert float(hc.open_probability(zero, CFG)[0]) > 0.94
    assert float(hc.expected_l0(zero, CFG)[0]) > 0.97
    # without the +3 shift the same logits would give closed or coin-flip gates
    unshifted = hc.HardConcreteConfig(loc_bias=0.0)
    assert not bool(hc.deterministic(zero, unshifted).hard.any())
