"""PGExplainer (Luo et al., NeurIPS 2020; arXiv 2011.04573), amortised, batched.

One small network, trained once on a set of instances, scores the edges of any
instance of the same model. Edge ``u -> v`` of instance ``b`` gets the logit::

    w_uv = MLP([z_u, z_v])          (graph tasks)
    w_uv = MLP([z_u, z_v, z_t])     (node tasks, t = the explained target node)

``MLP`` = Linear(., hidden) -> ReLU -> Linear(hidden, 1) (the paper's, hidden 64);
``z`` = the frozen model's node states (:mod:`suite.explainers.embeddings`: the
last message-passing layer's output, or all layers' outputs concatenated as the
paper's node models do), computed once on the unmasked graph. Node tasks read
``z`` from one forward over the *whole* graph, indexed by each union node's global
id, so it is exact for every node (a node at the border of a computation subgraph
has the same ``z`` as in the full graph); graph tasks read it from the disjoint
union of whole graphs, which is exact too.

Training (``fit``), epoch ``e`` of ``T``, mini-batches of ``batch_size`` instances
(a seeded shuffle per epoch; each step is one forward+backward of the model over
the batch's :func:`~suite.graph.subgraphs.instance_batch` union, context edges fixed at 1)::

    tau_e = temp_start * (temp_end / temp_start) ** (e / T)
    eps   ~ U(sample_bias, 1 - sample_bias)                   (one draw per edge and step)
    m_uv  = sigmoid((log eps - log(1 - eps) + w_uv) / tau_e)  (binary concrete relaxation)
    L_b   = -log p_yhat_b(m) + edge_size * relu(sum_e m_e - budget_b)
            + edge_ent * (1/M_b) sum_e H(0.99 m_e + 0.005)

``budget_b`` is 0 by default (the paper's plain ``edge_size * sum_e m_e``); with
``size_budget`` it is a free mask mass per instance (in edges, or a share of the
instance's ``M_b`` explainable edges), as the ``budget`` option of the paper's code:
keeping an explanation up to that size is not penalised.

``yhat_b`` is the model's own prediction (the model is explained, not the label);
the step minimises the batch mean of ``L_b`` with Adam. The entropy is taken of the
mask squeezed into [0.005, 0.995], as the paper's code and PyG do. With
``symmetric`` the mask of ``u -> v`` is averaged with that of ``v -> u`` (the
paper's code masks a dense adjacency with ``(M + M^T) / 2``).

Explaining (``explain``): one unmasked forward for ``z`` and the predictions, then
the MLP over every explainable edge of the batch; scores = ``sigmoid(w)`` (no noise),
symmetrised like in training. An instance's scores depend only on its own edges'
states, so a batch equals its parts exactly.

Hyper-parameters. The paper states the schedule but not one set of values; its
public code varies per dataset (node tasks: BA-Shapes lr 0.003, 10 epochs, size
0.05, entropy 1.0, temperature 1.0 -> 0.05; Tree-Cycles size 1e-4, entropy 0.01,
temperature fixed at 5.0; graph tasks: temperature 5.0 -> 1.0; noise bias 0.0).
Defaults here are PyG's published ones (epochs 30, lr 0.003, ``edge_ent`` 1.0,
temperature 5.0 -> 2.0) except three: ``sample_bias`` 0.0 (the paper's; PyG 0.01),
``batch_size`` 32 (PyG: one instance per step; the paper's code: all instances in one
step) and ``edge_size`` 0.5 (PyG: 0.05), chosen by ``suite tune`` on faithfulness
without the ground truth (8 trials, at both task levels). The size penalty is a sum over the instance's edges, as in the
paper, so its useful range depends on the size of the computation subgraphs; the
settings measured on the default matrix and why earlier ones were dropped are in
``docs/explainer-settings.md`` and ``docs/studies/pgexplainer.md``.

Starting open (``init_bias``, ours). The MLP's output bias starts at ``init_bias``
(default 0), so the first masks are ``sigmoid((L + init_bias) / temp_start)``. With 0
they sit near 0.5, and a model whose prediction needs its evidence near ``m = 1`` sees
no gradient towards it: BA-2Motifs GIN seed 1 (the prediction of class 1 flips at a
uniform mask of 0.8) closed every gate (validation AUC 0.55), with or without a
``size_budget``. With ``init_bias`` 10 and ``temp_end`` 1.0 (the paper's graph schedule)
the gates stay open long enough for the motif to be found.

Model selection (``edge_sizes``, ours). No single ``edge_size`` suits every model:
the objective has two degenerate optima, all gates closed (when the model's output
on the empty graph already has the predicted class, e.g. Tree-Cycles GIN seed 1,
closing everything costs less than keeping the motif) and all gates open (a small
penalty: the MLP saturates at ``m = 1`` and its tiny differences rank the motif
last, Tree-Cycles GCN). Both lose the edges' order, which is all that AUC, top-k and
the drop curve read. With a list ``edge_sizes``, ``fit`` trains one MLP per value
(each from the same seed, so a one-value list equals ``edge_size`` alone) and keeps
the one whose explanations of at most ``dev_instances`` dev instances
(:func:`suite.protocol.dev_instances`: validation instances, never test instances; no ground
truth read) score best by
:func:`~suite.metrics.drop_curve.drop_curve_score`: the model's probability of its own prediction as the
lowest-scored edges are removed (0%, 5%, ..., 100% of each instance's edges),
averaged over the shares. An order that keeps the edges the prediction rests on to
the end scores high; a collapsed or inverted order scores low. Fit time grows with
the number of values. The measurements behind these defaults: docs/explainer-settings.md.

Differences from PyG's ``PGExplainer``: hyper-parameters live on the instance
(PyG stores them on the class, so they leak between instances); node tasks score
exactly the explainable edges (edges whose messages can reach the target);
mini-batches of instances instead of one instance per step; the MLP is initialised
from the fit seed's private generator (no global RNG draws).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from suite.core.config import ConfigError
from suite.core.seeding import generator
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.explainers.base import ExplainerInfo, register_explainer
from suite.explainers.embeddings import forward_with_states
from suite.explainers.toolkit import (
    BatchedConfig,
    ViewExplainer,
    ViewResult,
    binary_entropy,
    explained_edge_instance,
    forward,
    frozen,
    model_device,
    model_fingerprint,
    model_num_hops,
    prepare_fit,
    reverse_partner,
    segment_sum,
    target_log_prob,
)
from suite.graph.compact import CompactBank, compact_for, compact_inputs, compact_logits
from suite.graph.pruning import model_plan
from suite.graph.subgraphs import (
    InstanceBatch,
    graph_batch,
    instance_batch,
    take_segments,
)
from suite.metrics.drop_curve import drop_curve_score
from suite.protocol import dev_instances, select_instances

__all__ = ["PGExplainer", "PGExplainerConfig", "EdgeMLP", "concrete_sample",
           "edge_inputs", "size_excess", "temperature"]

#: Which message-passing layers' outputs form ``z``, by ``embedding`` name (None: all).
EMBEDDINGS: dict[str, tuple[int, ...] | None] = {"last": (-1,), "all": None}
#: ``budget_b`` [B] of the size term from ``size_budget`` and the instances' edge counts [B].
BUDGET_UNITS: dict[str, Callable[[float, Tensor], Tensor]] = {
    "edges": lambda budget, counts: torch.full_like(counts, budget),
    "share": lambda budget, counts: budget * counts,
}
#: The mask is squeezed into [ENT_SHIFT, 1 - ENT_SHIFT] inside the entropy (paper's code, PyG).
ENT_SCALE, ENT_SHIFT = 0.99, 0.005
#: Graphs per forward when reading the training graphs' node states.
_STATE_CHUNK = 512


@dataclass
class PGExplainerConfig(BatchedConfig):
    """Hyper-parameters (module docstring for the sources of the defaults).

    Attributes:
        epochs: passes over the training instances (``T`` of the schedule).
        lr: Adam learning rate of the MLP (the paper's 0.003).
        batch_size: instances per optimisation step (one model forward+backward).
        hidden: width of the MLP's hidden layer (the paper's 64).
        edge_size: weight of ``sum_e m_e`` per instance.
        edge_ent: weight of the mean binary entropy of the instance's mask.
        temp_start, temp_end: ``tau_0`` and ``tau_T`` of the temperature schedule.
        sample_bias: the noise is ``U(sample_bias, 1 - sample_bias)``; in [0, 0.5).
        embedding: ``"last"`` (the last message-passing layer's output, as PyG) or
            ``"all"`` (every layer's output concatenated, as the paper's node models).
        symmetric: average the mask of ``u -> v`` with that of ``v -> u``.
        edge_sizes: candidate ``edge_size`` values (empty: ``edge_size`` alone). With two
            or more, ``fit`` trains one MLP per value and keeps the one whose dev
            explanations best preserve the model's prediction as edges are dropped
            (module docstring, *Model selection*); ``edge_size`` is then unused.
        dev_instances: at most this many dev instances score a candidate (a fixed
            seeded subset).
        size_budget: free mask mass per instance: the size term is
            ``edge_size * relu(sum_e m_e - budget_b)`` (the original code's ``budget``),
            so keeping up to ``budget_b`` edges' worth of mask costs nothing. 0: the plain
            ``edge_size * sum_e m_e`` (identical, as ``m >= 0``).
        budget_unit: what ``size_budget`` counts (:data:`BUDGET_UNITS`): ``"edges"``
            (``budget_b = size_budget``) or ``"share"`` (``budget_b = size_budget * M_b``,
            a share of the instance's explainable edges; then ``size_budget <= 1``).
        init_bias: added to the MLP's output bias at initialisation, so training starts
            from masks near ``sigmoid(init_bias / temp_start)`` (> 0: gates start open,
            the whole graph's prediction is kept at the start, as GraphMask's +3 shift).
    """

    epochs: int = 30
    lr: float = 0.003
    batch_size: int = 32
    hidden: int = 64
    edge_size: float = 0.5  # `suite tune` on faithfulness, graph level (node level: PyG's 0.05)
    edge_ent: float = 1.0
    temp_start: float = 5.0
    temp_end: float = 2.0
    sample_bias: float = 0.0
    embedding: str = "last"
    symmetric: bool = True
    edge_sizes: tuple[float, ...] = ()
    dev_instances: int = 100
    size_budget: float = 0.0
    budget_unit: str = "edges"
    init_bias: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ConfigError(f"epochs: must be >= 0 (got {self.epochs})")
        self.edge_sizes = tuple(float(v) for v in self.edge_sizes)
        if any(not v >= 0 for v in self.edge_sizes):
            raise ConfigError(f"edge_sizes: every value must be >= 0 (got {list(self.edge_sizes)})")
        for name in ("batch_size", "hidden", "dev_instances"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1 (got {getattr(self, name)})")
        for name in ("lr", "temp_start", "temp_end"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0 (got {getattr(self, name)})")
        for name in ("edge_size", "edge_ent"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0 (got {getattr(self, name)})")
        if not 0 <= self.sample_bias < 0.5:
            raise ConfigError(f"sample_bias: must be in [0, 0.5) (got {self.sample_bias})")
        if not math.isfinite(self.init_bias):
            raise ConfigError(f"init_bias: must be finite (got {self.init_bias})")
        if not self.size_budget >= 0:
            raise ConfigError(f"size_budget: must be >= 0 (got {self.size_budget})")
        if self.budget_unit not in BUDGET_UNITS:
            raise ConfigError(f"budget_unit: expected one of {', '.join(BUDGET_UNITS)} "
                              f"(got {self.budget_unit!r})")
        if self.budget_unit == "share" and self.size_budget > 1:
            raise ConfigError(f"size_budget: a share must be in [0, 1] (got {self.size_budget})")
        if self.embedding not in EMBEDDINGS:
            raise ConfigError(f"embedding: expected one of {', '.join(EMBEDDINGS)} "
                              f"(got {self.embedding!r})")


# ------------------------------------------------------------------ pure pieces

#: Union edges up to which a fit extracts every training instance's subgraph once and
#: slices each mini-batch out of it (above it, each mini-batch is extracted afresh).
BANK_EDGES = 10_000_000


@dataclass
class _Step:
    """One mini-batch of a fit: what its loss needs.

    Attributes:
        inputs: [M, in_dim] MLP inputs of the batch's explainable edges.
        partner: [M] position of each edge's reverse (:func:`reverse_partner`).
        edge_instance: [M] instance position 0..b-1 of each edge.
        count: ``b``, the batch's instances.
        logits: mask [M] -> [b, C] the model's outputs with messages scaled by the mask.
    """

    inputs: Tensor
    partner: Tensor
    edge_instance: Tensor
    count: int
    logits: Callable[[Tensor], Tensor]


def _view_step(model: nn.Module, view: InstanceBatch, z_all: Tensor) -> _Step:
    """The :class:`_Step` of ``view`` (``z_all`` [N, H]: node states by global id)."""
    return _Step(inputs=edge_inputs(z_all[view.node_ids], view), partner=reverse_partner(view),
                 edge_instance=explained_edge_instance(view), count=view.num_instances,
                 logits=lambda mask: forward(model, view, mask))


@dataclass
class _BankSteps:
    """Mini-batch steps sliced out of every training instance's subgraph, extracted once
    (``bank``): each step equals the :func:`_view_step` of ``bank.take(rows)``, with the MLP
    inputs and reverse partners gathered from arrays laid out once, and for node tasks the
    model run on a slice of the bank's compact graph
    (:class:`~suite.graph.compact.CompactBank`; None: on ``bank.take(rows)``).

    ``source``/``dest``/``target`` [M_all] are the global node ids of each explainable edge's
    endpoints and of its instance's target (node tasks; None for graph tasks);
    ``partner`` [M_all] its reverse's position; ``explained_ptr`` [B+1] the offsets of each
    instance's explainable edges.
    """

    model: nn.Module
    bank: InstanceBatch
    compact: CompactBank | None
    z_all: Tensor
    source: Tensor
    dest: Tensor
    target: Tensor | None
    partner: Tensor
    explained_ptr: Tensor

    @classmethod
    def of(cls, model: nn.Module, bank: InstanceBatch, compact: CompactBank | None,
           z_all: Tensor) -> "_BankSteps":
        src, dst = bank.edge_index[:, bank.explainable]
        target = (bank.node_ids[bank.target_index][explained_edge_instance(bank)]
                  if bank.task == TaskLevel.NODE else None)
        return cls(model=model, bank=bank, compact=compact, z_all=z_all,
                   source=bank.node_ids[src], dest=bank.node_ids[dst], target=target,
                   partner=reverse_partner(bank), explained_ptr=bank.explained_edge_ptr())

    def __call__(self, rows: Tensor) -> _Step:
        rows = rows.to(self.bank.x.device)
        edges, owner, shift = take_segments(self.explained_ptr, rows)
        z = self.z_all
        ends = [z.index_select(0, ids.index_select(0, edges))
                for ids in (self.source, self.dest, self.target) if ids is not None]
        partner = self.partner.index_select(0, edges) + shift.index_select(0, owner)
        return _Step(inputs=torch.cat(ends, dim=-1), partner=partner, edge_instance=owner,
                     count=int(rows.numel()), logits=self._logits(rows))

    def _logits(self, rows: Tensor) -> Callable[[Tensor], Tensor]:
        """mask -> logits [b, C] of the instances at ``rows``."""
        if self.compact is None:
            view = self.bank.take(rows)
            return lambda mask: forward(self.model, view, mask)
        batch, x = self.compact.take(rows), self.bank.x

        def logits(mask: Tensor) -> Tensor:
            with compact_inputs(self.model, batch, mask):
                return compact_logits(self.model, batch, x)
        return logits


def _steps(model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, hops: int,
           z_all: Tensor) -> Callable[[Tensor], _Step]:
    """rows [b] (positions in ``ids``) -> the :class:`_Step` of ``ids[rows]`` (the batch
    :func:`instance_batch` builds), from subgraphs extracted once where they fit (with
    ``model``'s pruning plan, planned once as well, and for node tasks its compact graph)."""
    device = z_all.device
    every = instance_batch(dataset, ids, hops)
    if every.edge_ids.numel() > BANK_EDGES:
        return lambda rows: _view_step(
            model, instance_batch(dataset, ids[rows.cpu()], hops).to(device), z_all)
    every = every.to(device)
    model_plan(model, every)  # cached on the batch; every slice carries its part
    compact = compact_for(model, every)
    bank = None if compact is None else CompactBank.of(compact, every)
    return _BankSteps.of(model, every, bank, z_all)


def temperature(epoch: int, epochs: int, start: float, end: float) -> float:
    """``tau_e = start * (end / start) ** (epoch / epochs)``: ``start`` at epoch 0, towards ``end``."""
    if epochs <= 0:
        return float(start)
    return float(start * (end / start) ** (epoch / epochs))


def concrete_sample(logits: Tensor, uniform: Tensor, temp: float, bias: float = 0.0) -> Tensor:
    """Binary concrete relaxation: ``sigmoid((log eps - log(1 - eps) + logits) / temp)``.

    ``uniform`` [M] ~ U(0, 1) is mapped to ``eps = bias + (1 - 2 bias) * uniform``
    (clamped away from 0 and 1 by 1e-6 so the logistic noise stays finite).
    """
    eps = bias + (1.0 - 2.0 * bias) * uniform
    return torch.sigmoid((torch.logit(eps, eps=1e-6) + logits) / temp)


def size_excess(mass: Tensor, counts: Tensor, budget: float, unit: str) -> Tensor:
    """``relu(mass_b - budget_b)`` [B]: the mask mass ``mass`` [B] = ``sum_e m_e`` above the
    free budget (``unit`` in :data:`BUDGET_UNITS`; ``counts`` [B] = explainable edges per
    instance). ``budget`` 0 returns ``mass`` itself (a mask is non-negative)."""
    return torch.relu(mass - BUDGET_UNITS[unit](budget, counts))


def edge_inputs(z: Tensor, view: InstanceBatch) -> Tensor:
    """MLP inputs [M_v, 2H] (graph task) or [M_v, 3H] (node task) of the view's explainable edges.

    ``z`` [n, H] are the states of the view's nodes (view order).
    """
    src, dst = view.edge_index[:, view.explainable]
    parts = [z[src], z[dst]]
    if view.task == TaskLevel.NODE:
        parts.append(z[view.target_index][explained_edge_instance(view)])
    return torch.cat(parts, dim=-1)


class EdgeMLP(nn.Module):
    """``Linear(in_dim, hidden) -> ReLU -> Linear(hidden, 1)``: inputs [M, in_dim] -> logits [M]."""

    def __init__(self, in_dim: int, hidden: int) -> None:
        super().__init__()
        # skip_init: no draw from the global RNG; ``reset_parameters`` fills them
        self.lin1 = nn.utils.skip_init(nn.Linear, in_dim, hidden)
        self.lin2 = nn.utils.skip_init(nn.Linear, hidden, 1)

    def reset_parameters(self, gen: torch.Generator) -> None:
        """PyTorch's default ``Linear`` init (U(+-1/sqrt(fan_in)) for weights and biases),
        drawn from ``gen`` (CPU)."""
        with torch.no_grad():
            for lin in (self.lin1, self.lin2):
                bound = 1.0 / math.sqrt(lin.in_features)
                for param in (lin.weight, lin.bias):
                    draw = torch.rand(param.shape, generator=gen) * (2 * bound) - bound
                    param.copy_(draw.to(param.device, param.dtype))

    def forward(self, h: Tensor) -> Tensor:
        return self.lin2(torch.relu(self.lin1(h))).view(-1)


@dataclass
class _Fitted:
    """What ``fit`` leaves on the instance."""

    mlp: EdgeMLP
    fingerprint: str
    task: TaskLevel
    layers: tuple[int, ...] | None
    symmetric: bool
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def _whole_graph(dataset: BenchmarkDataset) -> InstanceBatch:
    """The node task's whole graph as a view whose outputs are every node's logits [N, C]."""
    data = dataset.data
    n, e = int(data.num_nodes), int(data.edge_index.size(1))
    return InstanceBatch(
        task=TaskLevel.NODE, instance_ids=torch.arange(n), x=data.x, edge_index=data.edge_index,
        node_ids=torch.arange(n), node_instance=torch.arange(n), edge_ids=torch.arange(e),
        edge_instance=torch.zeros(e, dtype=torch.long), explainable=torch.zeros(e, dtype=torch.bool),
        target_index=torch.arange(n), edge_attr=getattr(data, "edge_attr", None),
        edge_type=getattr(data, "edge_type", None),
    )


def _dev_ids(dataset: BenchmarkDataset) -> Tensor:
    """The dev instances :func:`suite.protocol.dev_instances` gives; refuses an empty set."""
    ids = dev_instances(dataset)
    if not ids.numel():
        raise ValueError(f"dataset {dataset.name}: no validation instances to select edge_size on")
    return ids


def _states(model: nn.Module, view: InstanceBatch, layers: tuple[int, ...] | None) -> tuple[Tensor, Tensor]:
    """(z [n, H], logits [B, C]) of one unmasked forward on ``view``."""
    logits, states = forward_with_states(model, view, layers)
    return torch.cat(states, dim=-1), logits


# --------------------------------------------------------------------- explainer

@register_explainer(ExplainerInfo(
    name="pgexplainer", amortised=True,
    citation="Luo et al., NeurIPS 2020 (arXiv 2011.04573)",
    description="amortised: an MLP on frozen node states ([z_u, z_v] or [z_u, z_v, z_target]) "
    "predicts edge-mask logits; trained once with a binary concrete mask, annealed temperature, "
    "-log p_yhat + size + entropy penalties; explains a batch with one forward"))
class PGExplainer(ViewExplainer):
    """PGExplainer. ``fit`` trains the edge MLP; ``explain`` scores edges with ``sigmoid(MLP)``."""

    Config = PGExplainerConfig

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self._fitted: _Fitted | None = None

    @property
    def fitted(self) -> bool:
        return self._fitted is not None

    # ---------------------------------------------------------------- training

    def fit(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
            seed: int) -> None:
        """Train the edge MLP on instances ``ids`` [B] (seeded; the model stays frozen).

        With several ``edge_sizes`` one MLP per value is trained (each from the same
        seed) and the one with the largest dev drop-curve score is kept."""
        start = time.perf_counter()
        ids = prepare_fit(self, model, dataset, ids)
        cfg: PGExplainerConfig = self.config
        layers = EMBEDDINGS[cfg.embedding]
        device = model_device(model)
        self._fitted = None  # a failed fit never leaves an earlier MLP behind
        sizes = cfg.edge_sizes or (cfg.edge_size,)
        with frozen(model):
            z_all, yhat = self._training_states(model, dataset, ids, layers, device)
            in_dim = z_all.size(1) * (3 if dataset.task == TaskLevel.NODE else 2)
            trained = [self._train_mlp(model, dataset, ids, z_all, yhat, in_dim, size, seed)
                       for size in sizes]
            fingerprint = model_fingerprint(model)
            fitted = [_Fitted(mlp=mlp.eval(), fingerprint=fingerprint, task=dataset.task,
                              layers=layers, symmetric=cfg.symmetric, seconds=0.0)
                      for mlp, _ in trained]
            dev_scores: list[float] = []
            if len(sizes) > 1:
                dev_ids = select_instances(_dev_ids(dataset), cfg.dev_instances, seed)
                dev_scores = [self._dev_score(model, dataset, f, dev_ids, seed) for f in fitted]
                best = max(range(len(sizes)), key=lambda i: (dev_scores[i], -i))
            else:
                best = 0
        seconds = time.perf_counter() - start
        chosen, losses = fitted[best], trained[best][1]
        chosen.seconds = seconds
        chosen.info = {"instances": int(ids.numel()), "seed": int(seed), "seconds": seconds,
                       "epochs": cfg.epochs, "edge_size": sizes[best],
                       "loss_first_epoch": losses[0] if losses else None,
                       "loss_last_epoch": losses[-1] if losses else None}
        if dev_scores:
            chosen.info["dev_drop_scores"] = dict(zip([str(v) for v in sizes], dev_scores))
        self._fitted = chosen

    def _train_mlp(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, z_all: Tensor,
                   yhat: Tensor, in_dim: int, edge_size: float, seed: int) -> tuple[EdgeMLP, list[float]]:
        """One MLP trained with size weight ``edge_size``; also the mean loss per epoch."""
        cfg: PGExplainerConfig = self.config
        hops, device = model_num_hops(model), z_all.device
        gen = generator(seed)
        mlp = EdgeMLP(in_dim, cfg.hidden)
        mlp.reset_parameters(gen)
        with torch.no_grad():
            mlp.lin2.bias.add_(cfg.init_bias)
        mlp.to(device).train()
        optimizer = torch.optim.Adam(mlp.parameters(), lr=cfg.lr)
        losses: list[float] = []
        step_of = _steps(model, dataset, ids, hops, z_all)
        for epoch in range(cfg.epochs):
            temp = temperature(epoch, cfg.epochs, cfg.temp_start, cfg.temp_end)
            order = torch.randperm(ids.numel(), generator=gen)
            total = 0.0
            for rows in order.split(cfg.batch_size):
                chunk, step = ids[rows], step_of(rows)
                w = mlp(step.inputs)
                uniform = torch.rand(w.shape, generator=gen).to(device)
                mask = concrete_sample(w, uniform, temp, cfg.sample_bias)
                if cfg.symmetric:
                    mask = (mask + mask[step.partner]) / 2
                loss = self._instance_losses(step, mask, yhat[chunk.to(device)], edge_size).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * chunk.numel()
            losses.append(total / ids.numel())
        return mlp, losses

    def _dev_score(self, model: nn.Module, dataset: BenchmarkDataset, fitted: _Fitted,
                   dev_ids: Tensor, seed: int) -> float:
        """:func:`~suite.metrics.drop_curve.drop_curve_score` of ``fitted``'s explanations of ``dev_ids``."""
        view = instance_batch(dataset, dev_ids, model_num_hops(model)).to(model_device(model))
        scores = self._scores(model, view, dataset, fitted)
        return drop_curve_score(model, view, scores)

    def _training_states(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,
                         layers: tuple[int, ...] | None, device: torch.device) -> tuple[Tensor, Tensor]:
        """z [N, H] by global node id and the model's predictions yhat by instance id.

        Node task: one forward on the whole graph (yhat [N]). Graph task: the training
        graphs in chunks of whole graphs (rows of other graphs' nodes stay 0; yhat [G]).
        """
        with torch.no_grad():
            if dataset.task == TaskLevel.NODE:
                z, logits = _states(model, _whole_graph(dataset).to(device), layers)
                return z, logits.argmax(dim=-1)
            z_all: Tensor | None = None
            yhat = torch.zeros(dataset.num_graphs, dtype=torch.long, device=device)
            for chunk in ids.unique().split(_STATE_CHUNK):
                view = graph_batch(dataset, chunk).to(device)
                z, logits = _states(model, view, layers)
                if z_all is None:
                    z_all = z.new_zeros(int(dataset.data.num_nodes), z.size(1))
                z_all[view.node_ids] = z
                yhat[chunk.to(device)] = logits.argmax(dim=-1)
            assert z_all is not None
            return z_all, yhat

    def _instance_losses(self, step: _Step, mask: Tensor, target: Tensor,
                         edge_size: float) -> Tensor:
        """[B] ``L_b`` of the module docstring for mask [M] over the step's explainable edges."""
        cfg: PGExplainerConfig = self.config
        b, edge_instance = step.count, step.edge_instance
        counts = torch.bincount(edge_instance, minlength=b).clamp(min=1).to(mask.dtype)
        loss = -target_log_prob(step.logits(mask), target)
        loss = loss + edge_size * size_excess(segment_sum(mask, edge_instance, b), counts,
                                              cfg.size_budget, cfg.budget_unit)
        entropy = binary_entropy(ENT_SCALE * mask + ENT_SHIFT)
        return loss + cfg.edge_ent * segment_sum(entropy, edge_instance, b) / counts

    # -------------------------------------------------------------- explaining

    def _require_fit(self, model: nn.Module, dataset: BenchmarkDataset) -> _Fitted:
        fitted = self._fitted
        if fitted is None:
            raise ValueError("pgexplainer is amortised: call fit(model, dataset, ids, seed) "
                             "before explain()")
        if dataset.task != fitted.task:
            raise ValueError(f"pgexplainer was fitted on a {fitted.task.value}-level task; "
                             f"cannot explain a {dataset.task.value}-level one")
        if model_fingerprint(model) != fitted.fingerprint:
            raise ValueError("pgexplainer was fitted on another model (parameter fingerprint "
                             "differs): fit it again on this model")
        return fitted

    def explain(self, model: nn.Module, dataset: BenchmarkDataset, ids: Tensor,  # type: ignore[override]
                seed: int) -> Explanation:
        reason = self.supports(model, dataset)
        if reason is not None:
            raise ValueError(reason)
        fitted = self._require_fit(model, dataset)
        explanation = super().explain(model, dataset, ids, seed)
        explanation.fit_seconds = fitted.seconds
        explanation.meta["fit"] = dict(fitted.info)
        return explanation

    def explain_view(self, model: nn.Module, view: InstanceBatch, seed: int,
                     dataset: BenchmarkDataset) -> ViewResult:
        fitted = self._fitted
        if fitted is None:  # ``explain`` checks first; this guards direct calls
            raise ValueError("pgexplainer is amortised: call fit() before explain_view()")
        scores, logits = self._scores(model, view, dataset, fitted, with_logits=True)
        return ViewResult(edge_scores=scores, target=logits.argmax(dim=-1))

    @staticmethod
    def _scores(model: nn.Module, view: InstanceBatch, dataset: BenchmarkDataset, fitted: _Fitted,
                with_logits: bool = False) -> Any:
        """Scores [M_v] of the view's explainable edges (and the logits [B, C] when asked)."""
        device = view.x.device
        with torch.no_grad():
            if view.task == TaskLevel.NODE:
                z_all, logits_all = _states(model, _whole_graph(dataset).to(device), fitted.layers)
                z, logits = z_all[view.node_ids], logits_all[view.instance_ids]
            else:
                z, logits = _states(model, view, fitted.layers)
            scores = fitted.mlp.to(device)(edge_inputs(z, view)).sigmoid()
            if fitted.symmetric:
                scores = (scores + scores[reverse_partner(view)]) / 2
        return (scores, logits) if with_logits else scores
