"""``pgd-structure`` with ``protect: ground-truth``: the ground truth is never flipped."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from suite.core.config import ConfigError, config_dict
from suite.training import build_training
from suite.training.attacks import StructureAttackConfig, pgd_structure, robust_accuracy
from suite.training.loop import GraphBatcher, GraphInputs, hop_subgraph, node_inputs
from tests.training.test_attacks import _flips_per_graph, _pairs

ATTACK = dict(budget=12, steps=5, samples=5)


def _case(level: str, request):
    """(model, inputs with ground-truth masks, labels, target rows)."""
    if level == "node":
        dataset = request.getfixturevalue("tiny_node_dataset")
        index = dataset.splits["test"]
        return request.getfixturevalue("tiny_gcn"), node_inputs(dataset), dataset.y[index], index
    dataset = request.getfixturevalue("tiny_graph_dataset")
    inputs, y = GraphBatcher(dataset, "cpu")(torch.arange(dataset.num_graphs))
    return request.getfixturevalue("tiny_gin_graph"), inputs, y, None


def _touches_ground_truth(before: GraphInputs, after: GraphInputs) -> tuple[int, int, dict]:
    """(ground-truth pairs removed, insertions between two ground-truth nodes, flips per graph)."""
    old, new = _pairs(before.edge_index), _pairs(after.edge_index)
    gt_pairs = _pairs(before.edge_index[:, before.gt_edge_mask])
    gt_node = before.gt_node_mask
    removed_gt = len(gt_pairs - new)
    inserted_gt = sum(1 for u, v in new - old if gt_node[u] and gt_node[v])
    return removed_gt, inserted_gt, _flips_per_graph(before, after)[0]


@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("discretise", ["bernoulli", "topk"])
def test_protected_pairs_are_never_flipped_and_the_budget_holds(level, discretise, request):
    model, inputs, y, index = _case(level, request)
    flipped = 0
    for seed in range(3):
        out = pgd_structure(model, inputs, y, index,
                            StructureAttackConfig(protect="ground-truth", discretise=discretise, **ATTACK),
                            generator=torch.Generator().manual_seed(seed))
        removed_gt, inserted_gt, per_graph = _touches_ground_truth(inputs, out)
        assert removed_gt == 0 and inserted_gt == 0
        assert max(per_graph.values(), default=0) <= ATTACK["budget"]
        assert out.gt_edge_mask.numel() == out.edge_index.size(1)
        assert int(out.gt_edge_mask.sum()) == int(inputs.gt_edge_mask.sum())
        flipped += sum(per_graph.values())
    assert flipped > 0  # the attack still flips the unprotected pairs


def test_the_unprotected_attack_does_flip_ground_truth_here(request):
    """The fixture is one where protection matters: unprotected, the attack touches the motifs."""
    model, inputs, y, index = _case("node", request)
    touched = 0
    for seed in range(3):
        out = pgd_structure(model, inputs, y, index, StructureAttackConfig(**ATTACK),
                            generator=torch.Generator().manual_seed(seed))
        removed_gt, inserted_gt, _ = _touches_ground_truth(inputs, out)
        touched += removed_gt + inserted_gt
    assert touched > 0


@pytest.mark.parametrize("level", ["node", "graph"])
def test_protect_none_ignores_the_ground_truth(level, request):
    """``protect: none`` gives the same flips whether or not the inputs carry ground truth."""
    model, inputs, y, index = _case(level, request)
    bare = inputs.replace(gt_edge_mask=None, gt_node_mask=None)
    runs = [pgd_structure(model, x, y, index, StructureAttackConfig(**ATTACK),
                          generator=torch.Generator().manual_seed(4))
            for x in (inputs, bare)]
    assert torch.equal(runs[0].edge_index, runs[1].edge_index)
    assert runs[1].gt_edge_mask is None


def test_protect_is_validated_and_left_out_of_keys_at_its_default():
    assert "protect" not in config_dict(StructureAttackConfig())
    assert config_dict(StructureAttackConfig(protect="ground-truth"))["protect"] == "ground-truth"
    assert "protect" not in build_training("adv-structure").config()
    assert "protect" not in build_training("adv-structure").attack_spec()[1]
    assert build_training("adv-structure", protect="ground-truth").attack_spec()[1]["protect"] \
        == "ground-truth"
    with pytest.raises(ConfigError, match="protect"):
        StructureAttackConfig(protect="motifs")


def test_protection_needs_ground_truth(request):
    model, inputs, y, index = _case("node", request)
    with pytest.raises(ValueError, match="ground truth"):
        pgd_structure(model, inputs.replace(gt_edge_mask=None), y, index,
                      StructureAttackConfig(protect="ground-truth"))


def test_ground_truth_masks_reach_the_attack_aligned(tiny_graph_dataset, tiny_node_dataset):
    ids = torch.tensor([3, 0, 7])
    inputs, _ = GraphBatcher(tiny_graph_dataset, "cpu")(ids)
    d, e, n = tiny_graph_dataset, tiny_graph_dataset.edge_ptr, tiny_graph_dataset.node_ptr
    assert torch.equal(inputs.gt_edge_mask, torch.cat([d.gt_edge_mask[e[i]:e[i + 1]] for i in ids]))
    assert torch.equal(inputs.gt_node_mask, torch.cat([d.gt_node_mask[n[i]:n[i + 1]] for i in ids]))
    full = node_inputs(tiny_node_dataset)
    sub, _ = hop_subgraph(full, torch.tensor([0, 70]), 2)
    assert sub.gt_edge_mask.numel() == sub.edge_index.size(1)
    assert sub.gt_node_mask.numel() == sub.x.size(0)
    # in this fixture a ground-truth edge joins two ground-truth (house) nodes; the
    # subgraph's flags agree with that, so edges and nodes were sliced alike
    gt_edges = sub.edge_index[:, sub.gt_edge_mask]
    assert gt_edges.numel() > 0 and bool(sub.gt_node_mask[gt_edges].all())


@pytest.mark.parametrize("dataset_name", ["tiny_node_dataset", "tiny_graph_dataset"])
def test_robust_accuracy_under_the_protected_attack(dataset_name, request):
    dataset = request.getfixturevalue(dataset_name)
    model = request.getfixturevalue("tiny_gcn" if dataset_name == "tiny_node_dataset"
                                    else "tiny_gin_graph")
    config = {**ATTACK, "protect": "ground-truth"}
    runs = [robust_accuracy(model, dataset, "val", "pgd-structure", config, seed=2) for _ in range(2)]
    assert runs[0] == runs[1] and 0 <= runs[0] <= 1
    bare = dataclasses.replace(dataset, gt_edge_mask=None, gt_node_mask=None)
    with pytest.raises(ValueError, match="ground truth"):
        robust_accuracy(model, bare, "val", "pgd-structure", config, seed=2)


#: The adversarial preset's settings when the robustness probes ran (the study's version 1).
VERSION_1 = {"seeds": [0, 1, 2, 3, 4], "accuracy_floor": 0.8}


def test_protected_grid_is_the_adversarial_preset_with_only_protection_changed():
    """The grid's standard cells must be the preset's (same models), so its only changes are
    its name, dropping adv-features and setting adv-structure's ``protect``."""
    from pathlib import Path

    import yaml

    from suite.matrix import preset_document

    _, preset = preset_document("adversarial")
    grid_file = Path(__file__).resolve().parents[2] / "studies/suite_studies/adversarial/grids/adversarial-protected.yaml"
    grid = yaml.safe_load(grid_file.read_text())
    assert grid["trainings"]["adv-structure"].pop("protect") == "ground-truth"
    # the probe predates the preset's robust selection on node tasks and kept clean selection
    assert preset["trainings"]["adv-structure"]["by_task"]["node"].pop("select") == "robust"
    del preset["trainings"]["adv-features"]
    assert grid.pop("name") == "adversarial-protected"
    preset.pop("name")
    # the probe ran under the study's version 1: five seeds, one 0.8 floor, correct instances
    assert {key: grid.pop(key) for key in VERSION_1} == VERSION_1
    for key in ("seeds", "instances"):
        preset.pop(key)
    assert grid == preset


