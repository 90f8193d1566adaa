"""Tests of ``suite.execution.tuning``: the grid table, the best setting, validation instances only."""

from __future__ import annotations

import dataclasses
import math
from importlib.resources import files

import pytest
import torch
import yaml

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.execution.tuning import (
    CRITERIA,
    TRIALS,
    TuningResult,
    check_criterion,
    load_grid,
    tune,
    validation_score,
)
from suite.explainers.base import build_explainer
from suite.explainers.gnnexplainer import GNNExplainer
from suite.matrix import parse_matrix

TINY = {
    "name": "tiny-tune", "seeds": [0], "max_instances": 8,
    "datasets": {"ba-shapes": {"num_base": 40, "base_m": 2, "num_motifs": 12},
                 "ba-2motifs": {"num_graphs": 40, "num_base": 8}},
    "models": {"gcn": {"hidden": 8, "num_layers": 2, "jk": "last",
                       "by_dataset": {"ba-2motifs": {"hidden": 4}}}},  # scoped away for node
    "trainings": {"standard": {"epochs": 5, "patience": 0,
                               "by_dataset": {"ba-2motifs": {"epochs": 3}}}},
    "explainers": {"gnnexplainer": {}},
}
GRID = [{"epochs": 2}, {"epochs": 3, "init_nodes": "graph"}]


def test_best_is_highest_mean_first_on_ties():
    result = TuningResult(explainer="x", task="node", settings=[{"a": 1}, {"a": 2}, {"a": 3}],
                          datasets=["d1", "d2"],
                          scores=[{"d1": 0.5, "d2": 0.7}, {"d1": 0.9, "d2": 0.5},
                                  {"d1": 0.6, "d2": 0.8}], seconds=[0.0] * 3)
    assert result.mean(0) == pytest.approx(0.6)
    assert result.best == 1 and result.best_setting == {"a": 2}
    result.scores[2] = {"d1": 0.7, "d2": 0.7}  # ties with setting 1: the earlier one wins
    assert result.best == 1
    table = result.markdown()
    assert table.count("\n| ") == 4  # header + three settings
    assert "**a=2**" in table


def test_nan_setting_never_wins():
    result = TuningResult(explainer="x", task="node", settings=[{}, {"a": 1}], datasets=["d"],
                          scores=[{"d": math.nan}, {"d": 0.1}], seconds=[0.0, 0.0])
    assert result.best == 1


def test_tune_uses_only_validation_instances(tmp_path, monkeypatch):
    seen: list[tuple[str, torch.Tensor, object]] = []
    original = GNNExplainer.explain

    def spy(self, model, dataset, ids, seed):
        seen.append((dataset.name, torch.as_tensor(ids).clone(), dataset))
        return original(self, model, dataset, ids, seed)

    monkeypatch.setattr(GNNExplainer, "explain", spy)
    config = parse_matrix(TINY)
    result = tune("GNNExplainer", "node", GRID, config, Paths.from_env(tmp_path), trials=len(GRID))
    assert result.datasets == ["ba-shapes"]  # only the node-level dataset
    assert len(result.scores) == len(GRID)
    assert set(result.scores[0]) == {"ba-shapes"}
    assert all(-1.0 <= s["ba-shapes"] <= 1.0 for s in result.scores)
    assert result.best_setting in GRID
    assert len(seen) == len(GRID)
    for _name, ids, dataset in seen:
        val, test = set(dataset.explain_ids["val"].tolist()), set(dataset.explain_ids["test"].tolist())
        assert set(ids.tolist()) <= val
        assert not set(ids.tolist()) & test
    # models are shared with runs: trained into the root's model cache
    assert list((tmp_path / "results" / "cache" / "models").glob("*.pt"))


def test_tune_graph_task(tmp_path):
    result = tune("gnnexplainer", "graph", GRID[:1], parse_matrix(TINY), Paths.from_env(tmp_path),
                  criterion="insertion", trials=1)
    assert result.datasets == ["ba-2motifs"] and len(result.scores) == 1


