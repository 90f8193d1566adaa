"""GCN, GIN and GAT for node and graph tasks, from PyG ``MessagePassing`` layers."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.nn import (
    GATConv,
    GCNConv,
    GINConv,
    GraphConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from torch_geometric.nn.conv import MessagePassing

from suite.core.config import ConfigError, Dropout, JumpingKnowledge, PositiveInt, omit_at_default
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel, ModelInfo, register_model


def _mean_max_pool(h: Tensor, batch: Tensor) -> Tensor:
    """Mean and max pooling side by side: ``[num_graphs, 2 * dim]``."""
    return torch.cat([global_mean_pool(h, batch), global_max_pool(h, batch)], dim=-1)


POOLS: dict[str, Callable[..., Tensor]] = {
    "mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool,
    "mean+max": _mean_max_pool,
}
POOL_WIDTH = {"mean+max": 2}


class MessagePassingGNN(GraphModel):
    """``num_layers`` message-passing layers with ReLU, then a classifier.

    Node tasks: the embedding is each node's last-layer state (``jk="last"``) or the
    concatenation of all layers' states (``jk="cat"``, as in the GNNExplainer
    paper's models); the classifier is one linear layer. Graph tasks: node states
    are pooled per graph (``pool``; ``"mean+max"`` concatenates both, as the
    PGExplainer paper's graph models do) and classified by a two-layer MLP.

    ``l2_norm``: each layer's output is L2-normalised per node before its ReLU (the
    GNNExplainer paper's ``normalize_embedding``); ``last_relu=False`` leaves the last
    layer's state without ReLU (the paper's ``conv_last``). Both off/on by default keep
    the plain form.
    """

    def __init__(self, convs: list[MessagePassing], task: TaskLevel, hidden: int,
                 num_classes: int, jk: str = "cat", pool: str = "mean",
                 dropout: float = 0.0, l2_norm: bool = False, last_relu: bool = True) -> None:
        super().__init__()
        if jk not in ("cat", "last"):
            raise ConfigError(f"jk: expected 'cat' or 'last' (got {jk!r})")
        if pool not in POOLS:
            raise ConfigError(f"pool: expected one of {', '.join(POOLS)} (got {pool!r})")
        self.task = task
        self.num_layers = len(convs)
        self.convs = nn.ModuleList(convs)
        self.jk, self.pool, self.dropout = jk, pool, dropout
        self.l2_norm, self.last_relu = l2_norm, last_relu
        width = hidden * len(convs) if jk == "cat" else hidden
        if task == TaskLevel.GRAPH:
            width *= POOL_WIDTH.get(pool, 1)
        self.embedding_dim = width
        if task == TaskLevel.NODE:
            self.head: nn.Module = nn.Linear(width, num_classes)
        else:
            self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        states = []
        for i, conv in enumerate(self.convs):
            x = conv(x, edge_index)
            if self.l2_norm:
                x = nn.functional.normalize(x, p=2.0, dim=-1)
            if self.last_relu or i < self.num_layers - 1:
                x = torch.relu(x)
            x = nn.functional.dropout(x, self.dropout, self.training)
            states.append(x)
        h = torch.cat(states, dim=-1) if self.jk == "cat" else states[-1]
        if self.task == TaskLevel.GRAPH:
            if batch is None:
                batch = h.new_zeros(h.size(0), dtype=torch.long)
            h = POOLS[self.pool](h, batch)
        return h

    def classify(self, z: Tensor) -> Tensor:
        return self.head(z)


def _check_layers(num_layers: int, hidden: int) -> None:
    if num_layers < 1:
        raise ConfigError(f"num_layers: must be >= 1 (got {num_layers})")
    if hidden < 1:
        raise ConfigError(f"hidden: must be >= 1 (got {hidden})")


@register_model(ModelInfo(
    name="gcn", citation="Kipf & Welling, ICLR 2017 (arXiv 1609.02907); normalize=false: the "
    "GNNExplainer paper's GCN form (Ying et al., NeurIPS 2019, arXiv 1903.03894)",
    description="graph convolution with symmetric degree normalisation and self-loops "
    "(normalize false: h_v' = W (h_v + sum_u h_u) + b, the GNNExplainer paper's form)"))
@omit_at_default("normalize", "l2_norm", "last_relu")
def gcn(dataset: BenchmarkDataset, hidden: PositiveInt = 20, num_layers: PositiveInt = 3,
        jk: JumpingKnowledge = "cat",
        pool: str = "mean", dropout: Dropout = 0.0, normalize: bool = True,
        l2_norm: bool = False, last_relu: bool = True) -> MessagePassingGNN:
    """Kipf & Welling's layer ``D^-1/2 (A + I) D^-1/2 H W`` (``GCNConv``), or with
    ``normalize=False`` the GNNExplainer paper's unnormalised layer ``W (h_v + sum_u h_u) + b``
    (its code's ``GraphConv``; ``gcn-sum``'s layer with the self term). ``l2_norm`` and
    ``last_relu`` as in :class:`MessagePassingGNN` (the paper's models: ``normalize=False,
    l2_norm=True, last_relu=False, jk="cat"``, equal to ``gcn-sum`` with ``last_relu=False``).
    The three are left out of model and cell keys at their defaults."""
    _check_layers(num_layers, hidden)
    dims = [dataset.num_node_features] + [hidden] * num_layers
    convs = ([GCNConv(dims[i], dims[i + 1]) for i in range(num_layers)] if normalize
             else _sum_convs(dims, self_term=True))
    return MessagePassingGNN(convs, dataset.task, hidden, dataset.num_classes, jk, pool, dropout,
                             l2_norm=l2_norm, last_relu=last_relu)


def _sum_convs(dims: list[int], self_term: bool) -> list[MessagePassing]:
    """Unnormalised sum layers ``W ((1 + eps) h_v + sum_u h_u) + b`` as ``GINConv`` with a
    linear map: ``eps = 0`` keeps the node's own state (``self_term``), ``eps = -1`` drops it.
    ``dims``: input width, then each layer's output width."""
    return [GINConv(nn.Linear(dims[i], dims[i + 1]), eps=0.0 if self_term else -1.0)
            for i in range(len(dims) - 1)]


