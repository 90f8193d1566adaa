"""Gated syntactic GCN (Marcheggiani & Titov, EMNLP 2017), one message per edge.

Layer (their Eq. 3-5, with edge-wise scalar gates):

.. math::
    h_v' = \\mathrm{ReLU}\\Big( \\sum_{(u, v) \\in E} g_{uv}\\,
           \\big( W_{\\mathrm{dir}(u,v)} h_u + b_{\\mathrm{lab}(u,v)} \\big) \\Big),
    \\qquad g_{uv} = \\sigma\\big( h_u \\cdot \\hat w_{\\mathrm{dir}(u,v)}
           + \\hat b_{\\mathrm{lab}(u,v)} \\big)

Weights ``W`` [D, F_in, F_out] and gate vectors ``w^`` [D, F_in] are specific to the
*direction* of an edge (head -> dependent, dependent -> head, self-loop: D = 3 on
token graphs), biases ``b`` [T, F_out] and gate biases ``b^`` [T] to its *label*
(edge type; T = 2R + 1). The self-loops are edges of the graph (type ``self``), so
they are gated and maskable like arcs. ``message`` returns the gated message of
each edge, ``[E, F_out]``, one row per edge: ``suite.graph.masking`` hooks and GraphMask
act on exactly these. A LayerNorm follows each layer (before the ReLU) for stable
training of deeper stacks; dropout between layers.

Directions come from ``data.edge_type_direction`` (token graphs); other typed
datasets use one direction per edge type (then weights are type-specific).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import MessagePassing

from suite.core.config import ConfigError, Dropout, PositiveInt
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel, ModelInfo, register_model
from suite.models.rgcn import READOUTS, num_relations, typed_layers_and_readout
from suite.models.tokens import is_token_format, token_encoder

MARCHEGGIANI = ("Marcheggiani & Titov. Encoding Sentences with Graph Convolutional Networks for "
                "Semantic Role Labeling. EMNLP 2017 (arXiv 1703.04826)")


def _rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` (rows of a [T, ...] table for an [E] index). A table that is being
    trained is indexed as ``table[index]``, whose backward sums the gradient in the order the
    committed reference models were trained with; otherwise (explaining a frozen model) the
    same rows come from the faster ``index_select``."""
    if table.requires_grad and torch.is_grad_enabled():
        return table[index]
    return table.index_select(0, index)


class GatedSyntacticConv(MessagePassing):
    """One gated syntactic GCN layer (module doc); aggregation: sum.

    Args:
        in_channels, out_channels: F_in, F_out.
        type_direction: [T] long, the direction id (0..D-1) of each edge type.
        gated: use the edge-wise gates (False: ``g = 1``).
    """

    def __init__(self, in_channels: int, out_channels: int, type_direction: Tensor,
                 gated: bool = True) -> None:
        super().__init__(aggr="add")
        self.in_channels, self.out_channels, self.gated = in_channels, out_channels, gated
        self.register_buffer("type_direction", type_direction.long().clone())
        num_types = int(type_direction.numel())
        num_dirs = int(type_direction.max()) + 1
        self.num_types, self.num_directions = num_types, num_dirs
        self.weight = nn.Parameter(torch.empty(num_dirs, in_channels, out_channels))
        self.bias = nn.Parameter(torch.zeros(num_types, out_channels))
        self.gate_weight = nn.Parameter(torch.empty(num_dirs, in_channels))
        self.gate_bias = nn.Parameter(torch.zeros(num_types))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.gate_weight, -1.0 / math.sqrt(self.in_channels), 1.0 / math.sqrt(self.in_channels))
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.gate_bias)

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor) -> Tensor:
        """``x`` [N, F_in], ``edge_index`` [2, E], ``edge_type`` [E] long in 0..T-1 -> [N, F_out]."""
        if edge_type.numel() and (int(edge_type.min()) < 0 or int(edge_type.max()) >= self.num_types):
            raise ValueError(f"edge_type: expected values in 0..{self.num_types - 1} "
                             f"(got {int(edge_type.min())}..{int(edge_type.max())})")
        return self.propagate(edge_index, x=x, edge_type=edge_type, size=None)

    def message(self, x_j: Tensor, edge_type: Tensor) -> Tensor:
        direction = _rows(self.type_direction, edge_type)
        out = x_j.new_zeros(x_j.size(0), self.out_channels)
        for d in range(self.num_directions):  # one matmul per direction over its edges
            idx = (direction == d).nonzero().view(-1)
            if idx.numel():
                out = out.index_copy(0, idx, x_j.index_select(0, idx) @ self.weight[d])
        out = out + _rows(self.bias, edge_type)
        if self.gated:
            gate = torch.sigmoid((x_j * _rows(self.gate_weight, direction)).sum(-1)
                                 + _rows(self.gate_bias, edge_type))
            out = out * gate.unsqueeze(-1)
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, types={self.num_types}, "
                f"directions={self.num_directions}, gated={self.gated})")


