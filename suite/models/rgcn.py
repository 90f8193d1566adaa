"""R-GCN (Schlichtkrull et al., ESWC 2018): relation-specific weights, one message per edge.

Our own relational layer, not PyG's ``RGCNConv``: PyG's layer calls ``propagate``
once per relation, so a message hook would see R partial message sets per layer.
:class:`RelationalConv` calls ``propagate`` once, and ``message`` returns exactly
one message per edge, which is what ``suite.graph.masking`` and layer-wise explainers
(GraphMask) expect.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.nn import global_add_pool, global_mean_pool
from torch_geometric.nn.conv import MessagePassing

from suite.core.config import ConfigError, Dropout, NonNegativeInt, PositiveInt
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel, ModelInfo, register_model
from suite.models.tokens import is_token_format, token_encoder

#: How messages into a node are normalised.
NORMS: tuple[str, ...] = ("relation", "none")


def _centre(h: Tensor, batch: Tensor) -> Tensor:
    """The state of each graph's first node (smallest node id): [G, H]."""
    num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    ids = torch.arange(batch.numel(), device=batch.device)
    first = torch.full((num_graphs,), batch.numel(), dtype=torch.long, device=batch.device)
    first = first.scatter_reduce(0, batch, ids, reduce="amin", include_self=True)
    return h[first]


READOUTS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "centre": _centre, "mean": global_mean_pool, "sum": global_add_pool,
}


def typed_layers_and_readout(model: GraphModel, h: Tensor, edge_index: Tensor,
                             edge_type: Tensor | None, batch: Tensor | None) -> Tensor:
    """The shared body of the typed-edge models: ``h`` [N, H] through every
    ``conv -> LayerNorm -> ReLU -> dropout`` of ``model.convs`` / ``model.norms``, then
    (graph tasks) ``READOUTS[model.readout]`` per graph: [N, H] or [G, H]."""
    for conv, layer_norm in zip(model.convs, model.norms):
        h = torch.relu(layer_norm(conv(h, edge_index, edge_type)))
        h = nn.functional.dropout(h, model.dropout, model.training)
    if model.task == TaskLevel.GRAPH:
        if batch is None:
            batch = edge_index.new_zeros(h.size(0))
        h = READOUTS[model.readout](h, batch)
    return h


