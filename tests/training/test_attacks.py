"""PGD on features and on edges: loss goes up, constraints hold, the model is untouched."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from suite.core.config import ConfigError, config_dict
from suite.core.registry import UnknownNameError
from suite.core.types import BenchmarkDataset
from suite.training import build_training
from suite.training.attacks import (
    ATTACKS,
    FeatureAttackConfig,
    StructureAttackConfig,
    build_attack,
    pgd_features,
    pgd_structure,
    project_budget,
    robust_accuracy,
)
from suite.training.loop import GraphBatcher, GraphInputs, accuracy, forward


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


Case = tuple[torch.nn.Module, GraphInputs, torch.Tensor, 'torch.Tensor | None']


def _case(level: str, request) -> Case:
    """(trained model, clean inputs, labels, target rows) of a tiny node or graph task."""
    if level == "node":
        dataset: BenchmarkDataset = request.getfixturevalue("tiny_node_dataset")
        model = request.getfixturevalue("tiny_gcn")
        d = dataset.data
        index = dataset.splits["test"]
        return model, GraphInputs(x=d.x, edge_index=d.edge_index), dataset.y[index], index
    dataset = request.getfixturevalue("tiny_graph_dataset")
    model = request.getfixturevalue("tiny_gin_graph")
    inputs, y = GraphBatcher(dataset, "cpu")(torch.arange(dataset.num_graphs))
    return model, inputs, y, None


def _loss(model, inputs, y, index) -> float:
    with torch.no_grad():
        out = forward(model, inputs)
    return float(F.cross_entropy(out if index is None else out[index], y))


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in edge_index.t().tolist()}


def _flips_per_graph(before: GraphInputs, after: GraphInputs) -> tuple[dict[int, int], int, int]:
    """Unordered pairs flipped per graph (batch position; 0 for one graph), removed, added."""
    old, new = _pairs(before.edge_index), _pairs(after.edge_index)
    graph = (lambda u: 0) if before.batch is None else (lambda u: int(before.batch[u]))
    per_graph: dict[int, int] = {}
    for u, _v in old ^ new:
        per_graph[graph(u)] = per_graph.get(graph(u), 0) + 1
    return per_graph, len(old - new), len(new - old)


def _hooks_left(model: torch.nn.Module) -> int:
    layer_hooks = sum(len(getattr(m, "_message_forward_hooks", {}))
                      + len(getattr(m, "_propagate_forward_pre_hooks", {}))
                      + len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    param_hooks = sum(len(p._backward_hooks or {}) for p in model.parameters())
    return layer_hooks + param_hooks


FEATURES = dict(epsilon=0.1, steps=5)
STRUCTURE = dict(budget_share=0.1, steps=10, samples=5)


# ----------------------------------------------------------------------------- features


@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_features_increases_the_loss_inside_the_ball(level, norm, request):
    model, inputs, y, index = _case(level, request)
    epsilon = 0.1 if norm == "linf" else 0.3
    x_adv = pgd_features(model, inputs, y, index,
                         FeatureAttackConfig(epsilon=epsilon, steps=5, norm=norm),
                         generator=_gen())
    delta = x_adv - inputs.x
    size = delta.abs().amax() if norm == "linf" else delta.norm(dim=-1).amax()
    assert float(size) <= epsilon * (1 + 1e-5)
    assert float(size) >= 0.5 * epsilon  # it does move
    assert _loss(model, inputs.replace(x=x_adv), y, index) > _loss(model, inputs, y, index) + 0.05


def test_pgd_features_without_random_start_is_exact_sign_ascent(tiny_node_dataset, tiny_gcn):
    """One L-inf step of size epsilon from x lands on x + eps * sign(grad)."""
    d, index = tiny_node_dataset.data, tiny_node_dataset.splits["train"]
    y = tiny_node_dataset.y[index]
    inputs = GraphInputs(x=d.x, edge_index=d.edge_index)
    x = d.x.clone().requires_grad_(True)
    loss = F.cross_entropy(tiny_gcn(x, d.edge_index)[index], y)
    (grad,) = torch.autograd.grad(loss, x)
    x_adv = pgd_features(tiny_gcn, inputs, y, index,
                         FeatureAttackConfig(epsilon=0.2, steps=1, step_size=0.2, random_start=False))
    assert torch.allclose(x_adv, d.x + 0.2 * grad.sign())


def test_zero_epsilon_changes_nothing_and_robust_accuracy_is_clean_accuracy(tiny_node_dataset,
                                                                            tiny_gcn):
    d, index = tiny_node_dataset.data, tiny_node_dataset.splits["test"]
    inputs = GraphInputs(x=d.x, edge_index=d.edge_index)
    assert torch.equal(pgd_features(tiny_gcn, inputs, tiny_node_dataset.y[index], index,
                                    FeatureAttackConfig(epsilon=0.0, steps=3)), d.x)
    clean = accuracy(tiny_gcn, tiny_node_dataset, index)
    assert robust_accuracy(tiny_gcn, tiny_node_dataset, "test", "pgd-features",
                           {"epsilon": 0.0}, seed=0) == clean


# ----------------------------------------------------------------------------- structure


@pytest.mark.parametrize("level", ["node", "graph"])
def test_pgd_structure_increases_the_loss_within_the_budget(level, request):
    model, inputs, y, index = _case(level, request)
    adv = pgd_structure(model, inputs, y, index, StructureAttackConfig(**STRUCTURE),
                        generator=_gen())
    per_graph, removed, added = _flips_per_graph(inputs, adv)
    old = _pairs(inputs.edge_index)
    if level == "node":
        budget = max(1, math.floor(0.1 * len(old)))
        assert 0 < sum(per_graph.values()) <= budget
    else:
        for g, flips in per_graph.items():
            pairs_g = sum(1 for u, _ in old if int(inputs.batch[u]) == g)
            assert flips <= max(1, math.floor(0.1 * pairs_g))
        assert len(per_graph) > inputs.batch.max() // 2  # most graphs were attacked
    assert removed > 0 and added > 0  # both kinds of flip are used
    assert _loss(model, adv, y, index) > _loss(model, inputs, y, index) + 0.05


@pytest.mark.parametrize("discretise", ["bernoulli", "topk"])
def test_absolute_budget_and_symmetric_flips(discretise, request):
    model, inputs, y, index = _case("graph", request)
    adv = pgd_structure(model, inputs, y, index,
                        StructureAttackConfig(budget=2, steps=5, samples=3, discretise=discretise),
                        generator=_gen())
    per_graph, _, _ = _flips_per_graph(inputs, adv)
    assert per_graph and max(per_graph.values()) <= 2
    directed = set(map(tuple, adv.edge_index.t().tolist()))
    assert all((v, u) in directed for u, v in directed)  # both directions flip together
    assert len(directed) == adv.edge_index.size(1)  # no duplicated edges


@pytest.mark.parametrize("level", ["node", "graph"])
def test_removal_only_never_inserts(level, request):
    model, inputs, y, index = _case(level, request)
    adv = pgd_structure(model, inputs, y, index,
                        StructureAttackConfig(removal_only=True, **STRUCTURE),
                        generator=_gen())
    _, removed, added = _flips_per_graph(inputs, adv)
    assert removed > 0 and added == 0


def test_edge_attr_forces_removal_only_and_keeps_attributes_aligned(request):
    model, inputs, y, index = _case("graph", request)
    attr = torch.arange(inputs.edge_index.size(1), dtype=torch.float).view(-1, 1)
    inputs = inputs.replace(edge_attr=attr)  # GIN ignores it; the attack must not insert
    adv = pgd_structure(model, inputs, y, index, StructureAttackConfig(**STRUCTURE),
                        generator=_gen())
    _, removed, added = _flips_per_graph(inputs, adv)
    assert removed > 0 and added == 0
    kept = adv.edge_attr.view(-1).long()
    assert torch.equal(inputs.edge_index[:, kept], adv.edge_index)


def test_inserted_edges_get_the_most_common_edge_type(request):
    model, inputs, y, index = _case("node", request)
    types = (torch.arange(inputs.edge_index.size(1)) % 5 == 0).long() + 1  # type 1 most common
    inputs = inputs.replace(edge_type=types)
    adv = pgd_structure(model, inputs, y, index, StructureAttackConfig(**STRUCTURE),
                        generator=_gen())
    old = set(map(tuple, inputs.edge_index.t().tolist()))
    new = [i for i, e in enumerate(adv.edge_index.t().tolist()) if tuple(e) not in old]
    assert new and set(adv.edge_type[new].tolist()) == {1}
    adv = pgd_structure(model, inputs, y, index,
                        StructureAttackConfig(insert_edge_type=7, **STRUCTURE),
                        generator=_gen())
    new = [i for i, e in enumerate(adv.edge_index.t().tolist()) if tuple(e) not in old]
    assert new and set(adv.edge_type[new].tolist()) == {7}


def test_all_candidates_attack_at_least_as_hard_on_small_graphs(request):
    model, inputs, y, index = _case("graph", request)
    sampled = pgd_structure(model, inputs, y, index, StructureAttackConfig(**STRUCTURE),
                            generator=_gen())
    full = pgd_structure(model, inputs, y, index,
                         StructureAttackConfig(candidates="existing+all", **STRUCTURE),
                         generator=_gen())
    assert _loss(model, full, y, index) >= _loss(model, sampled, y, index) - 0.05


def test_project_budget_is_feasible_and_exact():
    gen = _gen(3)
    a = torch.randn(60, generator=gen) * 2
    group = torch.randint(0, 4, (60,), generator=gen)
    budget = torch.tensor([0.5, 2.0, 100.0, 3.0])
    s = project_budget(a, group, budget)
    assert float(s.min()) >= 0 and float(s.max()) <= 1
    sums = torch.zeros(4).index_add(0, group, s)
    assert bool((sums <= budget + 1e-5).all())
    clipped = a.clamp(0, 1)
    for g in range(4):
        members = group == g
        if float(clipped[members].sum()) <= float(budget[g]):
            assert torch.equal(s[members], clipped[members])  # inside: untouched
        else:
            assert float(sums[g]) == pytest.approx(float(budget[g]), abs=1e-4)  # on the boundary
            # projection = clip(a - mu): the same shift mu for every unclipped entry
            inside = members & (s > 0) & (s < 1)
            shifts = (a - s)[inside]
            assert float(shifts.max() - shifts.min()) < 1e-4


# ----------------------------------------------------------------------------- contracts


@pytest.mark.parametrize("attack", ["pgd-features", "pgd-structure"])
@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("training", [False, True])
def test_attacks_leave_the_model_untouched(attack, level, training, request):
    model, inputs, y, index = _case(level, request)
    model = copy.deepcopy(model).train(training)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = FEATURES if attack == "pgd-features" else STRUCTURE
    build_attack(attack, **config)(model, inputs, y, index, generator=_gen())
    assert model.training is training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert _hooks_left(model) == 0


@pytest.mark.parametrize("attack", ["pgd-features", "pgd-structure"])
def test_attacks_are_deterministic_under_a_seed(attack, request):
    model, inputs, y, index = _case("graph", request)
    config = FEATURES if attack == "pgd-features" else STRUCTURE
    run = build_attack(attack, **config)
    a, b, c = (run(model, inputs, y, index, generator=_gen(s)) for s in (0, 0, 1))
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    assert not (torch.equal(a.x, c.x) and torch.equal(a.edge_index, c.edge_index))


def test_robust_accuracy_is_deterministic_and_below_clean(tiny_graph_dataset, tiny_gin_graph):
    model = copy.deepcopy(tiny_gin_graph).train()
    clean = accuracy(model, tiny_graph_dataset, tiny_graph_dataset.splits["val"])
    runs = [robust_accuracy(model, tiny_graph_dataset, "val", "pgd-structure", STRUCTURE, seed=1)
            for _ in range(2)]
    assert runs[0] == runs[1] and 0 <= runs[0] <= clean
    assert model.training and _hooks_left(model) == 0
    assert math.isnan(robust_accuracy(model, tiny_graph_dataset, "missing", "pgd-features"))


def test_attack_configs_validate_and_lookups_help():
    assert {"pgd-features", "pgd-structure"} <= set(ATTACKS.names())
    with pytest.raises(ConfigError, match="norm"):
        build_attack("pgd-features", norm="l3")
    with pytest.raises(ConfigError, match="epsilonn"):
        build_attack("pgd-features", epsilonn=0.1)
    with pytest.raises(ConfigError, match="budget_share"):
        build_attack("pgd-structure", budget_share=1.5)
    with pytest.raises(ConfigError, match="candidates"):
        build_attack("pgd-structure", candidates="everything")
    with pytest.raises(UnknownNameError, match="pgd-features"):
        build_attack("pgd-feature")
    assert build_attack("PGD_Structure", steps=3).config()["steps"] == 3



def _is_cycle(pairs: set[tuple[int, int]], length: int) -> bool:
    """True when the unordered ``pairs`` form one simple cycle through ``length`` nodes."""
    nodes = {u for pair in pairs for u in pair}
    if len(nodes) != length or len(pairs) != length:
        return False
    neighbours: dict[int, set[int]] = {u: set() for u in nodes}
    for u, v in pairs:
        neighbours[u].add(v)
        neighbours[v].add(u)
    if any(len(n) != 2 for n in neighbours.values()):
        return False
    start = next(iter(nodes))
    seen, stack = {start}, [start]
    while stack:
        for v in neighbours[stack.pop()] - seen:
            seen.add(v)
            stack.append(v)
    return seen == nodes


def test_one_removal_within_the_budget_turns_a_ba2motifs_house_into_its_cycle_class():
    """Why the structure attack cannot be survived on BA-2Motifs: its per-graph budget is
    ``max(1, ...)`` flips, one removal of a house's ceiling edge suffices, and the motif
    left is exactly the other class's 5-cycle (the attack changes the true class)."""
    from suite.datasets import load_dataset

    dataset = load_dataset("ba-2motifs", seed=0, num_graphs=10)
    d = dataset.data
    houses = (dataset.y == 0).nonzero().view(-1).tolist()
    assert houses
    for g in houses:
        lo, hi = int(dataset.edge_ptr[g]), int(dataset.edge_ptr[g + 1])
        motif = _pairs(d.edge_index[:, lo:hi][:, dataset.gt_edge_mask[lo:hi]])
        assert len(motif) == 6 and not _is_cycle(motif, 5)
        assert any(_is_cycle(motif - {pair}, 5) for pair in motif)


