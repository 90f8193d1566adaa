"""The pieces of GraphMask's objective: layer schedule, divergence, optimiser, Lagrangian, dev-set candidates, layer reduction."""

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from suite.explainers.graphmask.config import GraphMaskObjectiveConfig


def enabled_layers(epoch: int, num_layers: int, epochs_per_layer: int) -> list[int]:
    """Layers gated during 0-based ``epoch``: the top ``min(L, epoch // epl + 1)`` layers."""
    count = min(num_layers, epoch // epochs_per_layer + 1)
    return list(range(num_layers - count, num_layers))


def divergence(original_logits: Tensor, masked_logits: Tensor) -> Tensor:
    """[B] ``KL(p_orig || p_masked) = sum_c p_orig,c (log p_orig,c - log p_masked,c)``."""
    log_p = torch.log_softmax(original_logits, dim=-1)
    log_q = torch.log_softmax(masked_logits, dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


class SafeRMSprop:
    """RMSprop for one tensor (no momentum, no weight decay), ``torch.optim.RMSprop``'s
    update except that the centered variance estimate is clamped at 0 before its root.

    Per step with gradient ``g`` (smoothing ``rho`` = 0.99, ``eps`` = 1e-8, PyTorch's)::

        s = rho s + (1 - rho) g^2;   m = rho m + (1 - rho) g            (m: centered only)
        p -= lr * g / (sqrt(max(s - m^2, 0)) + eps)    (centered; else sqrt(s) + eps)

    ``s - m^2`` is a variance, >= 0 in exact arithmetic, but it tends to 0 when ``g``
    stays (almost) constant, and in float32 it then drops below 0 by rounding:
    ``torch.optim.RMSprop(centered=True)`` takes the root of that negative number and
    turns the parameter into NaN. GraphMask's alpha gets an almost constant gradient
    whenever the divergence stays under the allowance (e.g. a model whose output
    hardly depends on its input): alpha sits at ``lambda_min`` and PyTorch's centered
    RMSprop made it NaN after ~1,460 steps. Otherwise the two are the same operations
    in the same order, so the results are bit-identical (test).
    """

    def __init__(self, param: Tensor, lr: float, centered: bool, rho: float = 0.99,
                 eps: float = 1e-8) -> None:
        self.param, self.lr, self.centered, self.rho, self.eps = param, lr, centered, rho, eps
        self.square_avg = torch.zeros_like(param, memory_format=torch.preserve_format)
        self.grad_avg = torch.zeros_like(param, memory_format=torch.preserve_format)

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grad = self.param.grad
        if grad is None:
            return
        self.square_avg.mul_(self.rho).addcmul_(grad, grad, value=1 - self.rho)
        if self.centered:
            self.grad_avg.lerp_(grad, 1 - self.rho)
            avg = self.square_avg.addcmul(self.grad_avg, self.grad_avg, value=-1).clamp_(min=0).sqrt_()
        else:
            avg = self.square_avg.sqrt()
        self.param.addcdiv_(grad, avg.add_(self.eps), value=-self.lr)


class Lagrangian:
    """``lambda = softplus(alpha)``, alpha [shape] updated by gradient ascent.

    ``term(d)`` = ``softplus(alpha) * (d - allowance)`` goes into the loss; after the
    loss's ``backward`` (which fills ``alpha.grad = sigmoid(alpha) (d - allowance)``),
    :meth:`ascend` flips the gradient, takes one RMSprop step (:class:`SafeRMSprop`) and
    clips alpha, so lambda grows while the divergence exceeds the allowance and shrinks
    otherwise.
    """

    def __init__(self, cfg: GraphMaskObjectiveConfig, shape: Sequence[int] = (),
                 device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self._diff: Tensor | None = None  # (div - allowance) of the last direct_term
        self.alpha = torch.full(tuple(shape), float(cfg.lambda_init), device=device, requires_grad=True)
        self.optimizer = SafeRMSprop(self.alpha, lr=cfg.lambda_lr, centered=cfg.lambda_centered)

    @property
    def multiplier(self) -> Tensor:
        return F.softplus(self.alpha.detach())

    def term(self, div: Tensor) -> Tensor:
        return F.softplus(self.alpha) * (div - self.cfg.allowance)

    def direct_term(self, div: Tensor) -> Tensor:
        """:meth:`term` whose backward reaches ``div`` only; :meth:`direct_grad` (after the
        backward) then sets ``alpha.grad`` to the numbers autograd gives ``term(div).sum()``."""
        diff = div - self.cfg.allowance
        self._diff = diff.detach()
        return F.softplus(self.alpha.detach()) * diff

    @torch.no_grad()
    def direct_grad(self) -> None:
        """``alpha.grad`` of the last :meth:`direct_term`'s sum: softplus' backward kernel at
        alpha with the upstream ``1.0 * (div - allowance)`` (F.softplus: beta 1, threshold 20)."""
        self.alpha.grad = torch.ops.aten.softplus_backward(self._diff, self.alpha.detach(), 1.0, 20.0)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def ascend(self) -> None:
        if self.alpha.grad is None:
            return
        self.alpha.grad.neg_()
        self.optimizer.step()
        with torch.no_grad():
            self.alpha.clamp_(self.cfg.lambda_min, self.cfg.lambda_max)


@dataclass
class Candidate:
    """One evaluated probe state (model selection).

    Attributes:
        epoch: 0-based epoch after which it was evaluated.
        retained: hard-open gates on dev edges, summed over layers.
        total: dev edges times layers.
        dev_score: dev accuracy of the masked model.
        layer_share: [L] retained share per layer on the dev edges.
        state: the probe's state (gate network and baselines) or None.
    """

    epoch: int
    retained: int
    total: int
    dev_score: float
    layer_share: list[float] = field(default_factory=list)
    state: Any = None


def select_candidate(candidates: Sequence[Candidate], reference: float, tolerance: float) -> int:
    """Index of the kept state: fewest ``retained`` among those whose ``dev_score``
    differs from ``reference`` by less than ``tolerance`` relative (ties: the later
    one); the last candidate when none qualifies. Raises on an empty list."""
    if not candidates:
        raise ValueError("no candidate states to select from")
    best = None
    for i, c in enumerate(candidates):
        ok = abs(c.dev_score - reference) < tolerance * abs(reference) or c.dev_score == reference
        if ok and (best is None or c.retained <= candidates[best].retained):
            best = i
    return len(candidates) - 1 if best is None else best


def reduce_layers(layer_scores: Tensor, rule: str) -> Tensor:
    """[L, M] -> [M] by ``rule`` (``"max"`` or ``"mean"``)."""
    return layer_scores.max(dim=0).values if rule == "max" else layer_scores.mean(dim=0)
