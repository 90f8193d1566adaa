"""``suite diff``: two stores compared exactly; a moved score or a missing cell is named."""

from __future__ import annotations

import shutil
import sqlite3

from suite.cli import main
from suite.store.database import ResultsStore
from suite.store.diff import diff_stores
from tests.board import make_cells_frame
from tests.cli.test_cli import _record


def _store(path):
    store = ResultsStore(path)
    _record(store, make_cells_frame())
    store.close()
    return path


def test_a_copy_is_identical_and_a_moved_score_is_named(tmp_path, capsys):
    a = _store(tmp_path / "a.sqlite")
    b = tmp_path / "b.sqlite"
    shutil.copy(a, b)
    same = diff_stores(a, b)
    assert same.identical and same.cells > 0 and same.columns > 0
    assert main(["diff", str(a), str(b)]) == 0
    with sqlite3.connect(b) as conn:
        key, value = conn.execute("SELECT cell_key, value FROM scores WHERE metric = 'edge_auc' "
                                  "AND value IS NOT NULL LIMIT 1").fetchone()
        conn.execute("UPDATE scores SET value = ? WHERE cell_key = ? AND metric = 'edge_auc'",
                     (value + 1e-12, key))
        conn.execute("DELETE FROM scores WHERE cell_key = (SELECT cell_key FROM cells "
                     "WHERE cell_key != ? AND status = 'done' LIMIT 1)", (key,))
    moved = diff_stores(a, b)
    assert not moved.identical
    assert any(column == "edge_auc" and y == value + 1e-12 for _, column, _x, y in moved.scores)
    capsys.readouterr()
    assert main(["diff", str(a), str(b)]) == 1
    assert "edge_auc" in capsys.readouterr().out


def test_timings_do_not_count_and_a_missing_store_is_one_line(tmp_path, capsys):
    a = _store(tmp_path / "a.sqlite")
    b = tmp_path / "b.sqlite"
    shutil.copy(a, b)
    with sqlite3.connect(b) as conn:
        conn.execute("UPDATE scores SET value = value * 2 WHERE metric = 'explanations_per_s'")
    assert diff_stores(a, b).identical
    assert main(["diff", str(a), str(tmp_path / "none.sqlite")]) == 2
    assert "no results store at" in capsys.readouterr().err