@pytest.mark.parametrize("split", ["train", "test"])
def test_targets_budget_scope_gives_every_target_set_the_same_flips_per_target(split, request):
    """``budget_scope="targets"``: flips = floor(share * pairs * T / n), so the 80% training
    nodes and the 10% test nodes meet the same flip density (topk uses the whole budget)."""
    dataset = request.getfixturevalue("tiny_node_dataset")
    model = request.getfixturevalue("tiny_gcn")
    d, index = dataset.data, dataset.splits[split]
    inputs = GraphInputs(x=d.x, edge_index=d.edge_index)
    pairs = len(_pairs(d.edge_index))
    wanted = max(1, math.floor(0.2 * pairs * index.numel() / d.num_nodes))
    whole = max(1, math.floor(0.2 * pairs))
    assert wanted < whole  # the scope changes this budget
    flips = {}
    for scope in ("graph", "targets"):
        adv = pgd_structure(model, inputs, dataset.y[index], index,
                            StructureAttackConfig(budget_share=0.2, steps=5, discretise="topk", budget_scope=scope),
                            generator=_gen())
        per_graph, _, _ = _flips_per_graph(inputs, adv)
        flips[scope] = sum(per_graph.values())
    assert flips["targets"] == wanted
    assert flips["graph"] == whole


