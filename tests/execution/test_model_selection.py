"""Model selection on task accuracy alone (suite.execution.model_selection)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import suite.execution.model_selection as selection
from suite.cli import main
from suite.core.config import ConfigError
from suite.datasets.base import DatasetUnavailable
from suite.execution.model_selection import (
    CRITERIA,
    HELDOUT_GRAPH_SEEDS,
    Candidate,
    Trial,
    check_criterion,
    choose,
    parse_spec,
    preset_models,
    restrict_spec,
)
from suite.matrix import expand, load_matrix
from suite.protocol import ModelQuality

SPEC = {
    "name": "t", "seeds": [0, 1], "criterion": "val_accuracy",
    "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8}},
    "families": {"gcn": [{"model": "gcn", "hparams": {"hidden": 8}},
                         {"model": "gcn-sum", "hparams": {"hidden": 8}}]},
}


@pytest.mark.parametrize("criterion", ["edge_auc", "fid_plus_acc", "test_accuracy",
                                       "repr_fidelity", 3])
def test_the_selection_refuses_any_non_task_criterion(criterion):
    with pytest.raises(ConfigError, match="models are chosen on task metrics only"):
        check_criterion(criterion)
    with pytest.raises(ConfigError, match="criterion: models are chosen on task metrics only"):
        parse_spec({**SPEC, "criterion": criterion})
    assert set(CRITERIA) == {"val_accuracy", "val_balanced_accuracy", "heldout_graph_accuracy"}


def test_a_malformed_spec_names_the_field():
    with pytest.raises(ConfigError, match=r"families.gcn\[0\].colour: unknown field"):
        parse_spec({**SPEC, "families": {"gcn": [{"model": "gcn", "colour": 1}]}})
    with pytest.raises(ConfigError, match="seeds: expected"):
        parse_spec({**SPEC, "seeds": ["x"]})


def _trial(candidate: Candidate, seed: int, val: float, test: float) -> Trial:
    quality = ModelQuality(test, val, test, val, 0.5, test, 10)
    return Trial(candidate, "ba-shapes", seed, quality, 1.0, 10)


def test_the_choice_reads_validation_accuracy_only():
    spec = parse_spec(SPEC)
    a, b = spec.candidates
    # b has the better test accuracy, a the better validation accuracy: a is chosen
    trials = [_trial(a, 0, 0.9, 0.5), _trial(a, 1, 0.9, 0.5),
              _trial(b, 0, 0.8, 1.0), _trial(b, 1, 0.8, 1.0)]
    (choice,) = choose(spec, trials)
    assert choice.candidate == a and choice.score == pytest.approx(0.9)
    ties = [_trial(a, 0, 0.9, 0.5), _trial(b, 0, 0.9, 0.5)]
    assert choose(spec, ties)[0].candidate == a  # ties: the first listed
    assert preset_models(choose(spec, trials))["models"] == {
        "gcn": {"only_datasets": ["ba-shapes"], "by_dataset": {"ba-shapes": {"hidden": 8}}}}


def _select(tmp_path, **spec_changes) -> str:
    """``suite select-models`` on one 5-epoch GCN candidate; returns the report."""
    spec = {**SPEC, "seeds": [0],
            "families": {"gcn": [{"model": "gcn", "hparams": {"hidden": 8},
                                  "training": {"epochs": 5, "patience": 0}}]}, **spec_changes}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["select-models", str(path), "--root", str(tmp_path), "--out",
                 str(tmp_path / "sel")]) == 0
    return (tmp_path / "sel" / "selection.md").read_text()


def test_select_models_command_writes_the_report_and_the_choices(tmp_path):
    report = _select(tmp_path)
    assert "| ba-shapes | gcn | gcn(hidden=8) |" in report and "never used to choose" in report
    chosen = yaml.safe_load((tmp_path / "sel" / "models.yaml").read_text())
    assert chosen["models"]["gcn"]["only_datasets"] == ["ba-shapes"]


def test_part_of_a_selection_reruns_alone_with_the_candidates_it_holds():
    """`--datasets` / `--families` cut the spec: per-dataset overrides follow the kept
    datasets, a candidate restricted to other datasets goes, where it runs is not part of
    its label or of the preset entry written, and unknown names list the known ones."""
    two = {"ba-shapes": {"num_base": 40, "num_motifs": 8}, "tree-cycles": {"depth": 3}}
    spec = parse_spec({**SPEC, "datasets": two, "families": {
        "gcn": [{"model": "gcn", "hparams": {"hidden": 8}, "training": {
                    "by_dataset": {"tree-cycles": {"lr": 0.1}}}}],
        "gin": [{"model": "gin", "hparams": {"hidden": 8}},
                {"model": "gin-l2", "hparams": {"hidden": 8, "only_datasets": ["tree-cycles"]}}]}})
    assert spec.candidates[2].label == "gin-l2(hidden=8)"
    cut = restrict_spec(spec, datasets=["ba-shapes"])
    assert list(cut.datasets) == ["ba-shapes"]
    assert [c.label for c in cut.candidates] == ["gcn(hidden=8)", "gin(hidden=8)"]
    assert "by_dataset" not in cut.candidates[0].training
    gin_only = restrict_spec(spec, datasets=["tree-cycles"], families=["gin"])
    assert [c.model for c in gin_only.candidates] == ["gin", "gin-l2"]
    trials = [replace(_trial(c, 0, v, v), dataset="tree-cycles")
              for c, v in zip(gin_only.candidates, (0.8, 0.9))]
    (choice,) = choose(gin_only, trials)
    written = preset_models([choice])["models"]["gin-l2"]
    assert written == {"only_datasets": ["tree-cycles"], "by_dataset": {"tree-cycles": {"hidden": 8}}}
    with pytest.raises(ConfigError, match="datasets: 'mutag' is not in this spec; "
                                          "it has ba-shapes, tree-cycles"):
        restrict_spec(spec, datasets=["mutag"])
    with pytest.raises(ConfigError, match="families: 'gat' is not in this spec; it has gcn, gin"):
        restrict_spec(spec, families=["gat"])


def test_heldout_graph_accuracy_reads_further_graphs_on_node_tasks_only():
    """Node tasks: the held-out graphs' accuracy decides over validation accuracy; a trial
    without one (a graph task) falls back to validation accuracy. The held-out seeds are
    none of the suite's run seeds."""
    spec = parse_spec({**SPEC, "criterion": "heldout_graph_accuracy"})
    a, b = spec.candidates
    tied = [_trial(a, 0, 1.0, 0.5), _trial(b, 0, 1.0, 1.0)]
    tied[0].heldout_accuracy, tied[1].heldout_accuracy = 0.93, 0.97
    (choice,) = choose(spec, tied)
    assert choice.candidate == b and choice.score == pytest.approx(0.97)
    graph_task = [_trial(a, 0, 0.9, 0.5), _trial(b, 0, 0.8, 1.0)]  # no held-out accuracy
    assert choose(spec, graph_task)[0].candidate == a
    assert min(HELDOUT_GRAPH_SEEDS) >= 10_000


