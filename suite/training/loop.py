"""Shared training machinery: task data on a device, optimisation steps, evaluation, selection.

Training modes (``standard``, later ``adversarial``) are thin wrappers around
:func:`fit`, which runs Adam with validation-based model selection and early
stopping. A mode changes what the model is trained on through an
:data:`InputTransform` (e.g. an adversarial attack on the inputs of each step).

Task levels differ only in how an epoch visits the training instances:

- node tasks: one full-batch step per epoch; the loss is the mean cross-entropy
  over the training-split nodes (the whole graph is propagated); or, with
  ``node_batch_size`` > 0, shuffled mini-batches of training nodes, each step on the
  ``num_layers + 1``-hop subgraph of its nodes (their outputs are exactly the full
  graph's, also under degree normalisation; evaluation then also runs on the
  evaluated nodes' subgraph);
- graph tasks: mini-batches of ``batch_size`` training graphs, shuffled every
  epoch by a seeded generator, assembled directly from the dataset's
  concatenated tensors (no per-graph ``Data`` objects).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from suite.core.config import OMIT_DEFAULT, ConfigError
from suite.core.seeding import generator as seeded_generator
from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.graph.subgraphs import hop_union
from suite.models.base import GraphModel
from suite.training.augment import drop_edges
from suite.training.base import TrainResult
from suite.training.inputs import GraphInputs, InputTransform, forward

#: Graphs per forward pass when evaluating graph tasks (bounds memory, not results).
EVAL_GRAPHS_PER_CHUNK = 1024

#: each training epoch is logged here at DEBUG with ``extra={"epoch", "epochs"}`` (a run's
#: progress display listens; nothing is formatted when no one does)
EPOCH_LOG = logging.getLogger("suite.training.epochs")


def _ranges(starts: Tensor, counts: Tensor) -> Tensor:
    """Concatenation of ``arange(s, s + c)`` for each (s, c): [counts.sum()] long."""
    ends = counts.cumsum(0)
    shift = torch.repeat_interleave(starts - (ends - counts), counts)
    return torch.arange(int(ends[-1]) if ends.numel() else 0, device=starts.device) + shift


class GraphBatcher:
    """Assembles mini-batches of the graphs of a graph task, on ``device``.

    The dataset stores all graphs as one disjoint union with contiguous node and
    edge ranges (``node_ptr``, ``edge_ptr``); a batch gathers those ranges and
    renumbers the nodes, which is much faster than collating ``Data`` objects.
    """

    def __init__(self, dataset: BenchmarkDataset, device: torch.device | str) -> None:
        if dataset.node_ptr is None or dataset.edge_ptr is None:
            raise ValueError(f"{dataset.name}: a graph task needs node_ptr and edge_ptr")
        self.device = torch.device(device)
        data = dataset.data
        self.x = data.x.to(self.device)
        self.edge_index = data.edge_index.to(self.device)
        self.edge_attr = _optional(data, "edge_attr", self.device)
        self.edge_type = _optional(data, "edge_type", self.device)
        self.gt_edge_mask = _optional(dataset, "gt_edge_mask", self.device)
        self.gt_node_mask = _optional(dataset, "gt_node_mask", self.device)
        self.y = dataset.y.to(self.device)
        self.node_ptr = dataset.node_ptr.to(self.device)
        self.edge_ptr = dataset.edge_ptr.to(self.device)

    def __call__(self, ids: Tensor) -> tuple[GraphInputs, Tensor]:
        """Graphs ``ids`` [B] as one input (``batch`` = position in ``ids``) and labels [B]."""
        ids = ids.to(self.device)
        n0, e0 = self.node_ptr[ids], self.edge_ptr[ids]
        n_count, e_count = self.node_ptr[ids + 1] - n0, self.edge_ptr[ids + 1] - e0
        nodes, edges = _ranges(n0, n_count), _ranges(e0, e_count)
        new_n0 = n_count.cumsum(0) - n_count
        shift = torch.repeat_interleave(new_n0 - n0, e_count)
        inputs = GraphInputs(
            x=self.x[nodes],
            edge_index=self.edge_index[:, edges] + shift,
            batch=torch.repeat_interleave(torch.arange(ids.numel(), device=self.device), n_count),
            edge_attr=None if self.edge_attr is None else self.edge_attr[edges],
            edge_type=None if self.edge_type is None else self.edge_type[edges],
            gt_edge_mask=None if self.gt_edge_mask is None else self.gt_edge_mask[edges],
            gt_node_mask=None if self.gt_node_mask is None else self.gt_node_mask[nodes],
        )
        return inputs, self.y[ids]

    def batches(self, ids: Tensor, batch_size: int,
                gen: torch.Generator | None = None) -> Iterator[tuple[GraphInputs, Tensor]]:
        """Mini-batches over ``ids``; shuffled with ``gen`` (a CPU generator) when given."""
        ids = ids.cpu()
        if gen is not None:
            ids = ids[torch.randperm(ids.numel(), generator=gen)]
        for start in range(0, ids.numel(), batch_size):
            yield self(ids[start:start + batch_size])


def node_inputs(dataset: BenchmarkDataset) -> GraphInputs:
    """The whole graph of a node task as one input, with its ground-truth masks if any."""
    data = dataset.data
    return GraphInputs(x=data.x, edge_index=data.edge_index,
                       edge_attr=getattr(data, "edge_attr", None),
                       edge_type=getattr(data, "edge_type", None),
                       gt_edge_mask=getattr(dataset, "gt_edge_mask", None),
                       gt_node_mask=getattr(dataset, "gt_node_mask", None))


def _optional(data: Any, key: str, device: torch.device) -> Tensor | None:
    value = getattr(data, key, None)
    return None if value is None else value.to(device)


# --------------------------------------------------------------------------- steps


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels on ``device`` (so wall-clock timings are honest)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step(model: GraphModel, optimizer: torch.optim.Optimizer, inputs: GraphInputs,
               y: Tensor, index: Tensor | None = None,
               transform: InputTransform | None = None) -> float:
    """One optimisation step on ``mean_i CE(model(inputs)[index_i], y_i)``; returns the loss.

    ``index`` selects output rows (training nodes of a node task); None uses all
    rows (the graphs of a mini-batch). ``transform`` runs first, in train mode.
    """
    model.train()
    if transform is not None:
        inputs = transform(model, inputs, y, index)
    optimizer.zero_grad(set_to_none=True)
    out = forward(model, inputs)
    if index is not None:
        out = out[index]
    loss = F.cross_entropy(out, y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def node_step(model: GraphModel, optimizer: torch.optim.Optimizer, inputs: GraphInputs,
              ids: Tensor, y: Tensor, transform: InputTransform | None = None) -> float:
    """A full-batch node-task step: the whole graph forward, the loss on nodes ``ids`` [k]."""
    return train_step(model, optimizer, inputs, y[ids], ids, transform)


def graph_step(model: GraphModel, optimizer: torch.optim.Optimizer, inputs: GraphInputs,
               y: Tensor, transform: InputTransform | None = None) -> float:
    """A mini-batch graph-task step: ``inputs`` holds ``B`` graphs, ``y`` [B] their labels."""
    return train_step(model, optimizer, inputs, y, None, transform)


@dataclass
class EpochStats:
    """One training epoch: mean loss, items trained on, seconds in steps (fwd+bwd+update)."""

    loss: float
    items: int
    seconds: float


class TaskData(ABC):
    """A dataset's tensors on a device, with the epoch and prediction logic of its task level."""

    def __init__(self, dataset: BenchmarkDataset, device: torch.device | str,
                 config: "TrainConfig | None" = None) -> None:
        self.dataset = dataset
        self.device = torch.device(device)

    @staticmethod
    @abstractmethod
    def batch_size(config: "TrainConfig") -> int:
        """The instances per step of this task level under ``config`` (0: full batch)."""

    @abstractmethod
    def train_epoch(self, model: GraphModel, optimizer: torch.optim.Optimizer, ids: Tensor,
                    gen: torch.Generator, batch_size: int,
                    transform: InputTransform | None = None) -> EpochStats:
        """Train one epoch on instances ``ids``."""

    @abstractmethod
    def logits(self, model: GraphModel, ids: Tensor) -> Tensor:
        """Logits [len(ids), C] of instances ``ids`` in the model's current mode (no grad)."""

    def labels(self, ids: Tensor) -> Tensor:
        return self.dataset.y[ids.cpu()].to(self.device)