def test_targets_budget_scope_floors_once_and_keeps_a_zero_budget(request):
    """floor(share * P * T / n), not floor(floor(share * P) * T / n); budget 0 flips nothing."""
    dataset = request.getfixturevalue("tiny_node_dataset")
    model = request.getfixturevalue("tiny_gcn")
    d, index = dataset.data, dataset.splits["train"]
    inputs, y = GraphInputs(x=d.x, edge_index=d.edge_index), dataset.y[index]
    pairs, share_of_nodes = len(_pairs(d.edge_index)), index.numel() / d.num_nodes
    share = next(s / 100 for s in range(5, 100)  # a share where the two roundings differ
                 if math.floor(s / 100 * pairs * share_of_nodes)
                 != math.floor(math.floor(s / 100 * pairs) * share_of_nodes))
    adv = pgd_structure(model, inputs, y, index,
                        StructureAttackConfig(budget_share=share, steps=5, discretise="topk", budget_scope="targets"),
                        generator=_gen())
    assert sum(_flips_per_graph(inputs, adv)[0].values()) == math.floor(
        share * pairs * share_of_nodes)
    none = pgd_structure(model, inputs, y, index,
                         StructureAttackConfig(budget=0, steps=2, discretise="topk", budget_scope="targets"),
                         generator=_gen())
    assert _pairs(none.edge_index) == _pairs(d.edge_index)


def test_targets_budget_scope_leaves_graph_tasks_alone(request):
    model, inputs, y, index = _case("graph", request)
    runs = [pgd_structure(model, inputs, y, index,
                          StructureAttackConfig(budget_scope=scope, **STRUCTURE),
                          generator=_gen()) for scope in ("graph", "targets")]
    assert torch.equal(runs[0].edge_index, runs[1].edge_index)


def test_unknown_budget_scope_names_the_field():
    with pytest.raises(ConfigError, match="budget_scope"):
        build_attack("pgd-structure", budget_scope="nodes")


def test_budget_scope_is_left_out_of_keys_at_its_default_and_reaches_the_attack():
    assert "budget_scope" not in config_dict(StructureAttackConfig())
    assert "budget_scope" not in build_training("adv-structure").attack_spec()[1]
    spec = build_training("adv-structure", budget_scope="targets").attack_spec()
    assert spec[1]["budget_scope"] == "targets"
