"""``python -m suite_studies.adversarial.robustness_check``: rows per model, resume, tables, errors."""

from __future__ import annotations

import json
import statistics

import pytest
from suite_studies.adversarial import robustness_check
from suite_studies.adversarial.report import t_critical

from suite.matrix import load_matrix

TINY = """
name: tiny-adv
seeds: [0]
device: cpu
datasets:
  tree-cycles: {}
models:
  gin: {hidden: 8, num_layers: 2}
trainings:
  standard: {lr: 0.01, epochs: 3, patience: 0}
  adv-features: {lr: 0.01, epochs: 3, patience: 0, steps: 2, epsilon: 0.1}
  adv-structure: {lr: 0.01, epochs: 3, patience: 0, steps: 2, samples: 2, budget_share: 0.05}
explainers:
  random: {}
"""


@pytest.fixture()
def tiny_matrix(tmp_path, monkeypatch):
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_run_writes_one_row_per_mode_and_a_rerun_resumes(tiny_matrix, tmp_path):
    out = tmp_path / "rows.jsonl"
    argv = ["run", "--matrix", str(tiny_matrix), "--pairs", "tree-cycles/gin", "--seeds", "0", "--out", str(out)]
    assert robustness_check.main(argv) == 0
    rows = robustness_check.read_rows(out)
    assert [r["training"] for r in rows] == ["standard", "adv-features", "adv-structure"]
    for row in rows:
        for split in ("val", "test"):
            for key in ("clean", "adv-features", "adv-features_strong", "adv-structure", "adv-structure_strong"):
                assert 0.0 <= row[f"{key}_{split}"] <= 1.0
    before = out.read_text()
    assert robustness_check.main(argv) == 0  # everything done: nothing trained or appended
    assert out.read_text() == before


def test_tables_give_seed_paired_differences(tmp_path):
    clean = {"standard": [0.8, 0.7, 0.9], "adv-features": [0.75, 0.72, 0.80]}
    rows = [dict(dataset="d", model="m", seed=s, training=t, train_s=1.0, best_epoch=0,
                 clean_test=clean[t][s], **{"adv-features_test": 0.5})
            for t in clean for s in range(3)]
    text = robustness_check.tables(rows, "test")
    diffs = [a - b for a, b in zip(clean["adv-features"], clean["standard"])]
    mean = statistics.mean(diffs)
    half = t_critical(2, 0.95) * statistics.stdev(diffs) / 3 ** 0.5
    assert f"{mean:+.3f} [{mean - half:+.3f}, {mean + half:+.3f}]" in text
    assert "| d | m | standard | 3 | 0.800 +- 0.100 |" in text


def test_table_pools_the_rows_of_several_files_and_refuses_shared_rows(tmp_path, capsys):
    clean = {"standard": [0.8, 0.7, 0.9, 0.6], "adv-features": [0.75, 0.72, 0.80, 0.7]}
    rows = [dict(dataset="d", model="m", seed=s, training=t, train_s=1.0, best_epoch=0,
                 clean_test=clean[t][s]) for t in clean for s in range(4)]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows if r["seed"] < 2))
    second.write_text("".join(json.dumps(r) + "\n" for r in rows if r["seed"] >= 2))
    assert robustness_check.main(["table", str(first), str(second)]) == 0
    assert capsys.readouterr().out == robustness_check.tables(rows, "test")
    with pytest.raises(SystemExit):
        robustness_check.main(["table", str(first), str(first)])
    assert "share" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        robustness_check.main(["table", str(first), str(tmp_path / "typo.jsonl")])
    assert "no such file" in capsys.readouterr().err


def test_train_limits_the_trained_modes_but_not_the_attacks(tiny_matrix, tmp_path):
    out = tmp_path / "rows.jsonl"
    argv = ["run", "--matrix", str(tiny_matrix), "--pairs", "tree-cycles/gin", "--seeds", "0",
            "--out", str(out), "--train", "adv-structure"]
    assert robustness_check.main(argv) == 0
    rows = robustness_check.read_rows(out)
    assert [r["training"] for r in rows] == ["standard", "adv-structure"]
    for row in rows:  # both attacks still measured on every model: the columns match
        assert {"adv-features_test", "adv-structure_test"} <= set(row)
    with pytest.raises(ValueError, match="'adv-feature' not among .*adv-features, adv-structure"):
        next(robustness_check.measure(load_matrix(tiny_matrix), [("tree-cycles", "gin")], [0],
                                      train=["adv-feature"]))


def test_unknown_pair_names_the_matrix_entries(tiny_matrix):
    with pytest.raises(ValueError, match="ba-shapes/gin.*datasets: tree-cycles"):
        next(robustness_check.measure(load_matrix(tiny_matrix), [("ba-shapes", "gin")], [0]))
    with pytest.raises(SystemExit):
        robustness_check.main(["run", "--pairs", "tree-cycles", "--out", "x.jsonl"])
