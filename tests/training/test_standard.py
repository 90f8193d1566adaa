"""The standard training mode and the shared loop: learning, selection, determinism, config."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch_geometric.data import Batch

from suite.core.config import ConfigError
from suite.core.registry import UnknownNameError
from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset
from suite.models import build_model
from suite.training import TRAININGS, StandardTraining, accuracy, build_training
from suite.training.loop import BestState, GraphBatcher, TrainConfig, fit


def _majority(dataset: BenchmarkDataset, split: str) -> float:
    """Accuracy of always predicting the split's most frequent class."""
    y = dataset.y[dataset.splits[split]]
    return float(torch.bincount(y).max()) / y.numel()


def _fresh(name: str, dataset: BenchmarkDataset, seed: int = 0, **hparams):
    seed_everything(seed)
    return build_model(name, dataset, **hparams)


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ----------------------------------------------------------------------------- learning


def test_node_task_learns_clearly_better_than_majority(tiny_node_dataset):
    model = _fresh("gcn", tiny_node_dataset, hidden=32)
    result = StandardTraining(epochs=300, patience=0).train(model, tiny_node_dataset, seed=0)
    assert result.accuracy["train"] >= _majority(tiny_node_dataset, "train") + 0.15
    assert result.accuracy["val"] >= _majority(tiny_node_dataset, "val") + 0.15
    assert result.epochs == 300 and 1 <= result.best_epoch <= 300
    assert result.items_per_second > 0 and result.seconds > 0
    assert not model.training  # returned in eval mode


def test_graph_task_learns_with_mini_batches(tiny_graph_dataset):
    model = _fresh("gin", tiny_graph_dataset, hidden=16)
    result = StandardTraining(epochs=100, batch_size=12, patience=0).train(
        model, tiny_graph_dataset, seed=0)  # 24 train graphs: two mini-batches per epoch
    assert result.accuracy["train"] >= 0.75  # two balanced classes: chance is 0.5
    assert result.accuracy["val"] >= 0.75
    assert set(result.accuracy) == {"train", "val", "test"}


def test_graph_epoch_visits_each_train_graph_once_in_shuffled_batches(tiny_graph_dataset,
                                                                     monkeypatch):
    sizes: list[int] = []
    requested: list[torch.Tensor] = []

    def watch(model, inputs, y, index):  # an InputTransform that only looks
        assert index is None and y.numel() == int(inputs.batch.max()) + 1
        sizes.append(y.numel())
        return inputs

    original = GraphBatcher.__call__

    def spy(self, ids):
        requested.append(ids.clone())
        return original(self, ids)

    monkeypatch.setattr(GraphBatcher, "__call__", spy)
    train = tiny_graph_dataset.splits["train"]
    per_epoch = math.ceil(train.numel() / 5)
    fit(_fresh("gin", tiny_graph_dataset, hidden=8), tiny_graph_dataset, 0, "cpu",
        TrainConfig(epochs=2, batch_size=5, patience=0), transform=watch)
    assert len(sizes) == 2 * per_epoch and max(sizes) <= 5
    # calls: epoch 1's batches, one validation call, epoch 2's batches, ...
    epochs = requested[:per_epoch], requested[per_epoch + 1:2 * per_epoch + 1]
    for batches in epochs:
        assert torch.equal(torch.cat(batches).sort().values, train.sort().values)
    assert not torch.equal(torch.cat(epochs[0]), torch.cat(epochs[1]))  # reshuffled


def test_graph_batcher_matches_pyg_collation(tiny_graph_dataset):
    ids = torch.tensor([7, 2, 31, 0])
    inputs, y = GraphBatcher(tiny_graph_dataset, "cpu")(ids)
    ref = Batch.from_data_list(tiny_graph_dataset.graphs(ids))
    assert torch.equal(inputs.x, ref.x)
    assert torch.equal(inputs.edge_index, ref.edge_index)
    assert torch.equal(inputs.batch, ref.batch)
    assert torch.equal(y, ref.y)


# ----------------------------------------------------------------------------- selection


def test_selection_keeps_best_validation_epoch(tiny_node_dataset):
    records = []
    model = _fresh("gcn", tiny_node_dataset, hidden=16)
    result = StandardTraining(epochs=60, patience=0).train(
        model, tiny_node_dataset, seed=0, callback=records.append)
    assert [r.epoch for r in records] == list(range(1, 61))
    best_acc = max(r.val_accuracy for r in records)
    ties = [r for r in records if r.val_accuracy == best_acc]
    best_loss = min(r.val_loss for r in ties)
    chosen = next(r for r in ties if r.val_loss == best_loss)
    assert ties[-1].epoch != chosen.epoch  # the tie rule matters in this run
    assert result.best_epoch == chosen.epoch
    assert result.accuracy["val"] == best_acc
    assert result.extra["val_loss"] == pytest.approx(best_loss)
    # the model holds the selected state, not the last one
    assert accuracy(model, tiny_node_dataset, tiny_node_dataset.splits["val"]) == best_acc
    assert [r.epoch for r in records if r.selected][-1] == chosen.epoch