def hop_subgraph(inputs: GraphInputs, nodes: Tensor, num_layers: int) -> tuple[GraphInputs, Tensor]:
    """The ``num_layers + 1``-hop in-neighbourhood subgraph of ``nodes`` [k] (every edge
    between its nodes) and the positions of ``nodes`` in it [k]. A ``num_layers``-layer
    model's outputs at those positions equal its full-graph outputs at ``nodes``: its
    messages reach ``num_layers`` hops, and the extra hop completes the degrees of the
    nodes at the last hop, which degree-normalised layers (GCN) read."""

    subset, edge_index, position, edges = hop_union(inputs.edge_index, nodes, num_layers + 1,
                                                    inputs.x.size(0))
    sub = GraphInputs(x=inputs.x[subset], edge_index=edge_index, **inputs.edge_fields(edges),
                      gt_node_mask=None if inputs.gt_node_mask is None else inputs.gt_node_mask[subset])
    return sub, position


class NodeTaskData(TaskData):
    """Node task: the full graph on the device; one full-batch step per epoch, or (with
    ``config.node_batch_size`` > 0) shuffled mini-batches of nodes on their subgraphs."""

    def __init__(self, dataset: BenchmarkDataset, device: torch.device | str,
                 config: "TrainConfig | None" = None) -> None:
        super().__init__(dataset, device, config)
        data = dataset.data
        self.inputs = node_inputs(dataset).to(self.device)
        self.y = dataset.y.to(self.device)
        self.subgraphs = config is not None and config.node_batch_size > 0

    @staticmethod
    def batch_size(config: "TrainConfig") -> int:
        return config.node_batch_size

    def train_epoch(self, model: GraphModel, optimizer: torch.optim.Optimizer, ids: Tensor,
                    gen: torch.Generator, batch_size: int,
                    transform: InputTransform | None = None) -> EpochStats:
        if batch_size <= 0:
            ids = ids.to(self.device)
            synchronize(self.device)
            start = time.perf_counter()
            loss = node_step(model, optimizer, self.inputs, ids, self.y, transform)
            synchronize(self.device)
            return EpochStats(loss, int(ids.numel()), time.perf_counter() - start)
        order = ids.cpu()[torch.randperm(ids.numel(), generator=gen)].to(self.device)
        total_loss, seconds = 0.0, 0.0
        for begin in range(0, order.numel(), batch_size):
            chunk = order[begin:begin + batch_size]
            sub, position = hop_subgraph(self.inputs, chunk, model.num_layers)
            synchronize(self.device)
            start = time.perf_counter()
            loss = train_step(model, optimizer, sub, self.y[chunk], position, transform)
            synchronize(self.device)
            seconds += time.perf_counter() - start
            total_loss += loss * chunk.numel()
        return EpochStats(total_loss / max(order.numel(), 1), int(order.numel()), seconds)

    @torch.no_grad()
    def logits(self, model: GraphModel, ids: Tensor) -> Tensor:
        ids = ids.to(self.device)
        if self.subgraphs:
            sub, position = hop_subgraph(self.inputs, ids, model.num_layers)
            return forward(model, sub)[position]
        return forward(model, self.inputs)[ids]


