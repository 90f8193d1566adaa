"""`suite bench --quick`: the whole side-by-side path (ours and PyG's, AUC, floor) on tiny data."""

from __future__ import annotations

import math

from suite.cli import main
from suite.perf import bench


def test_bench_quick_writes_the_side_by_side_table(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["bench", "--quick", "--root", str(tmp_path), "--out", str(out), "--quiet"]) == 0
    table = (out / "bench.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ba-")]
    assert len(rows) == len(bench.QUICK_TASKS) * len(bench.PAIRS.names())
    assert "refused: GraphMaskExplainer needs in_channels" in table  # PyG's refuses GIN
    assert "--quick" in table


def test_rows_compute_ratios_and_overhead():
    ours = bench.Measured("ours", 10, explain_seconds=2.0, fit_seconds=3.0, auc=0.9)
    theirs = bench.Measured("theirs", 5, explain_seconds=10.0, fit_seconds=0.0, auc=0.8)
    row = bench.Row("t", "m", "p", ours, theirs, amortised=True, floor_seconds=1.0, steps=1)
    assert row.ratio == 10.0 and row.ratio_with_fit == 4.0 and row.overhead == 2.0
    refused = bench.Measured("x", 0, math.nan, math.nan, math.nan, skipped="no")
    assert math.isnan(bench.Row("t", "m", "p", ours, refused, False).ratio)


def test_bench_overhead_table_runs_ours_only(tmp_path, monkeypatch):
    ran = []
    real = bench.run_explainer

    def spy(name, *args, **kwargs):
        ran.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(bench, "run_explainer", spy)
    out = tmp_path / "out"
    assert main(["bench", "--quick", "--overhead", "--repeats", "2", "--tasks", "ba-shapes",
                 "--explainers", "gnnexplainer", "graphmask-instance", "--root", str(tmp_path),
                 "--out", str(out), "--quiet"]) == 0
    assert ran == ["gnnexplainer", "graphmask-instance"]  # no PyG run
    table = (out / "overhead.md").read_text()
    assert "fastest of 2 explain run(s)" in table and "| task |" not in table
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in table.splitlines()
            if line.startswith("| g")}
    # graphmask-instance: one step per epoch, 2 epochs (--quick) per each of the 3 layers
    assert rows["gnnexplainer"][0].strip() == "5" and rows["graphmask-instance"][0].strip() == "6"
    assert all(float(cells[1]) > 0 for cells in rows.values())


def test_bench_default_tasks(tmp_path, monkeypatch):
    """The side by side runs the two reference setups; --overhead every default-matrix
    synthetic dataset; an unknown task is a one-line error naming the known ones."""
    seen = []

    def fake_compare(tasks, pairs, paths, **kwargs):
        seen.append(list(tasks))
        return bench.BenchReport(rows=[], accuracy={}, threads=1, device="cpu", quick=False,
                                 repeats=1)

    monkeypatch.setattr(bench, "compare", fake_compare)
    monkeypatch.setattr(bench, "write_report", lambda report, out, name: out / name)
    args = ["bench", "--root", str(tmp_path), "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    assert main(args + ["--overhead"]) == 0
    assert seen == [list(bench.SIDE_BY_SIDE_TASKS), list(bench.TASKS)]
    assert {"ba-shapes", "ba-community", "tree-cycles", "tree-grid", "ba-2motifs"} <= set(bench.TASKS)
    assert main(args + ["--tasks", "ba-shapez"]) == 2