class SyntacticGCN(GraphModel):
    """Token encoder (or Linear), ``num_layers`` x (gated conv, LayerNorm, ReLU), readout, MLP head.

    Embedding: node tasks, each node's last state [N, hidden]; graph tasks the
    ``readout`` (mean / sum / centre) over each graph's nodes [G, hidden].
    """

    def __init__(self, encoder: nn.Module, num_classes: int, type_direction: Tensor, task: TaskLevel,
                 hidden: int = 64, num_layers: int = 2, readout: str = "mean", dropout: float = 0.0,
                 gated: bool = True) -> None:
        super().__init__()
        if not 1 <= num_layers <= 3:
            raise ConfigError(f"num_layers: must be 1, 2 or 3 (got {num_layers!r})")
        if hidden < 1:
            raise ConfigError(f"hidden: must be >= 1 (got {hidden!r})")
        if readout not in READOUTS:
            raise ConfigError(f"readout: expected one of {', '.join(READOUTS)} (got {readout!r})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1) (got {dropout!r})")
        self.task = TaskLevel.parse(task)
        self.num_layers, self.readout, self.dropout = num_layers, readout, dropout
        self.embedding_dim = hidden
        self.encoder = encoder
        self.convs = nn.ModuleList(GatedSyntacticConv(hidden, hidden, type_direction, gated)
                                   for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        if edge_type is None:
            raise ValueError("syntactic-gcn needs edge_type (typed edges)")
        return typed_layers_and_readout(self, torch.relu(self.encoder(x)), edge_index, edge_type,
                                        batch)

    def classify(self, z: Tensor) -> Tensor:
        return self.head(z)


def type_directions(dataset: BenchmarkDataset) -> Tensor:
    """[T] direction id per edge type: ``data.edge_type_direction`` when given, else one per type."""
    given = getattr(dataset.data, "edge_type_direction", None)
    if given is not None:
        return torch.as_tensor(list(given), dtype=torch.long)
    return torch.arange(num_relations(dataset))


@register_model(ModelInfo(
    name="syntactic-gcn", citation=MARCHEGGIANI, uses_edge_type=True, requires_edge_type=True,
    description="gated syntactic GCN: direction-specific weights and gate vectors, label-specific "
                "biases and gate biases, edge-wise scalar sigmoid gates, one message per edge "
                "(self-loops are typed edges of the graph); LayerNorm+ReLU per layer, 1-3 layers; "
                "word/POS embeddings on token graphs; mean readout + MLP"))
def syntactic_gcn(dataset: BenchmarkDataset, hidden: PositiveInt = 64, num_layers: PositiveInt = 2,
                  readout: str = "mean",
                  dropout: Dropout = 0.0, gated: bool = True, words: bool = True) -> SyntacticGCN:
    """``words=False`` leaves the word ids out of the token encoder (POS, side, morphology only)."""

    if getattr(dataset.data, "edge_type", None) is None:
        raise ConfigError(f"syntactic-gcn needs typed edges (dataset {dataset.name} has no edge_type)")
    encoder = (token_encoder(dataset, hidden, words) if is_token_format(dataset)
               else nn.Linear(dataset.num_node_features, hidden))
    return SyntacticGCN(encoder, dataset.num_classes, type_directions(dataset), dataset.task, hidden=hidden,
                        num_layers=num_layers, readout=readout, dropout=dropout, gated=gated)