class GraphTaskData(TaskData):
    """Graph task: shuffled mini-batches of training graphs, assembled on the device."""

    def __init__(self, dataset: BenchmarkDataset, device: torch.device | str,
                 config: "TrainConfig | None" = None) -> None:
        super().__init__(dataset, device, config)
        self.batcher = GraphBatcher(dataset, self.device)

    @staticmethod
    def batch_size(config: "TrainConfig") -> int:
        return config.batch_size

    def train_epoch(self, model: GraphModel, optimizer: torch.optim.Optimizer, ids: Tensor,
                    gen: torch.Generator, batch_size: int,
                    transform: InputTransform | None = None) -> EpochStats:
        total_loss, items, seconds = 0.0, 0, 0.0
        for inputs, y in self.batcher.batches(ids, batch_size, gen):
            synchronize(self.device)
            start = time.perf_counter()
            loss = graph_step(model, optimizer, inputs, y, transform)
            synchronize(self.device)
            seconds += time.perf_counter() - start
            total_loss += loss * y.numel()
            items += int(y.numel())
        return EpochStats(total_loss / max(items, 1), items, seconds)

    @torch.no_grad()
    def logits(self, model: GraphModel, ids: Tensor) -> Tensor:
        parts = [forward(model, self.batcher(ids[i:i + EVAL_GRAPHS_PER_CHUNK])[0])
                 for i in range(0, ids.numel(), EVAL_GRAPHS_PER_CHUNK)]
        if not parts:
            return torch.empty(0, self.dataset.num_classes, device=self.device)
        return torch.cat(parts)


#: Task level -> how its data is held and visited.
TASK_DATA: dict[TaskLevel, type[TaskData]] = {
    TaskLevel.NODE: NodeTaskData,
    TaskLevel.GRAPH: GraphTaskData,
}


def task_data(dataset: BenchmarkDataset, device: torch.device | str = "cpu",
              config: "TrainConfig | None" = None) -> TaskData:
    """The :class:`TaskData` of ``dataset``'s task level, on ``device`` (batched as ``config`` says)."""
    return TASK_DATA[dataset.task](dataset, device, config)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class SplitScore:
    """Accuracy (fraction correct, in [0, 1]) and mean cross-entropy (nats) on a split."""

    accuracy: float
    loss: float


