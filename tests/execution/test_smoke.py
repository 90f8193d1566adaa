"""The `smoke` matrix end to end through the CLI: train, explain, score, store, leaderboard."""

from __future__ import annotations

import sqlite3

import pandas as pd

from suite.cli import main
from suite.store.database import ResultsStore


def test_smoke_matrix_end_to_end(tmp_path, capsys):
    root = tmp_path / "home"
    assert main(["run", "--matrix", "smoke", "--root", str(root), "--no-progress"]) == 0
    store_path = root / "results" / "store.sqlite"
    store = ResultsStore(store_path)
    try:
        frame = store.cells_frame()
    finally:
        store.close()
    assert set(frame["status"]) == {"done"}
    assert {"random", "saliency", "gnnexplainer"} <= set(frame["explainer"])
    by_explainer = frame.set_index("explainer")
    for column in ("edge_auc", "fid_plus_acc", "characterization", "explanations_per_s",
                   "model_acc_test"):
        assert by_explainer[column].notna().all(), column
    # ground truth is informative: the gradient explainer beats the random baseline
    assert by_explainer.loc["saliency", "edge_auc"] > by_explainer.loc["random", "edge_auc"] + 0.2
    assert 0.4 < by_explainer.loc["random", "edge_auc"] < 0.6
    board = root / "results" / "leaderboard"
    markdown = (board / "leaderboard.md").read_text()
    assert "ba-shapes" in markdown and "gnnexplainer" in markdown
    assert (board / "leaderboard.html").stat().st_size > 0
    assert (board / "auc_per_explainer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a rerun resumes: nothing is recomputed and the store is unchanged
    with sqlite3.connect(store_path) as con:
        before = pd.read_sql("select * from scores order by cell_key, metric", con)
    capsys.readouterr()
    assert main(["run", "--matrix", "smoke", "--root", str(root), "--no-progress",
                 "--no-leaderboard"]) == 0
    assert "3 already in the store" in capsys.readouterr().out
    with sqlite3.connect(store_path) as con:
        after = pd.read_sql("select * from scores order by cell_key, metric", con)
    pd.testing.assert_frame_equal(before, after)
