"""The quality gate: tolerances from seed variance, directions, and `suite check` end to end
(passes on the committed smoke reference, also with another CPU kernel, fails on a degraded
explainer naming cell and metric, explains the reference's own models)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import main
from suite.cli.common import EXIT_CHECK_FAILED
from suite.execution import check as gate

REFERENCE = Path(__file__).resolve().parents[2] / "suite" / "presets" / "checks" / "smoke.json"


def _frame(rows):
    base = {"dataset": "d", "model": "m", "training": "standard", "status": "done", "error": ""}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_tolerance_is_sigmas_times_seed_std_with_a_floor():
    frame = _frame([{"explainer": "e", "seed": s, "edge_auc": v, "unfaithfulness": u}
                    for s, v, u in [(0, 0.80, 0.1), (1, 0.90, 0.1), (2, 0.85, 0.1)]])
    ref = gate.reference_from_frame(frame, {"name": "x"}, sigmas=3.0, min_tolerance=0.02)
    auc = ref.scores["d/m/standard/e"]["edge_auc"]
    assert auc.mean == pytest.approx(0.85) and auc.std == pytest.approx(0.05)
    assert auc.tolerance == pytest.approx(0.15) and auc.n == 3 and auc.higher_is_better
    unf = ref.scores["d/m/standard/e"]["unfaithfulness"]
    assert unf.tolerance == pytest.approx(0.02) and not unf.higher_is_better  # std 0: the floor
    assert ref.seeds == [0, 1, 2]
    # round trip through JSON
    assert gate.Reference.from_json(ref.to_json()).scores == ref.scores


def test_compare_respects_direction_and_tolerance():
    ref = gate.reference_from_frame(
        _frame([{"explainer": "e", "seed": s, "edge_auc": 0.9, "unfaithfulness": 0.2}
                for s in (0, 1)]), {}, min_tolerance=0.05)
    ok = gate.compare(_frame([{"explainer": "e", "seed": 0, "edge_auc": 0.86,
                               "unfaithfulness": 0.24}]), ref)
    assert ok.passed and len(ok.findings) == 2
    worse = gate.compare(_frame([{"explainer": "e", "seed": 0, "edge_auc": 0.99,
                                  "unfaithfulness": 0.26}]), ref)
    assert [(f.cell, f.metric) for f in worse.failures] == [("d/m/standard/e", "unfaithfulness")]
    low = gate.compare(_frame([{"explainer": "e", "seed": 0, "edge_auc": 0.84,
                                "unfaithfulness": 0.1}]), ref)
    assert [f.metric for f in low.failures] == ["edge_auc"]
    assert "d/m/standard/e edge_auc" in low.text()


def test_a_missing_cell_or_score_fails():
    ref = gate.reference_from_frame(
        _frame([{"explainer": e, "seed": s, "edge_auc": 0.9} for e in ("a", "b") for s in (0, 1)]), {})
    frame = _frame([{"explainer": "a", "seed": 0, "edge_auc": math.nan},
                    {"explainer": "b", "seed": 0, "status": "failed", "error": "boom"}])
    failed = {(f.cell, f.metric) for f in gate.compare(frame, ref).failures}
    assert failed == {("d/m/standard/a", "edge_auc"), ("d/m/standard/b", "*")}


def test_a_freshly_trained_model_below_the_reference_accuracy_fails():
    ref = gate.reference_from_frame(
        _frame([{"explainer": e, "seed": s, "model_acc_test": a}
                for e in ("a", "b") for s, a in ((0, 0.94), (1, 0.95))]), {})
    good, bad = (gate.compare_training(_frame([{"explainer": "random", "seed": 0,
                                                 "model_acc_test": a}]), ref) for a in (0.93, 0.80))
    assert [(f.cell, f.passed) for f in good] == [("d/m/standard/(trained here)", True)]
    assert [(f.metric, f.passed) for f in bad] == [("model_acc_test", False)]
    assert not gate.compare_training(_frame([{"explainer": "random", "seed": 0, "status": "failed",
                                              "model_acc_test": 0.94}]), ref)[0].passed


def test_write_reference_needs_two_seeds(tmp_path):
    from suite.core.paths import Paths
    from suite.matrix import load_matrix

    with pytest.raises(ValueError, match="at least 2"):
        gate.write_reference(load_matrix("smoke"), [0], Paths(tmp_path), tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_committed_reference_covers_the_smoke_matrix():
    ref = gate.Reference.load(REFERENCE)
    assert ref.matrix["name"] == "smoke" and len(ref.seeds) >= 2
    assert {"ba-shapes/gcn/standard/saliency", "ba-shapes/gcn/standard/gnnexplainer",
            "ba-shapes/gcn/standard/random"} <= set(ref.scores)
    assert "edge_auc" in ref.scores["ba-shapes/gcn/standard/saliency"]


def test_the_smoke_reference_ships_with_the_package_and_is_the_default():
    assert gate.shipped_references() == {"smoke": REFERENCE}
    shipped = gate.Reference.load("smoke")
    assert shipped.scores == gate.Reference.load(REFERENCE).scores
    # with the models it was written with, one per seed, loadable without unpickling code
    assert shipped.models == REFERENCE.with_suffix(".models")
    assert len(list(shipped.models.glob("*.pt"))) == len(shipped.seeds)


def test_an_unknown_reference_names_the_shipped_ones(tmp_path, capsys):
    assert main(["check", "--reference", "smok", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "shipped: smoke" in err and len(err.strip().splitlines()) == 1


def test_check_fails_on_a_degraded_explainer(tmp_path, capsys, monkeypatch):
    from suite.explainers.gradients import Saliency
    from suite.explainers.random import RandomExplainer

    # the degraded saliency returns uniform random scores
    monkeypatch.setattr(Saliency, "explain_view", RandomExplainer.explain_view)
    status = main(["check", "--reference", str(REFERENCE), "--root", str(tmp_path),
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == EXIT_CHECK_FAILED, out
    assert "FAIL ba-shapes/gcn/standard/saliency edge_auc" in out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert all("/saliency " in line for line in failing)  # the untouched explainers pass


def test_check_passes_on_this_code_under_another_cpu_kernel(tmp_path):
    """No --reference: the shipped smoke reference, as from an installed wheel. Training
    1,000 epochs ends in other weights under another SIMD kernel (torch's portable kernel
    stands in for another CPU); the check explains the shipped models and gates only the
    fresh model's accuracy, so it passes there too."""
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    result = subprocess.run([sys.executable, "-m", "suite", "check", "--root", str(tmp_path),
                             "--no-progress"], capture_output=True, text=True, env=env,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "quality check passed" in result.stdout


TINY = {"name": "tiny-check", "seeds": [0], "device": "cpu", "max_instances": 5,
        "datasets": {"ba-shapes": {"num_base": 60, "num_motifs": 12}},
        "models": {"gcn": {"hidden": 16, "num_layers": 3}},
        "trainings": {"standard": {"epochs": 300, "patience": 0, "lr": 0.01}},
        "explainers": {"random": {}, "saliency": {}}}


def test_a_written_reference_keeps_its_models_and_the_check_explains_them(tmp_path):
    from suite.core.paths import Paths
    from suite.matrix import parse_matrix

    config, paths = parse_matrix(TINY), Paths(tmp_path / "home")
    out = tmp_path / "ref" / "tiny.json"
    written = gate.write_reference(config, [0, 1], paths, out)
    assert written.models == out.with_suffix(".models")
    assert len(list(written.models.glob("*.pt"))) == 2  # one model per seed, trained afresh
    assert not (tmp_path / "home" / "results" / "cache" / "models").exists()
    reference = gate.Reference.load(out)
    report = gate.check(reference, paths)
    assert report.passed, report.text()
    assert {f.cell for f in report.findings} == {
        "ba-shapes/gcn/standard/random", "ba-shapes/gcn/standard/saliency",
        "ba-shapes/gcn/standard/(trained here)"}
    # the check's own models stay out of the reference and the user's cache
    assert len(list(written.models.glob("*.pt"))) == 2
    assert not (tmp_path / "home" / "results" / "cache" / "models").exists()

    # a reference whose models folder lacks the model: trained here, so the check fails
    for path in reference.models.iterdir():
        path.unlink()
    report = gate.check(gate.Reference.load(out), paths)
    (missing,) = [f for f in report.failures if f.metric == "*"]
    assert missing.cell == "ba-shapes/gcn/standard seed 0"
    assert "not in the reference's models" in missing.line()


def test_a_reference_is_not_written_from_a_run_without_a_finished_cell(tmp_path):
    from suite.core.paths import Paths
    from suite.matrix import parse_matrix

    untrained = {**TINY, "trainings": {"standard": {"epochs": 1, "patience": 0}}}
    with pytest.raises(ValueError, match="no finished cell.*predicts none"):
        gate.write_reference(parse_matrix(untrained), [0, 1], Paths(tmp_path),
                             tmp_path / "tiny.json")
    assert not (tmp_path / "tiny.json").exists() and not (tmp_path / "tiny.models").exists()


def test_write_reference_never_replaces_a_folder_that_holds_more_than_models(tmp_path):
    from suite.core.files import TargetError
    from suite.core.paths import Paths
    from suite.matrix import parse_matrix

    (tmp_path / "tiny.models").mkdir()
    (tmp_path / "tiny.models" / "notes.txt").write_text("mine")
    with pytest.raises(TargetError, match="holds more than trained models"):
        gate.write_reference(parse_matrix(TINY), [0, 1], Paths(tmp_path), tmp_path / "tiny.json",
                             overwrite=True)
    assert (tmp_path / "tiny.models" / "notes.txt").read_text() == "mine"
