"""The quality gate: tolerances from seed variance, directions, and `suite check` end to end
(passes on the committed smoke reference, fails on a degraded explainer naming cell and metric)."""

from __future__ import annotations

import math
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


def test_write_reference_needs_two_seeds(tmp_path):
    from suite.core.paths import Paths
    from suite.matrix import load_matrix

    with pytest.raises(ValueError, match="at least 2"):
        gate.write_reference(load_matrix("smoke"), [0], Paths(tmp_path), tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


@pytest.fixture(scope="module")
def check_root(tmp_path_factory) -> Path:
    """One root for both end-to-end checks, so the smoke model is trained once."""
    return tmp_path_factory.mktemp("check-home")


def test_committed_reference_covers_the_smoke_matrix():
    ref = gate.Reference.load(REFERENCE)
    assert ref.matrix["name"] == "smoke" and len(ref.seeds) >= 2
    assert {"ba-shapes/gcn/standard/saliency", "ba-shapes/gcn/standard/gnnexplainer",
            "ba-shapes/gcn/standard/random"} <= set(ref.scores)
    assert "edge_auc" in ref.scores["ba-shapes/gcn/standard/saliency"]


def test_the_smoke_reference_ships_with_the_package_and_is_the_default():
    assert gate.shipped_references() == {"smoke": REFERENCE}
    assert gate.Reference.load("smoke").scores == gate.Reference.load(REFERENCE).scores


def test_an_unknown_reference_names_the_shipped_ones(tmp_path, capsys):
    assert main(["check", "--reference", "smok", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "shipped: smoke" in err and len(err.strip().splitlines()) == 1


def test_check_passes_on_this_code(check_root, capsys):
    # no --reference: the shipped smoke reference, as from an installed wheel
    status = main(["check", "--root", str(check_root), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "quality check passed" in out


def test_check_fails_on_a_degraded_explainer(check_root, capsys, monkeypatch):
    from suite.explainers.gradients import Saliency
    from suite.explainers.random import RandomExplainer

    # the degraded saliency returns uniform random scores
    monkeypatch.setattr(Saliency, "explain_view", RandomExplainer.explain_view)
    status = main(["check", "--reference", str(REFERENCE), "--root", str(check_root),
                   "--no-progress"])
    out = capsys.readouterr().out
    assert status == EXIT_CHECK_FAILED, out
    assert "FAIL ba-shapes/gcn/standard/saliency edge_auc" in out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert all("/saliency " in line for line in failing)  # the untouched explainers pass
