"""Model selection on task accuracy alone (suite.execution.model_selection)."""

from __future__ import annotations

import pytest

from suite.core.config import ConfigError
from suite.execution.model_selection import (
    CRITERIA,
    Candidate,
    Trial,
    check_criterion,
    choose,
    parse_spec,
    preset_models,
)
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
    assert set(CRITERIA) == {"val_accuracy", "val_balanced_accuracy"}


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


def test_select_models_command_writes_the_report_and_the_choices(tmp_path):
    import yaml

    from suite.cli import main

    spec = {**SPEC, "seeds": [0],
            "families": {"gcn": [{"model": "gcn", "hparams": {"hidden": 8},
                                  "training": {"epochs": 5, "patience": 0}}]}}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["select-models", str(path), "--root", str(tmp_path), "--out",
                 str(tmp_path / "sel")]) == 0
    report = (tmp_path / "sel" / "selection.md").read_text()
    assert "| ba-shapes | gcn | gcn(hidden=8) |" in report and "never used to choose" in report
    chosen = yaml.safe_load((tmp_path / "sel" / "models.yaml").read_text())
    assert chosen["models"]["gcn"]["only_datasets"] == ["ba-shapes"]
