"""`suite verify-submission FILE`: an honest submission is accepted; an edited score, an
edited row and scores of a weaker explainer under the plug-in's name are rejected, naming
the first disagreeing cell; a plug-in that cannot be loaded is named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from suite.cli import main
from suite.matrix import Cell

TOY = str(Path(__file__).resolve().parents[1] / "plugin_pkg" / "suite_toy_plugin" / "__init__.py")
REF = f"suite-toy-plugin==0.1.0 {TOY}:InverseDegreeExplainer"


@pytest.fixture()
def submissions(tmp_path, plugin_registry, capsys):
    """(honest toy submission, the same cells of the random explainer) as CSV files."""
    matrix = tmp_path / "tiny.yaml"
    matrix.write_text(yaml.safe_dump({
        "name": "tiny", "seeds": [0, 1], "max_instances": 5, "instances": "all",
        "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8, "num_features": 4}},
        "models": {"gcn": {"hidden": 8, "num_layers": 3}},
        "trainings": {"standard": {"epochs": 30, "patience": 0}},
        "explainers": {"random": {}, "toy-inverse-degree": {}}}))
    store = tmp_path / "s.sqlite"
    assert main(["run", "--matrix", str(matrix), "--root", str(tmp_path), "--store", str(store),
                 "--plugin", f"{TOY}:InverseDegreeExplainer", "--no-progress",
                 "--no-leaderboard"]) == 0
    files = []
    for explainer in ("toy-inverse-degree", "random"):
        out = tmp_path / f"{explainer}.csv"
        assert main(["export", "--store", str(store), "--format", "csv", "--explainer",
                     explainer, "--plugin-ref", REF, "--out", str(out)]) == 0
        files.append(out)
    capsys.readouterr()
    return tmp_path, files[0], files[1]


def _verify(root: Path, path: Path, capsys) -> tuple[int, str, str]:
    code = main(["verify-submission", str(path), "--root", str(root), "--sample", "2"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_an_honest_submission_is_accepted(submissions, capsys):
    root, honest, _ = submissions
    code, out, err = _verify(root, honest, capsys)
    assert code == 0, err
    assert "submission accepted: 2 rows" in out and "2 cell(s) rerun" in out


def test_an_edited_score_is_rejected_naming_the_cell(submissions, capsys):
    root, honest, _ = submissions
    frame = pd.read_csv(honest)
    frame.loc[0, "edge_auc"] = max(0.0, frame.loc[0, "edge_auc"] - 0.1)  # a plausible value
    frame.to_csv(honest, index=False)
    code, _, err = _verify(root, honest, capsys)
    assert code == 1 and "submission rejected: ba-shapes/gcn/standard/toy-inverse-degree" in err
    assert "edge_auc submitted" in err and err.count("\n") == 1


def test_an_edited_row_is_rejected(submissions, capsys):
    root, honest, _ = submissions
    frame = pd.read_csv(honest)
    frame.loc[1, "seed"] = 7
    frame.to_csv(honest, index=False)
    code, _, err = _verify(root, honest, capsys)
    assert code == 1 and "row 2" in err and "its seed 7 is not its configuration's 1" in err


def test_a_weaker_explainers_scores_under_the_plugins_name_are_rejected(submissions, capsys):
    """Rows of the random explainer relabelled as the toy plug-in, configurations and keys
    rewritten to match: internally consistent, but the rerun does not reproduce them."""
    root, _, weaker = submissions
    frame = pd.read_csv(weaker)
    for i in frame.index:
        config = json.loads(frame.at[i, "config"])
        config["explainer"] = "toy-inverse-degree"
        config["explainer_hparams"] = {"power": 0.5}
        frame.at[i, "config"] = json.dumps(config)
        frame.at[i, "cell_key"] = Cell.from_dict(config).key
        frame.at[i, "explainer"] = "toy-inverse-degree"
    frame.to_csv(weaker, index=False)
    code, _, err = _verify(root, weaker, capsys)
    assert code == 1 and "toy-inverse-degree" in err and "do not reproduce" in err


def test_a_plugin_that_cannot_be_loaded_is_named(submissions, capsys):
    root, honest, _ = submissions
    frame = pd.read_csv(honest)
    frame["plugin"] = "missing-pkg==1.0 missing_pkg:Nothing"
    frame.to_csv(honest, index=False)
    code, _, err = _verify(root, honest, capsys)
    assert code == 1 and "plug-in missing_pkg:Nothing cannot be loaded here" in err
