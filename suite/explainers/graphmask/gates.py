"""The amortised gate network: one small MLP per message-passing layer."""

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from suite.explainers.graphmask.hooks import LayerInputs


class LayerGate(nn.Module):
    """Gate of one layer: ``Linear(ReLU((LN(W_u h_u) + LN(W_m m) + LN(W_v h_v) + b) / 3)) -> 1``."""

    def __init__(self, src_dim: int, msg_dim: int, dst_dim: int) -> None:
        super().__init__()
        hidden = msg_dim
        self.proj = nn.ModuleList([nn.Linear(d, hidden, bias=False) for d in (src_dim, msg_dim, dst_dim)])
        self.norm = nn.ModuleList([nn.LayerNorm(hidden) for _ in range(3)])
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.out = nn.Linear(hidden, 1)

    def forward(self, inputs: LayerInputs) -> Tensor:
        total = self.bias
        for proj, norm, value in zip(self.proj, self.norm, (inputs.src, inputs.msg, inputs.dst)):
            total = total + norm(proj(value))
        return self.out(torch.relu(total / 3)).squeeze(-1)


class GateNetwork(nn.Module):
    """One :class:`LayerGate` and one baseline message ``b_k`` per layer."""

    def __init__(self, shapes: Sequence[tuple[int, tuple[int, ...], int]]) -> None:
        super().__init__()
        self.msg_shapes = [tuple(m) for _, m, _ in shapes]
        self.gates = nn.ModuleList([LayerGate(s, math.prod(m), d) for s, m, d in shapes])
        bounds = [1.0 / math.sqrt(max(math.prod(m), 1)) for _, m, _ in shapes]
        self.baselines = nn.ParameterList(
            [nn.Parameter(torch.empty(m).uniform_(-a, a)) for (_, m, _), a in zip(shapes, bounds)])

    @property
    def num_layers(self) -> int:
        return len(self.gates)
