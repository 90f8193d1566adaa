"""DropEdge (suite.training.augment and TrainConfig.drop_edge)."""

from __future__ import annotations

import pytest
import torch

from suite.core.config import ConfigError
from suite.core.seeding import generator
from suite.models import build_model
from suite.training import StandardTraining, loop
from suite.training.augment import drop_edges, undirected_keep_mask
from suite.training.loop import GraphInputs


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(int(u), int(v)) for u, v in edge_index.t()}


def test_both_directions_of_an_edge_are_kept_or_dropped_together(tiny_node_dataset):
    edge_index = tiny_node_dataset.data.edge_index
    keep = undirected_keep_mask(edge_index, 0.4, generator(0, 1))
    kept = _pairs(edge_index[:, keep])
    assert kept == {(v, u) for u, v in kept}  # still undirected
    dropped = _pairs(edge_index[:, ~keep])
    assert not kept & dropped and kept | dropped == _pairs(edge_index)
    undirected = edge_index.size(1) // 2
    share = (keep.sum().item() // 2) / undirected
    assert 0.45 < share < 0.75  # about 1 - p of the undirected edges, not all or none
    assert torch.equal(keep, undirected_keep_mask(edge_index, 0.4, generator(0, 1)))  # seeded
    assert not torch.equal(keep, undirected_keep_mask(edge_index, 0.4, generator(0, 2)))
    assert bool(undirected_keep_mask(edge_index, 0.0, generator(0, 1)).all())


def test_the_transform_keeps_per_edge_tensors_aligned_and_chains_the_next_one():
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    inputs = GraphInputs(x=torch.ones(4, 2), edge_index=edge_index,
                         edge_attr=torch.arange(6.).unsqueeze(1) * 10, edge_type=torch.arange(6))
    seen = []

    def then(model, thinned, y, index):
        seen.append(thinned)
        return thinned

    out = drop_edges(0.5, generator(3), then=then)(None, inputs, torch.zeros(1), None)
    assert seen == [out] and 0 <= out.edge_index.size(1) <= 6
    for col in range(out.edge_index.size(1)):  # each kept edge carries its own attributes
        original = int(out.edge_type[col])
        assert torch.equal(out.edge_index[:, col], edge_index[:, original])
        assert float(out.edge_attr[col]) == 10 * original
    with pytest.raises(ValueError, match="drop_edge"):
        drop_edges(1.0, generator(0))


def test_drop_edge_trains_on_thinned_graphs_only_and_is_seeded(monkeypatch, tiny_node_dataset):
    ds = tiny_node_dataset
    full = ds.data.edge_index.size(1)
    seen: list[int] = []
    real = loop.forward

    def spy(model, inputs):
        seen.append((model.training, inputs.edge_index.size(1)))
        return real(model, inputs)

    monkeypatch.setattr(loop, "forward", spy)

    def train(p: float) -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = build_model("gcn", ds, hidden=16, num_layers=2)
        StandardTraining(epochs=5, patience=0, drop_edge=p).train(model, ds, seed=0)
        return {k: v.clone() for k, v in model.state_dict().items()}

    dropped = train(0.3)
    train_sizes = [m for t, m in seen if t]
    eval_sizes = [m for t, m in seen if not t]
    assert len(train_sizes) == 5 and all(m < full for m in train_sizes)
    assert len(set(train_sizes)) > 1  # a fresh draw every step
    assert eval_sizes and all(m == full for m in eval_sizes)  # selection sees the whole graph
    again = train(0.3)
    assert all(torch.equal(dropped[k], again[k]) for k in dropped)
    plain = train(0.0)
    assert not all(torch.equal(dropped[k], plain[k]) for k in dropped)


def test_drop_edge_is_left_out_of_the_key_at_its_default():
    assert "drop_edge" not in StandardTraining().config()  # existing models keep their keys
    assert StandardTraining(drop_edge=0.2).config()["drop_edge"] == 0.2
    with pytest.raises(ConfigError, match="drop_edge"):
        StandardTraining(drop_edge=1.0)
