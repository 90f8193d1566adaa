"""Adam for a few explainer tensors, without ``torch.optim``'s per-step Python bookkeeping.

An optimisation-based explainer steps a handful of small tensors (mask logits, baselines)
hundreds of times; on CPU, ``torch.optim.Adam.step`` spends about as long in its wrapper
(profiling hooks, state groups, device/dtype grouping, the ``foreach`` slow path that
loops over the tensors anyway) as in the arithmetic. :class:`LeanAdam` runs the same
element-wise operations in the same order as ``torch.optim.Adam`` (no weight decay,
no amsgrad, not maximising; ``foreach`` or not, which are the same numbers on CPU), so
its parameters are bit-identical to PyTorch's after any number of steps (test).

Per step, for each tensor ``p`` with a gradient ``g`` (its own step count ``t``, so a
tensor that first gets a gradient late starts its bias correction then)::

    m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2
    p += -(lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


class LeanAdam:
    """``torch.optim.Adam(params, lr, betas, eps)``'s update for a list of tensors.

    Args:
        params: leaf tensors (any shapes) updated in place.
        lr: learning rate (> 0).
        betas: (beta1, beta2), each in [0, 1).
        eps: added to the bias-corrected root of the second moment.
    """

    def __init__(self, params: Sequence[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not lr > 0:
            raise ValueError(f"lr: must be > 0 (got {lr})")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"betas: each must lie in [0, 1) (got {betas})")
        self.params = list(params)
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(betas[0]), float(betas[1]), float(eps)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [0] * len(self.params)

    def zero_grad(self) -> None:
        """Drop the gradients (``set_to_none``, as ``torch.optim``'s default)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step of every tensor that has a gradient (the others keep their state)."""
        beta1, beta2 = self.beta1, self.beta2
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            self.steps[i] += 1
            t = float(self.steps[i])
            exp_avg, exp_avg_sq = self.exp_avg[i], self.exp_avg_sq[i]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = (self.lr / (1 - beta1 ** t)) * -1
            denom = exp_avg_sq.sqrt().div_((1 - beta2 ** t) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=step_size)
