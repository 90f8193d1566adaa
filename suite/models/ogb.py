"""Edge-aware models for molecules: GINE and GCN with OGB's atom and bond encoders.

Encoders (chosen per dataset, ``encoder="auto"``):

- ``"ogb"`` for datasets in OGB format (``data.feature_format == "ogb"``: 9 integer
  atom features, 3 integer bond features; see ``suite.datasets.molecules``): OGB's
  ``AtomEncoder`` / ``BondEncoder`` (``ogb.graphproppred.mol_encoder``, a sum of one
  embedding table per feature). The suite stores ``x`` as float, so explainers can
  differentiate and perturb it; the lookup is read at ``x`` *piecewise-linearly*:
  ``E[floor(v)] * (1 - t) + E[floor(v) + 1] * t`` with ``t = v - floor(v)`` (``v``
  clamped to the table). At integer ``v`` this is exactly OGB's lookup; between
  integers it is differentiable, so gradient explainers and feature attacks get a
  (first-order) signal instead of none. Integer (long) inputs use the plain lookup.
- ``"linear"`` otherwise (e.g. MUTAG's one-hot TU features): ``Linear(F, hidden)``
  for atoms and ``Linear(D, hidden)`` for bonds; datasets without ``edge_attr`` give
  GINE zero bond embeddings (so it reduces to a GIN with ReLU messages).

Both models send exactly one message per edge from ``message()`` (GCN appends one
self-loop message per node), so ``suite.graph.masking`` hooks act per bond.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, GINEConv, global_add_pool, global_max_pool, global_mean_pool

from suite.core.config import ConfigError, Dropout, JumpingKnowledge, PositiveInt
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel, ModelInfo, register_model

POOLS: dict[str, Callable[..., Tensor]] = {
    "mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool,
}
ENCODERS: tuple[str, ...] = ("auto", "ogb", "linear")

#: ``data.feature_format`` of OGB-format datasets (set by ``suite.datasets.molecules``).
OGB_FORMAT = "ogb"


def _lookup(table: nn.Embedding, values: Tensor) -> Tensor:
    """``table`` read at ``values`` [N]: exact at integers, linear in between (float input)."""
    size = table.num_embeddings
    if not values.is_floating_point():
        return table(values.long().clamp(0, size - 1))
    values = values.clamp(0, size - 1)
    if size == 1:
        return table.weight[0].expand(values.size(0), -1) + 0 * values.unsqueeze(-1)
    low = values.detach().floor().long().clamp(max=size - 2)
    frac = (values - low.to(values.dtype)).unsqueeze(-1)
    return table.weight[low] * (1 - frac) + table.weight[low + 1] * frac


class CategoricalEncoder(nn.Module):
    """Sum of one embedding per integer feature (OGB's Atom/BondEncoder parameters).

    ``encoder`` is an ``ogb.graphproppred.mol_encoder`` ``AtomEncoder`` or
    ``BondEncoder``; its tables are read with :func:`_lookup`.
    """

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.tables: list[nn.Embedding] = list(
            getattr(encoder, "atom_embedding_list", None) or getattr(encoder, "bond_embedding_list"))

    @property
    def num_features(self) -> int:
        return len(self.tables)

    def forward(self, values: Tensor) -> Tensor:
        if values.dim() != 2 or values.size(1) > self.num_features:
            raise ValueError(f"expected [*, <= {self.num_features}] integer features (got {tuple(values.shape)})")
        out = _lookup(self.tables[0], values[:, 0])
        for i in range(1, values.size(1)):
            out = out + _lookup(self.tables[i], values[:, i])
        return out


def is_ogb_format(dataset: BenchmarkDataset) -> bool:
    return getattr(dataset.data, "feature_format", None) == OGB_FORMAT


def _resolve_encoder(encoder: str, dataset: BenchmarkDataset) -> str:
    if encoder not in ENCODERS:
        raise ConfigError(f"encoder: expected one of {', '.join(ENCODERS)} (got {encoder!r})")
    if encoder == "auto":
        return "ogb" if is_ogb_format(dataset) else "linear"
    return encoder


def _atom_encoder(kind: str, in_features: int, hidden: int) -> nn.Module:
    if kind == "ogb":
        from ogb.graphproppred.mol_encoder import AtomEncoder

        return CategoricalEncoder(AtomEncoder(hidden))
    return nn.Linear(in_features, hidden)


def _bond_encoder(kind: str, edge_dim: int, hidden: int) -> nn.Module | None:
    if edge_dim == 0:
        return None
    if kind == "ogb":
        from ogb.graphproppred.mol_encoder import BondEncoder

        return CategoricalEncoder(BondEncoder(hidden))
    return nn.Linear(edge_dim, hidden)


def _encode_bonds(encoder: nn.Module | None, edge_attr: Tensor | None, like: Tensor) -> Tensor | None:
    """[E, hidden] bond embeddings, or None when the model or the call has no bond features."""
    if encoder is None or edge_attr is None:
        return None
    if isinstance(encoder, nn.Linear):
        edge_attr = edge_attr.to(like.dtype)
    return encoder(edge_attr)


class _MoleculeGNN(GraphModel):
    """Shared plumbing: atom encoder, layers with ReLU, jumping knowledge, pooling, MLP head."""

    def __init__(self, task: TaskLevel, hidden: int, num_layers: int, num_classes: int,
                 jk: str, pool: str, dropout: float) -> None:
        super().__init__()
        if num_layers < 1:
            raise ConfigError(f"num_layers: must be >= 1 (got {num_layers!r})")
        if hidden < 1:
            raise ConfigError(f"hidden: must be >= 1 (got {hidden!r})")
        if jk not in ("cat", "last"):
            raise ConfigError(f"jk: expected 'cat' or 'last' (got {jk!r})")
        if pool not in POOLS:
            raise ConfigError(f"pool: expected one of {', '.join(POOLS)} (got {pool!r})")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1) (got {dropout!r})")
        self.task = TaskLevel.parse(task)
        self.num_layers = num_layers
        self.jk, self.pool, self.dropout = jk, pool, dropout
        width = hidden * num_layers if jk == "cat" else hidden
        self.embedding_dim = width
        if self.task == TaskLevel.NODE:
            self.head: nn.Module = nn.Linear(width, num_classes)
        else:
            self.head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def _readout(self, states: list[Tensor], batch: Tensor | None) -> Tensor:
        h = torch.cat(states, dim=-1) if self.jk == "cat" else states[-1]
        if self.task == TaskLevel.GRAPH:
            if batch is None:
                batch = h.new_zeros(h.size(0), dtype=torch.long)
            h = POOLS[self.pool](h, batch)
        return h

    def classify(self, z: Tensor) -> Tensor:
        return self.head(z)


class GINE(_MoleculeGNN):
    """GINE (Hu et al., ICLR 2020): ``h_v' = MLP((1 + eps) h_v + sum_u ReLU(h_u + e_uv))``.

    PyG ``GINEConv`` layers (``message = ReLU(x_j + edge_attr)``: one message per
    edge), each with its own bond encoder (as OGB's reference GIN), ReLU between
    layers, jumping knowledge (``jk``), ``pool`` readout (graph tasks) and an MLP head.
    """

    def __init__(self, in_features: int, edge_dim: int, num_classes: int, task: TaskLevel,
                 encoder: str = "linear", hidden: int = 64, num_layers: int = 3, jk: str = "cat",
                 pool: str = "sum", dropout: float = 0.0, train_eps: bool = True) -> None:
        super().__init__(task, hidden, num_layers, num_classes, jk, pool, dropout)
        self.encoder_kind = encoder
        self.atom_encoder = _atom_encoder(encoder, in_features, hidden)
        self.bond_encoders = nn.ModuleList(
            [m for m in (_bond_encoder(encoder, edge_dim, hidden) for _ in range(num_layers)) if m is not None])
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden)),
                     train_eps=train_eps) for _ in range(num_layers))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        h = self.atom_encoder(x)
        states = []
        for i, conv in enumerate(self.convs):
            bond = _encode_bonds(self.bond_encoders[i] if len(self.bond_encoders) else None, edge_attr, h)
            if bond is None:  # no bond features: zero bond embeddings
                bond = h.new_zeros(edge_index.size(1), h.size(1))
            h = torch.relu(conv(h, edge_index, bond))
            h = nn.functional.dropout(h, self.dropout, self.training)
            states.append(h)
        return self._readout(states, batch)


class BondWeightedGCN(_MoleculeGNN):
    """GCN on encoded atoms; each bond gives its edge a learned weight in (0, 1).

    ``w_uv = sigmoid(Linear(BondEncoder(e_uv)))`` (one weight head per layer) enters
    ``GCNConv`` as ``edge_weight``, so the symmetric normalisation uses the weighted
    degrees; self-loops (weight 1) are appended by ``GCNConv``. Without bond features
    (or with ``bond_weights=False``) it is a plain GCN. Mean readout by default.
    """

    def __init__(self, in_features: int, edge_dim: int, num_classes: int, task: TaskLevel,
                 encoder: str = "linear", hidden: int = 64, num_layers: int = 3, jk: str = "cat",
                 pool: str = "mean", dropout: float = 0.0, bond_weights: bool = True) -> None:
        super().__init__(task, hidden, num_layers, num_classes, jk, pool, dropout)
        self.encoder_kind = encoder
        self.atom_encoder = _atom_encoder(encoder, in_features, hidden)
        use_bonds = bond_weights and edge_dim > 0
        self.bond_encoders = nn.ModuleList(
            nn.Sequential(_bond_encoder(encoder, edge_dim, hidden), nn.Linear(hidden, 1))
            for _ in range(num_layers if use_bonds else 0))
        self.convs = nn.ModuleList(GCNConv(hidden, hidden) for _ in range(num_layers))

    def embed(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
              edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        h = self.atom_encoder(x)
        states = []
        for i, conv in enumerate(self.convs):
            weight = None
            if len(self.bond_encoders) and edge_attr is not None:
                encoder, head = self.bond_encoders[i]
                bond = _encode_bonds(encoder, edge_attr, h)
                weight = torch.sigmoid(head(bond)).view(-1)
            h = torch.relu(conv(h, edge_index, weight))
            h = nn.functional.dropout(h, self.dropout, self.training)
            states.append(h)
        return self._readout(states, batch)


def _check_ogb(kind: str, dataset: BenchmarkDataset) -> None:
    if kind == "ogb" and dataset.num_node_features != 9:
        raise ConfigError(f"encoder: 'ogb' needs 9 OGB atom features (dataset {dataset.name} has "
                          f"{dataset.num_node_features})")


@register_model(ModelInfo(
    name="gine", citation="Hu, Liu, Gomes, Zitnik, Liang, Pande, Leskovec. Strategies for Pre-training "
    "Graph Neural Networks. ICLR 2020 (arXiv 1905.12265)", uses_edge_attr=True,
    description="edge-aware GIN (PyG GINEConv, message ReLU(h_u + e_uv), one per bond); OGB "
                "Atom/BondEncoder on OGB-format molecules (float x read as integers, piecewise-linear "
                "between them), Linear encoders otherwise, zero bond embeddings without edge_attr; "
                "sum readout + MLP"))
def gine(dataset: BenchmarkDataset, hidden: PositiveInt = 64, num_layers: PositiveInt = 3,
         jk: JumpingKnowledge = "cat",
         pool: str = "sum", dropout: Dropout = 0.0, encoder: str = "auto",
         train_eps: bool = True) -> GINE:
    kind = _resolve_encoder(encoder, dataset)
    _check_ogb(kind, dataset)
    return GINE(dataset.num_node_features, dataset.edge_dim, dataset.num_classes, dataset.task, kind,
                hidden=hidden, num_layers=num_layers, jk=jk, pool=pool, dropout=dropout, train_eps=train_eps)


@register_model(ModelInfo(
    name="gcn-ogb", citation="Kipf & Welling, ICLR 2017 (arXiv 1609.02907); encoders from OGB "
    "(Hu et al., NeurIPS 2020)", uses_edge_attr=True,
    description="GCN on OGB-encoded atoms (Linear encoder for other features); bonds used as learned "
                "edge weights sigmoid(Linear(BondEncoder(e))) in the GCN normalisation; mean readout + MLP"))
def gcn_ogb(dataset: BenchmarkDataset, hidden: PositiveInt = 64, num_layers: PositiveInt = 3,
            jk: JumpingKnowledge = "cat",
            pool: str = "mean", dropout: Dropout = 0.0, encoder: str = "auto",
            bond_weights: bool = True) -> BondWeightedGCN:
    kind = _resolve_encoder(encoder, dataset)
    _check_ogb(kind, dataset)
    return BondWeightedGCN(dataset.num_node_features, dataset.edge_dim, dataset.num_classes, dataset.task,
                           kind, hidden=hidden, num_layers=num_layers, jk=jk, pool=pool, dropout=dropout,
                           bond_weights=bond_weights)
