"""suite compare: the side-by-side, seed-paired differences and the seed-noise verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from suite.board.compare import build_comparison
from suite.cli import main

TOY = str(Path(__file__).resolve().parents[1] / "plugin_pkg" / "suite_toy_plugin" / "__init__.py")

A = [0.90, 0.92, 0.91]   # compared
B = [0.80, 0.85, 0.83]   # best other
C = [0.50, 0.52, 0.49]   # worse
D = [0.93, 0.80, 0.96]   # noisy, for a second model


def _frame() -> pd.DataFrame:
    rows = []
    for model, table in (("gcn", {"a": A, "b": B, "c": C}), ("gin", {"a": A, "d": D})):
        for explainer, values in table.items():
            for seed, value in enumerate(values):
                rows.append(dict(cell_key=f"{model}-{explainer}-{seed}", dataset="ba-shapes",
                                 dataset_family="synthetic", task="node", model=model,
                                 training="standard", explainer=explainer,
                                 explainer_source="suite", seed=seed, status="done",
                                 n_instances=10, finished_at=f"2026-01-01T00:00:0{seed}",
                                 edge_auc=value))
    return pd.DataFrame(rows)


def test_differences_are_seed_paired_t_intervals_against_the_best_other():
    result = build_comparison(_frame(), ["a"], matrix="m")
    rows = result.rows.set_index("model")
    gcn = rows.loc["gcn"]
    assert gcn["reference"] == "b" and gcn["rank"] == 1 and gcn["of"] == 3
    expected = stats.ttest_rel(A, B).confidence_interval(0.95)  # an independent implementation
    diff = gcn["diff"]
    assert diff.n == 3 and diff.mean == pytest.approx(np.mean(np.subtract(A, B)))
    assert (diff.lo, diff.hi) == pytest.approx((expected.low, expected.high))
    assert diff.excludes_zero
    gin = rows.loc["gin"]
    assert gin["reference"] == "d" and not gin["diff"].excludes_zero  # within seed noise
    md = result.markdown()
    assert "| ba-shapes | gcn | standard | **a** | edge_auc |" in md and "yes, better" in md
    assert "| ba-shapes | gin | standard | **a** |" in md and "| no |" in md
    assert "### ba-shapes / gcn / standard (edge_auc)" in md and "| 3 | c | suite |" in md


def test_compare_runs_a_plugin_over_a_matrix_and_writes_the_side_by_side(tmp_path, capsys,
                                                                         plugin_registry):
    matrix = tmp_path / "tiny.yaml"
    matrix.write_text(yaml.safe_dump({
        "name": "tiny", "seeds": [0, 1], "max_instances": 5, "instances": "all",
        "accuracy_floor": 0.0,  # a 50-epoch model: the test is about the comparison
        "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8, "num_features": 4}},
        "models": {"gcn": {"hidden": 8, "num_layers": 3}},
        "trainings": {"standard": {"epochs": 50, "patience": 0}},
        "explainers": {"random": {}, "saliency": {}}}))
    assert main(["run", "--matrix", str(matrix), "--root", str(tmp_path), "--no-progress",
                 "--no-leaderboard"]) == 0
    out = tmp_path / "cmp.md"
    assert main(["compare", "--explainer", "toy-inverse-degree", "--plugin",
                 f"{TOY}:InverseDegreeExplainer", "--matrix", str(matrix), "--root",
                 str(tmp_path), "--no-progress", "--quiet", "--out", str(out)]) == 0
    assert "2 done" in capsys.readouterr().out  # two seeds of the plug-in, nothing else rerun
    md = out.read_text()
    row = next(line for line in md.splitlines() if "**toy-inverse-degree**" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:5] == ["ba-shapes", "gcn", "standard", "**toy-inverse-degree**", "edge_auc"]
    assert cells[7] in ("saliency", "random") and "[" in cells[9]  # a CI over 2 seeds
    assert cells[10] in ("yes, better", "yes, worse", "no")
    assert "| random | baseline |" in md and "| saliency | suite |" in md