class RelationalConv(MessagePassing):
    r"""One R-GCN layer with a single ``propagate`` call.

    .. math::
        h_v' = W_0 h_v + b + \sum_{(u, v, r) \in E} n_{uv} \, W_r h_u

    with ``n_uv = 1 / c_{v,r}`` (``c_{v,r}``: number of in-edges of relation ``r``
    at ``v``; the R-GCN paper's normalisation) when ``norm="relation"``, or
    ``n_uv = 1`` (plain sum) when ``norm="none"``. ``message(x_j, edge_type, norm)``
    returns ``[E, F_out]``: the normalised relation-specific transform of each
    edge's source state, one row per edge (so masks and hooks act per edge, after
    normalisation). Aggregation: sum.

    Weights ``W_r`` [R, F_in, F_out] are free, or with ``num_bases = B > 0`` a
    basis decomposition ``W_r = sum_b a_{rb} V_b`` (``V`` [B, F_in, F_out],
    ``a`` [R, B]).

    Args:
        in_channels, out_channels: F_in, F_out.
        num_relations: R >= 1; ``edge_type`` must lie in ``0..R-1``.
        num_bases: 0 for free weights, else the number of bases.
        norm: ``"relation"`` or ``"none"``.
        bias: add a learned bias ``b``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: int = 0, norm: str = "relation", bias: bool = True) -> None:
        super().__init__(aggr="add")
        if num_relations < 1:
            raise ConfigError(f"num_relations: must be >= 1 (got {num_relations!r})")
        if num_bases < 0:
            raise ConfigError(f"num_bases: must be >= 0 (got {num_bases!r})")
        if norm not in NORMS:
            raise ConfigError(f"norm: expected one of {', '.join(NORMS)} (got {norm!r})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_relations, self.num_bases, self.norm = num_relations, num_bases, norm
        if num_bases > 0:
            self.bases = nn.Parameter(torch.empty(num_bases, in_channels, out_channels))
            self.comp = nn.Parameter(torch.empty(num_relations, num_bases))
            self.register_parameter("weight", None)
        else:
            self.weight = nn.Parameter(torch.empty(num_relations, in_channels, out_channels))
            self.register_parameter("bases", None)
            self.register_parameter("comp", None)
        self.root = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Glorot-uniform per relation matrix (fan-in F_in, fan-out F_out).
        bound = math.sqrt(6.0 / (self.in_channels + self.out_channels))
        if self.num_bases > 0:
            nn.init.uniform_(self.bases, -bound, bound)
            nn.init.uniform_(self.comp, -1.0 / math.sqrt(self.num_bases), 1.0 / math.sqrt(self.num_bases))
        else:
            nn.init.uniform_(self.weight, -bound, bound)
        self.root.reset_parameters()

    def relation_weights(self) -> Tensor:
        """[R, F_in, F_out] relation matrices (composed from the bases when used)."""
        if self.num_bases > 0:
            return torch.einsum("rb,bio->rio", self.comp, self.bases)
        return self.weight

    def edge_norm(self, edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> Tensor | None:
        """[E] ``1 / c_{v,r}`` per edge (``norm="relation"``), or None (``norm="none"``)."""
        if self.norm == "none":
            return None
        key = edge_index[1] * self.num_relations + edge_type
        count = torch.bincount(key, minlength=num_nodes * self.num_relations)
        return 1.0 / count[key].to(torch.get_default_dtype())

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor | None = None) -> Tensor:
        """``x`` [N, F_in], ``edge_index`` [2, E], ``edge_type`` [E] long (None: all 0)."""
        if edge_type is None:
            edge_type = edge_index.new_zeros(edge_index.size(1))
        elif edge_type.numel() and (int(edge_type.min()) < 0 or int(edge_type.max()) >= self.num_relations):
            raise ValueError(f"edge_type: expected values in 0..{self.num_relations - 1} "
                             f"(got {int(edge_type.min())}..{int(edge_type.max())})")
        norm = self.edge_norm(edge_index, edge_type, x.size(0))
        out = self.propagate(edge_index, x=x, edge_type=edge_type, norm=norm, size=None)
        return out + self.root(x)

    def message(self, x_j: Tensor, edge_type: Tensor, norm: Tensor | None) -> Tensor:
        weight = self.relation_weights()
        if self.num_relations == 1:
            out = x_j @ weight[0]
        else:  # one matmul per relation over its edges (memory O(E * F_out))
            out = x_j.new_zeros(x_j.size(0), self.out_channels)
            for r in range(self.num_relations):
                idx = (edge_type == r).nonzero().view(-1)
                if idx.numel():
                    out = out.index_copy(0, idx, x_j.index_select(0, idx) @ weight[r])
        return out if norm is None else out * norm.view(-1, 1)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"num_relations={self.num_relations}, num_bases={self.num_bases}, norm={self.norm!r})")


class RGCN(GraphModel):
    """Input MLP, ``num_layers`` x (RelationalConv, LayerNorm, ReLU), readout, MLP classifier.

    Embedding: node tasks, every node's last state [N, hidden]; graph tasks, the
    readout over each graph's nodes [G, hidden] (``"centre"``: the first node of
    each graph, ``"mean"``/``"sum"``: pooling). Classifier: Linear(hidden, hidden),
    ReLU, Linear(hidden, num_classes).
    """

    def __init__(self, in_channels: int, num_classes: int, num_relations: int, task: TaskLevel,
                 hidden: int = 100, num_layers: int = 1, input_mlp: bool = True,
                 readout: str = "centre", num_bases: int = 0, dropout: float = 0.0,
                 norm: str = "relation", encoder: nn.Module | None = None) -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers: must be >= 1 (got {num_layers!r})")
        if hidden < 1:
            raise ConfigError(f"hidden: must be >= 1 (got {hidden!r})")
        if readout not in READOUTS:
            raise ConfigError(f"readout: expected one of {', '.join(READOUTS)} (got {readout!r})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1) (got {dropout!r})")
        self.task = TaskLevel.parse(task)
        self.num_layers = num_layers
        self.num_relations = num_relations
        self.readout, self.dropout = readout, dropout
        self.embedding_dim = hidden
        # ``encoder`` (e.g. the NLP token encoder) replaces the first Linear of the input MLP
        first = encoder if encoder is not None else nn.Linear(in_channels, hidden)
        self.input_mlp: nn.Module = (
            nn.Sequential(first, nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
            if input_mlp else nn.Identity())
        dims = [hidden if input_mlp else in_channels] + [hidden] * num_layers
        self.convs = nn.ModuleList(RelationalConv(dims[i], hidden, num_relations, num_bases, norm)
                                   for i in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        return typed_layers_and_readout(self, self.input_mlp(x), edge_index, edge_type, batch)

    def classify(self, z: Tensor) -> Tensor:
        return self.head(z)


def num_relations(dataset: BenchmarkDataset) -> int:
    """R for ``dataset``: its edge types, or 1 when it has no ``data.edge_type``."""
    edge_type = getattr(dataset.data, "edge_type", None)
    if edge_type is None:
        return 1
    observed = int(edge_type.max()) + 1 if edge_type.numel() else 1
    return max(int(dataset.num_edge_types), observed, 1)


@register_model(ModelInfo(
    name="rgcn", citation="Schlichtkrull et al., ESWC 2018 (arXiv 1703.06103)",
    uses_edge_type=True,
    description="relational GCN: one weight matrix per edge type (optional basis decomposition) "
                "plus a root weight, one message per edge; input MLP, LayerNorm+ReLU after each "
                "layer, readout of each graph's first node (centre) or mean/sum pooling; "
                "norm='relation' divides each message by the target's in-degree in that "
                "relation (R-GCN's 1/c_{v,r}), norm='none' sums (GraphMask's star-graph model); "
                "datasets without edge types use one relation; token graphs (NLP family) get "
                "word/POS embeddings in the input MLP"))
def rgcn(dataset: BenchmarkDataset, hidden: PositiveInt = 100, num_layers: PositiveInt = 1,
         input_mlp: bool = True,
         readout: str = "centre", num_bases: NonNegativeInt = 0, dropout: Dropout = 0.0,
         norm: str = "relation") -> RGCN:
    """R-GCN for ``dataset`` (relations = its edge types, else 1).

    Note: on ``graphmask-star`` the label compares edge-colour *counts*, and all
    leaves of a graph carry the same features, so ``norm="relation"`` (a mean
    per relation) lets the centre see only which colours are present, not how
    many: measured Bayes ceiling 0.79. Use ``norm="none"`` there (as GraphMask's
    reference model, which sums messages).
    """

    encoder = token_encoder(dataset, hidden) if input_mlp and is_token_format(dataset) else None
    return RGCN(dataset.num_node_features, dataset.num_classes, num_relations(dataset), dataset.task,
                hidden=hidden, num_layers=num_layers, input_mlp=input_mlp, readout=readout,
                num_bases=num_bases, dropout=dropout, norm=norm, encoder=encoder)