@pytest.mark.parametrize("grid_name, adv_changes, node_epochs", [
    ("adversarial-budget-scope-0.1", {"budget_share": 0.1, "budget_scope": "targets"}, 300),
    ("adversarial-budget-scope-0.3", {"budget_share": 0.3, "budget_scope": "targets"}, 300),
    ("adversarial-robust-select", {"select": "robust"}, 300),
    ("adversarial-epochs1000", {}, 1000),
])
def test_node_probe_grids_are_the_presets_node_slice_with_only_the_named_changes(
        grid_name, adv_changes, node_epochs):
    """The node-task robustness probes' standard cells must be the preset's node-task cells
    (same models and training values, node epochs aside where named), and adv-structure may
    differ only in the named fields."""
    from pathlib import Path

    import yaml

    from suite.matrix import parse_matrix, preset_document

    _, preset = preset_document("adversarial")
    grid_file = Path(__file__).resolve().parents[2] / f"studies/suite_studies/adversarial/grids/{grid_name}.yaml"
    grid = yaml.safe_load(grid_file.read_text())
    parse_matrix(grid)  # a valid matrix
    assert grid["name"] == grid_name
    adv = grid["trainings"]["adv-structure"]
    assert {key: adv.pop(key) for key in adv_changes} == adv_changes
    for name in ("standard", "adv-structure"):
        wanted = preset["trainings"][name]
        wanted.pop("by_dataset")
        wanted["by_task"].pop("graph")
        wanted["by_task"]["node"]["epochs"] = node_epochs
        # the probes predate the preset's robust selection on node tasks (clean selection,
        # the default, unless a probe names select among its changes)
        wanted["by_task"]["node"].pop("select", None)
        if "budget_share" in adv_changes:
            wanted.pop("budget_share", None)
        assert grid["trainings"][name] == wanted
    for key in ("device", "max_instances", "metrics"):
        assert grid[key] == preset[key]
    assert {key: grid[key] for key in VERSION_1} == VERSION_1  # run under the study's version 1
    assert set(grid["datasets"]) == {"ba-shapes", "tree-cycles"}
    assert all(grid["datasets"][d] == preset["datasets"][d] for d in grid["datasets"])
    assert grid["models"]["gin"] == preset["models"]["gin"]
    assert grid["models"]["gcn"] == {**preset["models"]["gcn"], "only_datasets": ["ba-shapes"]}