@contextlib.contextmanager
def eval_mode(model: GraphModel) -> Iterator[GraphModel]:
    """Put ``model`` in eval mode inside the block and restore its previous mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def score(model: GraphModel, data: TaskData, ids: Tensor) -> SplitScore:
    """Accuracy = mean_i 1[argmax_c logits_ic = y_i] and mean CE over ``ids`` (NaN if empty)."""
    if ids.numel() == 0:
        return SplitScore(math.nan, math.nan)
    with eval_mode(model):
        out = data.logits(model, ids)
    y = data.labels(ids)
    acc = int((out.argmax(-1) == y).sum()) / ids.numel()
    return SplitScore(acc, float(F.cross_entropy(out, y)))


def evaluate(model: GraphModel, data: TaskData,
             splits: dict[str, Tensor]) -> dict[str, SplitScore]:
    """:func:`score` on each named split."""
    return {name: score(model, data, ids) for name, ids in splits.items()}


def accuracy(model: GraphModel, dataset: BenchmarkDataset, ids: Tensor,
             device: torch.device | str | None = None) -> float:
    """Fraction of instances ``ids`` (nodes or graphs) that ``model`` classifies correctly.

    ``device`` defaults to the device of the model's parameters (the model must
    already be there); the model's train/eval mode is restored afterwards. NaN
    for empty ``ids``.
    """
    if device is None:
        device = next(iter(model.parameters())).device
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1)
    return score(model, task_data(dataset, device), ids).accuracy


# --------------------------------------------------------------------------- selection


class BestState:
    """Keeps a copy of the model state with the best validation result seen so far.

    Order: higher validation accuracy wins; at equal accuracy, lower validation
    loss wins; at equal accuracy and loss, the earlier epoch is kept.
    """

    def __init__(self) -> None:
        self.epoch = 0
        self.accuracy = -math.inf
        self.loss = math.inf
        self.state: dict[str, Tensor] | None = None

    def better(self, accuracy: float, loss: float) -> bool:
        """True if (accuracy, loss) beats the kept state (a NaN loss counts as +inf)."""
        loss = math.inf if math.isnan(loss) else loss
        if accuracy != self.accuracy:
            return accuracy > self.accuracy
        return loss < self.loss

    def offer(self, epoch: int, accuracy: float, loss: float, model: GraphModel) -> bool:
        """Record ``model``'s state (a detached copy, same device) if it is better; True if so."""
        if not self.better(accuracy, loss):
            return False
        self.epoch, self.accuracy = epoch, accuracy
        self.loss = math.inf if math.isnan(loss) else loss
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def restore(self, model: GraphModel) -> None:
        if self.state is None:
            raise RuntimeError("no state was offered")
        model.load_state_dict(self.state)


# --------------------------------------------------------------------------- the loop


@dataclass
class TrainConfig:
    """Hyper-parameters of Adam training with validation-based model selection.

    Attributes:
        lr: Adam learning rate.
        weight_decay: L2 penalty added by Adam (coupled, as ``torch.optim.Adam``).
        epochs: maximum number of epochs.
        patience: stop after this many epochs without a strictly higher validation
            accuracy (0 disables early stopping).
        batch_size: graphs per mini-batch (graph tasks).
        node_batch_size: training nodes per mini-batch of a node task, each step on their
            ``num_layers``-hop subgraph; 0 (default) = one full-batch step per epoch. Left
            out of the cache key at 0, so full-batch models keep their keys.
        eval_every: evaluate on the validation split every this many epochs (and
            always after the last epoch).
        drop_edge: DropEdge probability: every training step drops each undirected edge
            with this probability (both directions together; evaluation and selection
            see the whole graph). 0 (default) = off, left out of the cache key.
    """

    lr: float = 0.01
    weight_decay: float = 5e-4
    epochs: int = 300
    patience: int = 100
    batch_size: int = 64
    eval_every: int = 1
    node_batch_size: int = field(default=0, metadata={OMIT_DEFAULT: True})
    drop_edge: float = field(default=0.0, metadata={OMIT_DEFAULT: True})

    def __post_init__(self) -> None:
        rules = {  # field -> (valid, rule shown when not)
            "lr": (self.lr > 0, "> 0"), "weight_decay": (self.weight_decay >= 0, ">= 0"),
            "epochs": (self.epochs >= 1, ">= 1"), "patience": (self.patience >= 0, ">= 0"),
            "batch_size": (self.batch_size >= 1, ">= 1"),
            "node_batch_size": (self.node_batch_size >= 0, ">= 0"),
            "eval_every": (self.eval_every >= 1, ">= 1"),
            "drop_edge": (0.0 <= self.drop_edge < 1.0, "in [0, 1)"),
        }
        for name, (valid, rule) in rules.items():
            if not valid:
                raise ConfigError(f"{name}: must be {rule} (got {getattr(self, name)!r})")