def test_the_selection_command_measures_held_out_graphs(tmp_path):
    report = _select(tmp_path, criterion="heldout_graph_accuracy")
    trials = report.split("## Every trial", 1)[1]
    row = next(line for line in trials.splitlines() if line.startswith("| ba-shapes | gcn | gcn("))
    held_out = float(row.split("|")[6])
    assert 0.0 <= held_out <= 1.0  # measured (a number, not "-")


def test_a_dataset_that_cannot_be_loaded_is_one_line(tmp_path, monkeypatch, capsys):

    def unavailable(name, **_):
        raise DatasetUnavailable(f"{name}: no data mirror and the download failed")

    monkeypatch.setattr(selection, "load_dataset", unavailable)
    spec = {**SPEC, "seeds": [0], "datasets": {"benzene": {}},
            "families": {"gin": [{"model": "gin", "training": {"epochs": 1}}]}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["select-models", str(path), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("suite: error: benzene") and "\n" not in err


def test_the_default_preset_explains_the_models_the_committed_selection_chose():
    """The preset's model entries are what `suite select-models` chose (the committed report),
    and nothing else runs on the selection's datasets (BA-Community: gin-l2, not gin)."""

    report = Path(__file__).resolve().parents[2] / "results" / "reference" / "model-selection.md"
    choices = report.read_text().split("## Choices", 1)[1].split("## Every trial", 1)[0]
    chosen = {}
    for line in choices.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[0] not in ("dataset", "---"):
            chosen[(cells[0], cells[2].split("(", 1)[0])] = cells[2]
    cells, _ = expand(load_matrix("default"))
    mismatched, seen = [], set()
    selected = {dataset for dataset, _ in chosen}
    unchosen = {(c.dataset, c.model) for c in cells if c.dataset in selected} - set(chosen)
    assert not unchosen, unchosen
    for cell in cells:
        label = chosen.get((cell.dataset, cell.model))
        if label is None:
            continue
        seen.add((cell.dataset, cell.model))
        given = dict(pair.split("=", 1) for pair in label.split("(", 1)[1].rstrip(")").split(", "))
        if any(str(cell.model_hparams.get(k)) != v for k, v in given.items()):
            mismatched.append((cell.dataset, cell.model, label, cell.model_hparams))
    assert len(chosen) == 12 and seen == set(chosen) and not mismatched, mismatched


def test_select_models_names_an_unknown_dataset_or_family_in_one_line(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    assert main(["select-models", str(path), "--root", str(tmp_path), "--datasets", "mutag"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "suite: error: datasets: 'mutag' is not in this spec; it has ba-shapes"
    assert main(["select-models", str(path), "--root", str(tmp_path), "--families", "gin"]) == 2
    assert "families: 'gin' is not in this spec; it has gcn" in capsys.readouterr().err