@register_model(ModelInfo(
    name="gin", citation="Xu et al., ICLR 2019 (arXiv 1810.00826)",
    description="graph isomorphism network: sum aggregation and a 2-layer MLP per layer"))
def gin(dataset: BenchmarkDataset, hidden: PositiveInt = 32, num_layers: PositiveInt = 3,
        jk: JumpingKnowledge = "cat",
        pool: str = "sum", dropout: Dropout = 0.0) -> MessagePassingGNN:
    return _gin_network(dataset, hidden, num_layers, jk, pool, dropout, l2_norm=False)


@register_model(ModelInfo(
    name="gin-l2", citation="Xu et al., ICLR 2019 (arXiv 1810.00826); L2-normalised states as in "
    "Ying et al., NeurIPS 2019 (arXiv 1903.03894)",
    description="gin with each layer's output L2-normalised per node before its ReLU (the "
    "GNNExplainer paper's normalize_embedding)"))
def gin_l2(dataset: BenchmarkDataset, hidden: PositiveInt = 32, num_layers: PositiveInt = 3,
           jk: JumpingKnowledge = "cat",
           pool: str = "sum", dropout: Dropout = 0.0) -> MessagePassingGNN:
    """:func:`gin`'s layers and head; every layer's output [N, hidden] has unit L2 norm per
    node before its ReLU."""
    return _gin_network(dataset, hidden, num_layers, jk, pool, dropout, l2_norm=True)


def _gin_network(dataset: BenchmarkDataset, hidden: int, num_layers: int, jk: str, pool: str,
                 dropout: float, l2_norm: bool) -> MessagePassingGNN:
    """``num_layers`` GIN layers, each with a 2-layer MLP of width ``hidden``."""
    _check_layers(num_layers, hidden)
    dims = [dataset.num_node_features] + [hidden] * num_layers
    convs = [GINConv(nn.Sequential(nn.Linear(dims[i], hidden), nn.ReLU(), nn.Linear(hidden, hidden)))
             for i in range(num_layers)]
    return MessagePassingGNN(convs, dataset.task, hidden, dataset.num_classes, jk, pool, dropout,
                             l2_norm=l2_norm)


@register_model(ModelInfo(
    name="graphconv", citation="Morris et al., AAAI 2019 (arXiv 1810.02244); the GNNExplainer "
    "paper's node models (Ying et al., NeurIPS 2019) use this unnormalised form",
    description="unnormalised sum aggregation: h_v' = W1 h_v + W2 sum_u h_u (degree stays visible)"))
def graphconv(dataset: BenchmarkDataset, hidden: PositiveInt = 20, num_layers: PositiveInt = 3,
              jk: JumpingKnowledge = "cat",
              pool: str = "mean", dropout: Dropout = 0.0) -> MessagePassingGNN:
    _check_layers(num_layers, hidden)
    dims = [dataset.num_node_features] + [hidden] * num_layers
    convs = [GraphConv(dims[i], dims[i + 1], aggr="add") for i in range(num_layers)]
    return MessagePassingGNN(convs, dataset.task, hidden, dataset.num_classes, jk, pool, dropout)


@register_model(ModelInfo(
    name="gcn-sum", citation="Ying et al., NeurIPS 2019 (arXiv 1903.03894): the GNNExplainer "
    "paper's node models (its code's GraphConv/GcnEncoderNode)",
    description="unnormalised sum with a shared self term, h_v' = W (h_v + sum_u h_u) + b "
    "(self_term false: W sum_u h_u + b), L2-normalised node states, jk=cat"))
def gcn_sum(dataset: BenchmarkDataset, hidden: PositiveInt = 20, num_layers: PositiveInt = 3,
            jk: JumpingKnowledge = "cat",
            pool: str = "mean", dropout: Dropout = 0.0, self_term: bool = True,
            l2_norm: bool = True, last_relu: bool = True) -> MessagePassingGNN:
    """The GNNExplainer paper's layer (:func:`_sum_convs`); the paper's code leaves the last
    layer without ReLU (``last_relu=False``)."""
    _check_layers(num_layers, hidden)
    dims = [dataset.num_node_features] + [hidden] * num_layers
    convs = _sum_convs(dims, self_term)
    return MessagePassingGNN(convs, dataset.task, hidden, dataset.num_classes, jk, pool, dropout,
                             l2_norm=l2_norm, last_relu=last_relu)


@register_model(ModelInfo(
    name="gat", citation="Velickovic et al., ICLR 2018 (arXiv 1710.10903)",
    description="graph attention with multi-head messages (concatenated heads)"))
def gat(dataset: BenchmarkDataset, hidden: PositiveInt = 32, num_layers: PositiveInt = 3,
        heads: PositiveInt = 4,
        jk: JumpingKnowledge = "cat", pool: str = "mean",
        dropout: Dropout = 0.0) -> MessagePassingGNN:
    _check_layers(num_layers, hidden)
    if hidden % heads:
        raise ConfigError(f"hidden: must be a multiple of heads={heads} (got {hidden})")
    dims = [dataset.num_node_features] + [hidden] * num_layers
    convs = [GATConv(dims[i], hidden // heads, heads=heads) for i in range(num_layers)]
    return MessagePassingGNN(convs, dataset.task, hidden, dataset.num_classes, jk, pool, dropout)
