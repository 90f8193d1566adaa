"""The adversarial training modes: registration, config, mixed loss, robustness in extra."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Data
from torch_geometric.utils import to_undirected

from suite.core.config import ConfigError
from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel
from suite.models import build_model
from suite.training import TRAININGS, ModelCache, build_training, train_or_load
from suite.training.adversarial import (
    AdversarialStep,
    FeatureAdversarialTraining,
    StructureAdversarialTraining,
)
from suite.training.attacks import build_attack, robust_accuracy
from suite.training.loop import GraphBatcher, GraphInputs, TrainConfig, forward

FAST = {"epochs": 4, "patience": 0}


def _fresh(name: str, dataset: BenchmarkDataset, seed: int = 0, **hparams):
    seed_everything(seed)
    return build_model(name, dataset, **hparams)


def _param_hooks(model: torch.nn.Module) -> int:
    return sum(len(p._backward_hooks or {}) for p in model.parameters())


def weak_features_dataset(n: int = 200, weak_dims: int = 30, seed: int = 0) -> BenchmarkDataset:
    """Two classes; feature 0 = +-1 + N(0, 0.5^2) (robust), 30 features = +-0.2 + N(0, 1)
    (individually weak, jointly predictive, flipped by an L-inf attack of 0.3); edges join
    nodes of the same class. Standard training leans on the weak features; adversarial
    training has to use the robust one."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    sign = (2 * y - 1).float().view(-1, 1)
    x = torch.cat([sign + 0.5 * torch.randn(n, 1, generator=gen),
                   0.2 * sign + torch.randn(n, weak_dims, generator=gen)], 1)
    src = torch.randint(n, (3 * n,), generator=gen)
    dst = (src + 2 * torch.randint(1, n // 2, (3 * n,), generator=gen)) % n  # same parity
    edge_index = to_undirected(torch.stack([src, dst]), num_nodes=n)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    perm = torch.randperm(n, generator=gen)
    splits = {"train": perm[:n // 2].sort().values, "val": perm[n // 2:3 * n // 4].sort().values,
              "test": perm[3 * n // 4:].sort().values}
    return BenchmarkDataset(
        info=DatasetInfo("weak-features", TaskLevel.NODE, "synthetic", False, "test double",
                         "tests/training/test_adversarial.py"),
        data=Data(x=x, edge_index=edge_index), y=y, num_classes=2, splits=splits, explain_ids={})


# ----------------------------------------------------------------------------- registry, config


def test_modes_are_registered_with_citations():
    assert {"adv-features", "adv-structure"} <= set(TRAININGS.names())
    assert "Madry" in TRAININGS.entry("adv-features").metadata["info"].citation
    assert "Xu et al., IJCAI 2019" in TRAININGS.entry("adv-structure").metadata["info"].citation
    assert isinstance(build_training("ADV_features"), FeatureAdversarialTraining)
    assert isinstance(build_training("adv-structure"), StructureAdversarialTraining)


@pytest.mark.parametrize("mode, attack_field", [("adv-features", "epsilon"),
                                                ("adv-structure", "budget_share")])
def test_config_has_training_attack_and_mix_fields(mode, attack_field):
    config = build_training(mode).config()
    standard = build_training("standard").config()
    assert {k: config[k] for k in standard} == standard  # the same training defaults
    assert attack_field in config and config["mix"] == 0.0
    name, attack_config = build_training(mode, steps=3).attack_spec()
    assert attack_config["steps"] == 3 and "lr" not in attack_config and "mix" not in attack_config
    assert build_attack(name, **attack_config).config() == attack_config


@pytest.mark.parametrize("mode, bad, field", [
    ("adv-features", {"epsilon": -0.1}, "epsilon"),
    ("adv-features", {"norm": "l1"}, "norm"),
    ("adv-features", {"mix": 1.5}, "mix"),
    ("adv-features", {"lr": 0}, "lr"),
    ("adv-features", {"epsilom": 0.1}, "epsilom"),
    ("adv-structure", {"budget": -1}, "budget"),
    ("adv-structure", {"discretise": "round"}, "discretise"),
    ("adv-structure", {"samples": 0}, "samples"),
    ("adv-structure", {"epochs": "many"}, "epochs"),
    ("adv-structure", {"select": "best"}, "select"),
    ("adv-features", {"select": "Robust"}, "select"),
])
def test_bad_config_names_the_field(mode, bad, field):
    with pytest.raises(ConfigError, match=field):
        build_training(mode, **bad)


# ----------------------------------------------------------------------------- the mixed loss


def test_mixed_step_gradient_is_the_gradient_of_the_mixed_loss(tiny_node_dataset):
    """``mix * CE(clean) + (1 - mix) * CE(attacked)``, through the one-shot hooks."""
    d, index = tiny_node_dataset.data, tiny_node_dataset.splits["train"]
    inputs, y = GraphInputs(x=d.x, edge_index=d.edge_index), tiny_node_dataset.y[index]
    model = _fresh("gcn", tiny_node_dataset, hidden=8).train()
    attack = build_attack("pgd-features", epsilon=0.3, steps=2, random_start=False)
    step = AdversarialStep(attack, mix=0.3, generator=torch.Generator().manual_seed(0))
    attacked = step(model, inputs, y, index)
    assert _param_hooks(model) > 0
    F.cross_entropy(forward(model, attacked)[index], y).backward()  # what train_step does
    hooked = [p.grad.clone() for p in model.parameters()]
    step.close()
    assert _param_hooks(model) == 0

    model.zero_grad(set_to_none=True)
    loss = (0.3 * F.cross_entropy(forward(model, inputs)[index], y)
            + 0.7 * F.cross_entropy(forward(model, attacked)[index], y))
    loss.backward()
    for got, want in zip(hooked, (p.grad for p in model.parameters())):
        assert torch.allclose(got, want, atol=1e-6)


# ----------------------------------------------------------------------------- training


@pytest.mark.parametrize("mode, config", [
    ("adv-features", {"epsilon": 0.1, "steps": 2}),
    ("adv-features", {"epsilon": 0.5, "norm": "l2", "steps": 2, "mix": 0.5}),
    ("adv-structure", {"steps": 3, "samples": 2, "budget_share": 0.1}),
    ("adv-structure", {"steps": 3, "discretise": "topk", "removal_only": True, "mix": 0.5}),
])
@pytest.mark.parametrize("level", ["node", "graph"])
def test_modes_train_and_store_robust_accuracy(mode, config, level, request):
    dataset = request.getfixturevalue("tiny_node_dataset" if level == "node"
                                      else "tiny_graph_dataset")
    model = _fresh("gcn" if level == "node" else "gin", dataset, hidden=8)
    result = build_training(mode, **FAST, batch_size=12, **config).train(model, dataset, seed=0)
    assert result.epochs == 4 and set(result.accuracy) == {"train", "val", "test"}
    for split in ("val", "test"):
        assert 0.0 <= result.extra[f"robust_acc_{split}"] <= 1.0
    assert result.extra["robust_seconds"] >= 0
    if mode == "adv-structure":  # no edge_attr in the fixtures: as configured
        assert result.extra["removal_only"] == float(config.get("removal_only", False))
    assert not model.training and _param_hooks(model) == 0
    name, attack_config = build_training(mode, **config).attack_spec()
    assert result.extra["robust_acc_test"] == robust_accuracy(model, dataset, "test", name,
                                                              attack_config, seed=0)


def test_training_is_deterministic_and_cacheable(tiny_graph_dataset, tmp_path):
    config = {**FAST, "batch_size": 12, "steps": 2, "samples": 2}
    runs = [train_or_load("gin", {"hidden": 8}, "adv-structure", config, tiny_graph_dataset,
                          seed=1, cache=ModelCache(tmp_path)) for _ in range(2)]
    (first, result, cached_first), (second, again, cached_second) = runs
    assert not cached_first and cached_second
    assert result.extra == again.extra and result.accuracy == again.accuracy
    fresh, retrained, _ = train_or_load("gin", {"hidden": 8}, "adv-structure", config,
                                        tiny_graph_dataset, seed=1)
    assert retrained.extra["robust_acc_test"] == result.extra["robust_acc_test"]
    state = fresh.state_dict()
    assert all(torch.equal(state[k], v) for k, v in first.state_dict().items())


def test_adversarial_training_beats_standard_under_the_attack():
    """On data with one robust and many weak features (see :func:`weak_features_dataset`);
    on the tiny house fixture (20 test nodes) the comparison is within noise."""
    dataset = weak_features_dataset(seed=0)
    attack = {"epsilon": 0.3, "steps": 5}
    standard = _fresh("gcn", dataset, hidden=16, num_layers=2)
    build_training("standard", epochs=100, patience=0).train(standard, dataset, seed=0)
    robust = _fresh("gcn", dataset, hidden=16, num_layers=2)
    result = build_training("adv-features", epochs=100, patience=0, **attack).train(
        robust, dataset, seed=0)
    standard_robust = robust_accuracy(standard, dataset, "test", "pgd-features", attack, seed=0)
    assert result.extra["robust_acc_test"] >= standard_robust + 0.3
    assert result.accuracy["test"] >= 0.9  # at no large clean cost here


def test_step_without_mix_arms_no_hooks(tiny_graph_dataset):
    model = _fresh("gin", tiny_graph_dataset, hidden=8)
    step = AdversarialStep(build_attack("pgd-features", steps=1), 0.0, torch.Generator())
    inputs, y = GraphBatcher(tiny_graph_dataset, "cpu")(torch.arange(6))
    out = step(model, inputs, y, None)
    assert out.x.shape == inputs.x.shape and not torch.equal(out.x, inputs.x)
    assert _param_hooks(model) == 0
    assert isinstance(build_training("adv-features").settings, TrainConfig)  # fit() accepts it


# ----------------------------------------------------------------------------- robust selection


@pytest.mark.parametrize("mode, config", [
    ("adv-structure", {"steps": 3, "samples": 2, "budget_share": 0.2}),
    ("adv-features", {"epsilon": 0.3, "steps": 2}),
])
def test_robust_selection_keeps_the_epoch_with_the_best_robust_validation_accuracy(
        mode, config):
    """``select: robust`` ranks epochs by accuracy under the mode's attack on val: the kept
    state is an evaluated epoch with the highest such score (ties go to the lower clean
    validation loss), its ``robust_acc_val`` is that score, and the training trajectory (every
    epoch's clean numbers) is the one ``select: clean`` follows from the same seed."""
    dataset = weak_features_dataset(n=120, seed=0)  # learns within 12 epochs (the houses don't)
    runs = {}
    for select in ("clean", "robust"):
        records = []
        model = _fresh("gcn", dataset, hidden=8)
        result = build_training(mode, epochs=12, patience=0, select=select, **config).train(
            model, dataset, seed=3, callback=records.append)
        runs[select] = (records, result)
    (clean_records, clean), (robust_records, robust) = runs["clean"], runs["robust"]
    assert [(r.train_loss, r.val_accuracy) for r in robust_records] == \
        [(r.train_loss, r.val_accuracy) for r in clean_records]
    assert all(r.selection_score == r.val_accuracy for r in clean_records)
    scores = [r.selection_score for r in robust_records]
    assert robust.extra["robust_acc_val"] == max(scores) == scores[robust.best_epoch - 1]
    assert clean.accuracy["val"] == max(r.val_accuracy for r in clean_records)
    assert len(set(scores)) > 1  # the robust score varies over epochs: the choice is real


def test_select_is_left_out_of_the_key_at_its_default():
    assert "select" not in build_training("adv-structure").config()
    assert build_training("adv-structure", select="robust").config()["select"] == "robust"
    assert "select" not in build_training("adv-structure", select="robust").attack_config()