@dataclass(frozen=True)
class EpochRecord:
    """What an evaluated epoch produced (passed to the ``callback`` of :func:`fit`)."""

    epoch: int
    train_loss: float
    val_accuracy: float
    val_loss: float
    selected: bool  # True when this epoch became the best state
    #: the score model selection ranked this epoch by: ``val_accuracy`` unless ``fit``
    #: got a ``select_score`` (e.g. robust validation accuracy)
    selection_score: float = math.nan


def fit(model: GraphModel, dataset: BenchmarkDataset, seed: int, device: torch.device | str,
        config: TrainConfig, transform: InputTransform | None = None,
        callback: Callable[[EpochRecord], None] | None = None,
        select_score: Callable[[GraphModel], float] | None = None) -> TrainResult:
    """Train ``model`` in place with Adam and keep the best-validation-accuracy state.

    ``select_score(model)``, when given, replaces the clean validation accuracy as the
    selection score (and for ``patience``) at every evaluated epoch, e.g. robust
    validation accuracy (clean validation loss still breaks ties); it must not train the
    model nor draw from the global generators.

    Deterministic for ``seed`` on CPU: every global generator is seeded and
    graph mini-batches are shuffled by a private generator seeded from ``seed``.
    (Scatter-based layers are not bitwise deterministic on CUDA.)

    Returns a ``TrainResult`` of the selected state, which the model holds on
    return (in eval mode). ``items_per_second`` = training instances visited
    (labelled nodes of the train split per epoch, or train graphs) divided by
    the time spent in steps: forward, backward, optimiser update and the
    ``transform``; batch assembly and evaluation are excluded.
    """
    device = torch.device(device)
    for split in ("train", "val"):
        if split not in dataset.splits or dataset.splits[split].numel() == 0:
            raise ValueError(f"{dataset.name}: training needs a non-empty {split!r} split")
    seed_everything(seed)
    gen = seeded_generator(seed, 0x7A1)
    if config.drop_edge > 0:
        transform = drop_edges(config.drop_edge, seeded_generator(seed, 0xD0E), then=transform)
    model.to(device)
    data = task_data(dataset, device, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    train_ids, val_ids = dataset.splits["train"], dataset.splits["val"]
    best = BestState()
    best_rank_epoch, best_rank = 0, -math.inf  # for patience: the best selection score
    items, step_seconds, epoch = 0, 0.0, 0
    stopped_early = False
    wall = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        stats = data.train_epoch(model, optimizer, train_ids, gen, data.batch_size(config), transform)
        items += stats.items
        step_seconds += stats.seconds
        if EPOCH_LOG.isEnabledFor(logging.DEBUG):
            EPOCH_LOG.debug("epoch %d of %d", epoch, config.epochs,
                            extra={"epoch": epoch, "epochs": config.epochs})
        if epoch % config.eval_every and epoch != config.epochs:
            continue
        val = score(model, data, val_ids)
        ranked = val.accuracy if select_score is None else select_score(model)
        selected = best.offer(epoch, ranked, val.loss, model)
        if callback is not None:
            callback(EpochRecord(epoch, stats.loss, val.accuracy, val.loss, selected, ranked))
        if ranked > best_rank:
            best_rank, best_rank_epoch = ranked, epoch
        if config.patience and epoch - best_rank_epoch >= config.patience:
            stopped_early = True
            break
    best.restore(model)
    diverged = [name for name, value in model.state_dict().items()
                if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if diverged:  # the cell fails with this reason instead of explaining a broken model
        raise FloatingPointError(
            f"training diverged: the kept state has non-finite values in {diverged[0]}"
            + (f" and {len(diverged) - 1} more tensors" if len(diverged) > 1 else "")
            + f" (lr {config.lr}; try a smaller one)")
    model.eval()
    scores = evaluate(model, data, {k: v for k, v in dataset.splits.items()
                                    if k in ("train", "val", "test")})
    return TrainResult(
        accuracy={k: s.accuracy for k, s in scores.items()},
        best_epoch=best.epoch,
        epochs=epoch,
        seconds=time.perf_counter() - wall,
        items_per_second=items / step_seconds if step_seconds > 0 else math.nan,
        extra={"val_loss": best.loss, "train_loss": scores["train"].loss,
               "stopped_early": float(stopped_early)},
    )