def test_tune_explains_the_reference_models_when_they_hold_the_model(tmp_path):
    """As a run does: models found among the reference models (by default the committed
    ones, the board's) are loaded, not retrained on this CPU."""
    first = Paths.from_env(tmp_path / "a")
    tune("gnnexplainer", "graph", GRID[:1], parse_matrix(TINY), first, trials=1)
    trained = sorted(p.name for p in first.model_cache.glob("*.pt"))
    assert trained
    second = dataclasses.replace(Paths.from_env(tmp_path / "b"),
                                 model_references=(first.model_cache,))
    tune("gnnexplainer", "graph", GRID[:1], parse_matrix(TINY), second, trials=1)
    assert not list(second.model_cache.glob("*.pt"))  # nothing trained: loaded from the reference


def test_validation_score_reads_no_ground_truth(tiny_node_dataset, tiny_gcn):
    """The criterion is the removal curves' (insertion minus deletion area); hiding the
    ground truth changes nothing."""
    explainer = build_explainer("gnnexplainer", epochs=3)
    score, n, seconds = validation_score(explainer, tiny_gcn, tiny_node_dataset, seed=0,
                                         max_instances=100)
    assert n == tiny_node_dataset.explain_ids["val"].numel()
    assert -1.0 <= score <= 1.0 and seconds >= 0.0
    hidden = dataclasses.replace(tiny_node_dataset, gt_edge_mask=None, gt_node_mask=None)
    again, _, _ = validation_score(explainer, tiny_gcn, hidden, seed=0, max_instances=100)
    assert again == pytest.approx(score)
    deletion, _, _ = validation_score(explainer, tiny_gcn, tiny_node_dataset, seed=0,
                                      max_instances=100, criterion="deletion")
    assert -1.0 <= deletion <= 0.0


def test_a_ground_truth_criterion_is_refused_with_the_known_ones(tmp_path):
    for name in ("edge_auc", "ground-truth-auc", "gea", "auc"):
        with pytest.raises(ConfigError, match="reads the ground truth.*removal, insertion"):
            check_criterion(name)
        with pytest.raises(ConfigError, match="criterion"):
            tune("gnnexplainer", "node", GRID, parse_matrix(TINY), Paths.from_env(tmp_path),
                 criterion=name, trials=len(GRID))
    with pytest.raises(ConfigError, match="criterion: expected one of removal"):
        check_criterion("fidelity-ish")
    assert set(CRITERIA) == {"removal", "insertion", "deletion"}


def test_every_explainer_gets_the_same_budget(tmp_path):
    with pytest.raises(ConfigError, match="2 settings, but every explainer gets the same budget of 8"):
        tune("gnnexplainer", "node", GRID, parse_matrix(TINY), Paths.from_env(tmp_path))
    grids = yaml.safe_load(files("suite").joinpath("presets", "tuning.yaml").read_text())
    for explainer, by_task in grids.items():
        for task, grid in by_task.items():
            assert len(grid) == TRIALS, (explainer, task)


def test_bundled_grids_are_valid():
    for task in ("node", "graph"):
        grid = load_grid("gnnexplainer", task)
        assert grid, task
        for setting in grid:
            config = build_explainer("gnnexplainer", **setting).config
            assert {key: getattr(config, key) for key in setting} == setting


def test_bad_grid_and_task(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("gnnexplainer: {node: []}\n")
    with pytest.raises(ConfigError, match="non-empty"):
        load_grid("gnnexplainer", "node", path)
    with pytest.raises(ConfigError, match="no grid for explainer"):
        load_grid("random", "node", path)
    with pytest.raises(ConfigError, match="task"):
        tune("gnnexplainer", "edge", GRID, parse_matrix(TINY), Paths.from_env(tmp_path),
             trials=len(GRID))
    with pytest.raises(ConfigError, match="grid\\[0\\]"):
        tune("gnnexplainer", "node", [{"epochs": -1}], parse_matrix(TINY), Paths.from_env(tmp_path),
             trials=1)