def test_a_diverged_training_fails_with_its_reason(tiny_node_dataset):
    """Non-finite parameters in the kept state fail the training (and so the cell) with one
    line, instead of a model whose NaN logits would be explained."""
    model = _fresh("gcn", tiny_node_dataset, hidden=8)
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(math.nan)
    with pytest.raises(FloatingPointError, match="training diverged: the kept state has non-finite"):
        StandardTraining(epochs=3, patience=0).train(model, tiny_node_dataset, seed=0)
    healthy = _fresh("gcn", tiny_node_dataset, hidden=8)
    StandardTraining(epochs=3, patience=0).train(healthy, tiny_node_dataset, seed=0)  # no error


def test_best_state_order_and_copy():
    model = torch.nn.Linear(2, 1)
    best = BestState()
    assert best.offer(1, 0.5, 1.0, model)
    assert best.offer(2, 0.75, 0.9, model)      # higher accuracy
    assert not best.offer(3, 0.7, 0.1, model)   # lower accuracy, however low the loss
    assert best.offer(4, 0.75, 0.8, model)      # same accuracy, lower loss
    assert not best.offer(5, 0.75, 0.8, model)  # full tie: the earlier epoch stays
    assert best.epoch == 4
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    best.restore(model)
    assert all(torch.equal(kept[k], v) for k, v in model.state_dict().items())


def test_early_stopping_counts_epochs_since_best_accuracy(tiny_graph_dataset):
    records = []
    model = _fresh("gin", tiny_graph_dataset, hidden=8)
    result = StandardTraining(epochs=500, batch_size=8, patience=5).train(
        model, tiny_graph_dataset, seed=0, callback=records.append)
    best_acc = max(r.val_accuracy for r in records)
    first_best = next(r.epoch for r in records if r.val_accuracy == best_acc)
    assert result.epochs < 500 and result.extra["stopped_early"] == 1.0
    assert result.epochs - first_best == 5


def test_eval_every_evaluates_on_schedule_and_at_the_end(tiny_node_dataset):
    records = []
    model = _fresh("gcn", tiny_node_dataset, hidden=8)
    result = StandardTraining(epochs=10, eval_every=3, patience=0).train(
        model, tiny_node_dataset, seed=0, callback=records.append)
    assert [r.epoch for r in records] == [3, 6, 9, 10]
    assert result.best_epoch in (3, 6, 9, 10)


def test_empty_validation_split_is_refused(tiny_node_dataset):
    from dataclasses import replace

    no_val = {**tiny_node_dataset.splits, "val": torch.tensor([], dtype=torch.long)}
    broken = replace(tiny_node_dataset, splits=no_val)
    with pytest.raises(ValueError, match="'val'"):
        StandardTraining(epochs=1).train(_fresh("gcn", broken, hidden=4), broken, seed=0)


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("task", ["node", "graph"])
def test_same_seed_same_model(task, tiny_node_dataset, tiny_graph_dataset):
    dataset, name = (tiny_node_dataset, "gcn") if task == "node" else (tiny_graph_dataset, "gin")
    mode = StandardTraining(epochs=15, batch_size=8, patience=0)
    a, b = _fresh(name, dataset, hidden=8), _fresh(name, dataset, hidden=8)
    assert _states_equal(a, b)  # seeded construction
    ra, rb = mode.train(a, dataset, seed=3), mode.train(b, dataset, seed=3)
    assert _states_equal(a, b)
    assert ra.accuracy == rb.accuracy and ra.best_epoch == rb.best_epoch


def test_different_seed_different_shuffles(tiny_graph_dataset):
    mode = StandardTraining(epochs=5, batch_size=8, patience=0, eval_every=5)
    a, b = _fresh("gin", tiny_graph_dataset, hidden=8), _fresh("gin", tiny_graph_dataset, hidden=8)
    mode.train(a, tiny_graph_dataset, seed=0)
    mode.train(b, tiny_graph_dataset, seed=1)  # same initialisation, other batch order
    assert not _states_equal(a, b)


# ----------------------------------------------------------------------------- accuracy helper


def test_accuracy_matches_direct_forward_and_restores_mode(tiny_gcn, tiny_node_dataset,
                                                           tiny_gin_graph, tiny_graph_dataset):
    d = tiny_node_dataset
    ids = d.splits["test"]
    with torch.no_grad():
        pred = tiny_gcn.eval()(d.data.x, d.data.edge_index).argmax(-1)
    expected = (pred[ids] == d.y[ids]).double().mean().item()
    tiny_gcn.train()
    try:
        assert accuracy(tiny_gcn, d, ids) == pytest.approx(expected)
        assert tiny_gcn.training
    finally:
        tiny_gcn.eval()

    g = tiny_graph_dataset
    with torch.no_grad():
        pred = tiny_gin_graph(g.data.x, g.data.edge_index, g.data.batch).argmax(-1)
    gids = torch.tensor([3, 0, 17, 39, 12])
    assert accuracy(tiny_gin_graph, g, gids, "cpu") == pytest.approx(
        (pred[gids] == g.y[gids]).double().mean().item())
    assert math.isnan(accuracy(tiny_gin_graph, g, torch.tensor([], dtype=torch.long)))


