"""suite merge (duplicates by config hash, schema versions), suite export, submissions."""

from __future__ import annotations

import importlib.util
import math
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import main
from suite.matrix import Cell, CellOutcome, CellStatus, MatrixConfig
from suite.store.database import ResultsStore, read_schema_version
from suite.store.submissions import SubmissionError, read_submission

needs_pyarrow = pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                                   reason='pyarrow is not installed (pip install ".[parquet]")')


def _cell(explainer: str, seed: int = 0) -> Cell:
    return Cell(dataset="ba-shapes", dataset_params={}, model="gcn", model_hparams={"hidden": 8},
                training="standard", training_config={}, explainer=explainer,
                explainer_hparams={}, seed=seed, max_instances=5, device="cpu",
                accuracy_floor=0.8, metric_options={})


def _outcome(cell: Cell, status: str = "done", auc: float = 0.7, finished: str = "2026-01-01T00:00:00+00:00"):
    scores = {"edge_auc": auc, "fid_plus_acc": 0.5, "explain_seconds": 0.1} if status == "done" else {}
    return CellOutcome(cell=cell, status=CellStatus(status), scores=scores,
                       error="" if status == "done" else "RuntimeError: boom",
                       n_instances=5, dataset_family="synthetic", task="node",
                       explainer_source="suite", started_at=finished, finished_at=finished,
                       seconds=1.0)


def _store(path: Path, outcomes) -> Path:
    matrix = MatrixConfig(name="m", datasets={"ba-shapes": {}}, models={"gcn": {}},
                          explainers={"random": {}})
    with ResultsStore(path) as store:
        run = store.start_run(matrix, {"device": "cpu", "git_commit": path.stem,
                                       "packages": {"torch": "2.13.0"}})
        for outcome in outcomes:
            store.record_cell(run, outcome)
        store.finish_run(run)
    return path


@pytest.fixture()
def two_stores(tmp_path):
    a = _store(tmp_path / "a.sqlite", [
        _outcome(_cell("random")), _outcome(_cell("saliency"), "failed"),
        _outcome(_cell("random", seed=1), auc=0.5)])
    b = _store(tmp_path / "b.sqlite", [
        _outcome(_cell("random"), finished="2026-01-02T00:00:00+00:00"),  # same cell, same scores
        _outcome(_cell("saliency"), auc=0.9),  # the failed cell, done on the other machine
        _outcome(_cell("gnnexplainer"), auc=0.8)])
    return a, b


def test_merge_keeps_each_cell_once_preferring_done_then_latest(two_stores, tmp_path, capsys):
    a, b = two_stores
    out = tmp_path / "merged.sqlite"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 cells, 2 runs; 2 duplicate cell(s)" in text
    assert "1 duplicate(s) disagree" in text and "ba-shapes/gcn/saliency/seed0" in text
    with ResultsStore(out) as store:
        frame = store.cells_frame().set_index(["explainer", "seed"])
        runs = store.runs_frame()
    assert len(frame) == 4 and sorted(runs["git_commit"]) == ["a", "b"]
    assert frame.loc[("saliency", 0), "status"] == "done"
    assert frame.loc[("saliency", 0), "edge_auc"] == 0.9
    assert frame.loc[("random", 0), "finished_at"].startswith("2026-01-02")  # the latest copy
    assert frame.loc[("random", 1), "edge_auc"] == 0.5
    # the cell keys are the inputs' keys (config hashes), and merging again changes nothing
    keys = set(frame["cell_key"])
    assert keys == {_cell(e, s).key for e, s in [("random", 0), ("saliency", 0), ("random", 1),
                                                  ("gnnexplainer", 0)]}
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 0
    with ResultsStore(out) as store:
        assert len(store.cells_frame()) == 4


def _set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def test_merge_refuses_a_newer_schema_with_the_reason(two_stores, tmp_path, capsys):
    a, b = two_stores
    _set_version(b, 7)
    out = tmp_path / "merged.sqlite"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "schema version 7 is newer than version 2" in err and str(b) in err
    assert not out.exists()  # nothing written