# ----------------------------------------------------------------------------- config


def test_registered_with_metadata():
    assert "standard" in TRAININGS
    assert TRAININGS.entry("Standard").metadata["info"].name == "standard"
    assert isinstance(build_training("standard"), StandardTraining)


def test_config_defaults_and_round_trip():
    config = StandardTraining().config()
    assert config == {"lr": 0.01, "weight_decay": 5e-4, "epochs": 300, "patience": 100,
                      "batch_size": 64, "eval_every": 1}
    custom = StandardTraining(lr=1e-3, epochs=7)
    assert StandardTraining(**custom.config()).config() == custom.config()


@pytest.mark.parametrize("bad, field, shown", [
    ({"lrr": 0.1}, "lrr", "known fields"),
    ({"lr": -1}, "lr", "(got -1"),
    ({"epochs": "many"}, "epochs", "(got 'many')"),
    ({"patience": -2}, "patience", "(got -2)"),
    ({"batch_size": 0}, "batch_size", "(got 0)"),
    ({"eval_every": 1.5}, "eval_every", "(got 1.5)"),
])
def test_config_errors_name_the_field(bad, field, shown):
    with pytest.raises(ConfigError) as info:
        StandardTraining(**bad)
    assert field in str(info.value) and shown in str(info.value)


def test_unknown_training_mode_suggests_closest():
    with pytest.raises(UnknownNameError, match="standard"):
        build_training("standrad")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("task", ["node", "graph"])
def test_trains_on_cuda(task, tiny_node_dataset, tiny_graph_dataset):
    dataset, name = (tiny_node_dataset, "gcn") if task == "node" else (tiny_graph_dataset, "gin")
    model = _fresh(name, dataset, hidden=8)
    result = StandardTraining(epochs=5, batch_size=8).train(model, dataset, 0, torch.device("cuda"))
    assert next(model.parameters()).is_cuda
    assert accuracy(model, dataset, dataset.splits["val"]) == result.accuracy["val"]


# ----------------------------------------------------------------------------- node mini-batches


@pytest.mark.parametrize("name, hparams", [("gcn", {"hidden": 8, "num_layers": 3}),
                                           ("gin", {"hidden": 8, "num_layers": 2}),
                                           ("gat", {"hidden": 8, "num_layers": 2})])
def test_hop_subgraph_gives_the_full_graph_outputs(tiny_node_dataset, name, hparams):
    from suite.training.loop import forward, hop_subgraph, task_data

    model = _fresh(name, tiny_node_dataset, **hparams).eval()
    inputs = task_data(tiny_node_dataset).inputs
    nodes = torch.tensor([3, 17, 42, 99, 0])
    sub, position = hop_subgraph(inputs, nodes, model.num_layers)
    assert sub.x.size(0) < inputs.x.size(0)  # a real subgraph, not the whole graph
    with torch.no_grad():
        torch.testing.assert_close(forward(model, sub)[position], forward(model, inputs)[nodes])


def test_node_mini_batches_visit_each_train_node_once_and_learn(tiny_node_dataset, monkeypatch):
    import suite.training.loop as loop

    chunks: list[Tensor] = []
    real = loop.hop_subgraph

    def spy(inputs, nodes, num_layers):
        chunks.append(nodes.clone())
        return real(inputs, nodes, num_layers)

    monkeypatch.setattr(loop, "hop_subgraph", spy)
    model = _fresh("gcn", tiny_node_dataset, hidden=32)
    train = tiny_node_dataset.splits["train"]
    StandardTraining(epochs=1, patience=0, node_batch_size=16).train(model, tiny_node_dataset, seed=0)
    steps = -(-train.numel() // 16)
    assert [c.numel() for c in chunks[:steps - 1]] == [16] * (steps - 1)
    visited = torch.cat(chunks[:steps])
    assert torch.equal(visited.sort().values, train.sort().values)  # each train node once
    assert not torch.equal(visited, train)  # shuffled
    monkeypatch.setattr(loop, "hop_subgraph", real)
    model = _fresh("gcn", tiny_node_dataset, hidden=32)
    result = StandardTraining(epochs=150, patience=0, eval_every=10, node_batch_size=16).train(model, tiny_node_dataset, seed=0)
    assert result.accuracy["val"] >= _majority(tiny_node_dataset, "val") + 0.15


def test_node_batch_size_is_left_out_of_the_key_at_its_default():
    from suite.core.config import ConfigError as Error

    assert "node_batch_size" not in StandardTraining().config()  # full-batch models keep their keys
    assert StandardTraining(node_batch_size=32).config()["node_batch_size"] == 32
    with pytest.raises(Error, match="node_batch_size"):
        StandardTraining(node_batch_size=-1)