def test_merge_refuses_an_older_schema_without_migration(two_stores, tmp_path, capsys):
    a, b = two_stores
    _set_version(b, 0)
    assert main(["merge", str(a), str(b), "--out", str(tmp_path / "m.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no migration from version 0 to 1" in err
    assert read_schema_version(b) == 0  # the input was not touched


def test_merge_upgrades_an_older_schema_on_a_copy(two_stores, tmp_path, monkeypatch, capsys):
    a, b = two_stores

    def add_note(conn):
        conn.execute("ALTER TABLE cells ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")

    monkeypatch.setattr(ResultsStore, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(ResultsStore, "MIGRATIONS", {**ResultsStore.MIGRATIONS, 2: add_note})
    out = tmp_path / "m.sqlite"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 0
    assert "schema 2 -> 3" in capsys.readouterr().out
    assert read_schema_version(a) == read_schema_version(b) == 2  # inputs untouched
    assert read_schema_version(out) == 3
    with sqlite3.connect(out) as con:
        assert {r[0] for r in con.execute("SELECT note FROM cells")} == {"migrated"}
        assert con.execute("SELECT count(*) FROM cells").fetchone()[0] == 4


def test_merge_never_splices_a_column_name_read_from_a_store_into_sql(two_stores, tmp_path,
                                                                      capsys):
    """A store whose runs table carries a crafted column (its name an SQL fragment) is
    refused in one line; the merged store is not written and no statement runs."""
    a, b = two_stores
    evil = 'x" TEXT); DROP TABLE cells; --'
    with sqlite3.connect(b) as con:
        con.execute(f'ALTER TABLE runs ADD COLUMN "{evil.replace(chr(34), chr(34) * 2)}" TEXT')
    out = tmp_path / "merged.sqlite"
    assert main(["merge", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "records to import have column" in err and err.count("\n") == 1
    assert not out.exists() or "cells" in {r[0] for r in sqlite3.connect(out).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_merge_into_an_input_is_refused(two_stores, capsys):
    a, b = two_stores
    assert main(["merge", str(a), str(b), "--out", str(a)]) == 2
    assert "also an input" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["csv", pytest.param("parquet", marks=needs_pyarrow)])
def test_export_round_trips_every_cell(two_stores, tmp_path, fmt, capsys):
    a, _ = two_stores
    out = tmp_path / f"cells.{fmt}"
    assert main(["export", "--store", str(a), "--format", fmt, "--out", str(out)]) == 0
    assert "3 cells written" in capsys.readouterr().out
    back = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    with ResultsStore(a) as store:
        frame = store.cells_frame()
    assert list(back["cell_key"]) == list(frame["cell_key"])
    pd.testing.assert_series_equal(back["edge_auc"], frame["edge_auc"], check_names=False)
    assert set(back["torch_version"]) == {"2.13.0"} and back["config"].str.contains("ba-shapes").all()


@needs_pyarrow
def test_a_submission_joins_the_board_marked_as_submitted(two_stores, tmp_path, capsys):
    a, b = two_stores
    sub = tmp_path / "submission.parquet"
    assert main(["export", "--store", str(b), "--format", "parquet", "--explainer",
                 "gnnexplainer", "--plugin-ref", "my-pkg==1.0 my_pkg:Mine", "--out", str(sub)]) == 0
    rows = read_submission(sub)
    assert list(rows["explainer"]) == ["gnnexplainer (submitted)"]
    assert set(rows["explainer_source"]) == {"external"} and set(rows["origin"]) == {sub.name}
    assert rows["cell_key"].str.startswith("external:").all()
    board = tmp_path / "board"
    assert main(["leaderboard", "--store", str(a), "--include", str(sub), "--out", str(board)]) == 0
    md = (board / "leaderboard.md").read_text()
    assert "gnnexplainer (submitted)" in md and "| external |" in md
    html = (board / "leaderboard.html").read_text()
    assert re.search(r'class="[^"]*\bexternal\b', html) and "my-pkg==1.0 my_pkg:Mine" in html


@needs_pyarrow
def test_a_file_without_the_submission_columns_is_refused(two_stores, tmp_path, capsys):
    a, _ = two_stores
    plain = tmp_path / "plain.parquet"
    assert main(["export", "--store", str(a), "--format", "parquet", "--out", str(plain)]) == 0
    with pytest.raises(SubmissionError, match="missing column\\(s\\) plugin"):
        read_submission(plain)
    assert main(["leaderboard", "--store", str(a), "--include", str(plain),
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "missing column(s) plugin" in err
    # the hint names the export flag that exists
    flag = re.search(r"suite export --format parquet (--[a-z-]+)", err).group(1)
    assert main(["export", "--help"]) == 0
    assert flag in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["csv", pytest.param("parquet", marks=needs_pyarrow)])
def test_export_never_overwrites_the_store_it_reads_or_another_store(two_stores, fmt, capsys):
    a, b = two_stores
    before = a.read_bytes(), b.read_bytes()
    assert main(["export", "--store", str(a), "--format", fmt, "--out", str(a)]) == 2
    assert "is the file this command reads" in capsys.readouterr().err
    assert main(["export", "--store", str(a), "--format", fmt, "--out", str(b)]) == 2
    assert "is a results store; refusing to overwrite it" in capsys.readouterr().err
    assert (a.read_bytes(), b.read_bytes()) == before


@pytest.mark.parametrize("column, value, why", [
    ("edge_auc", math.inf, "edge_auc inf is not a number in [0, 1]"),
    ("edge_auc", 7.5, "edge_auc 7.5 is not a number in [0, 1]"),
    ("fid_plus_acc", -0.2, "fid_plus_acc -0.2 is not a number in [0, 1]"),
    ("edge_auc", "high", "edge_auc 'high' is not a number"),
    ("status", "champion", "status 'champion' is not one of done, failed, skipped"),
    ("seed", "zero", "seed 'zero' is not an integer in [0, 2^63)"),
    ("seed", 2.5, "seed 2.5 is not an integer"),
    ("seed", 2 ** 64, "is not an integer in [0, 2^63)"),
])
def test_a_submission_with_an_invalid_row_is_refused_naming_the_row(
        two_stores, tmp_path, capsys, column, value, why):
    _, b = two_stores
    good = tmp_path / "good.csv"
    assert main(["export", "--store", str(b), "--format", "csv", "--explainer", "gnnexplainer",
                 "--plugin-ref", "my-pkg==1.0 my_pkg:Mine", "--out", str(good)]) == 0
    frame = pd.read_csv(good)
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(SubmissionError, match="row 1 .*" + re.escape(why)):
        read_submission(bad)
    assert main(["leaderboard", "--store", str(b), "--include", str(bad),
                 "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and why in err
    assert not (tmp_path / "board").exists()
