"""The SQLite results store: schema, versions, atomic cell records, frames and export."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import suite
from suite.matrix import Cell, CellOutcome, CellStatus, MatrixConfig
from suite.store.database import CELL_COLUMNS, RUN_COLUMNS, ResultsStore, StoreVersionError

ENV = {"suite_version": suite.__version__, "git_commit": "abc123", "git_dirty": False,
       "device": "cpu", "device_name": "Test CPU", "python": "3.11.0",
       "packages": {"torch": "2.13.0", "torch_geometric": "2.8.1"}}


def _matrix(name: str = "t") -> MatrixConfig:
    return MatrixConfig(name=name, datasets={"d": {}}, models={"m": {}}, explainers={"e": {}})


def _cell(explainer: str = "e", seed: int = 0) -> Cell:
    return Cell(dataset="d", dataset_params={"n": 3}, model="m", model_hparams={}, training="t",
                training_config={}, explainer=explainer, explainer_hparams={}, seed=seed,
                max_instances=10, device="cpu", accuracy_floor=0.8, metric_options={})


def _outcome(cell: Cell, status: CellStatus = CellStatus.DONE, **scores: float) -> CellOutcome:
    return CellOutcome(cell=cell, status=status, scores=scores, n_instances=4,
                       error="" if status == CellStatus.DONE else "why", dataset_family="fam",
                       task="node", explainer_source="suite", started_at="2024-01-01T00:00:00+00:00",
                       finished_at="2024-01-01T00:00:01+00:00", seconds=1.5)


def _raw(path: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_new_store_has_the_schema_at_version_2(tmp_path):
    path = tmp_path / "sub" / "store.sqlite"
    with ResultsStore(path) as store:
        assert store.schema_version == 2
    tables = {r[0] for r in _raw(path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "runs", "cells", "scores", "instances"} <= tables
    assert _raw(path, "SELECT value FROM meta WHERE key='schema_version'") == [("2",)]
    assert _raw(path, "PRAGMA journal_mode") == [("wal",)]
    cols = {r[1] for r in _raw(path, "PRAGMA table_info(cells)")}
    assert {"cell_key", "run_id", "dataset_family", "explainer_source", "config_json", "status",
            "error", "n_instances", "seconds", "protocol_version"} <= cols


def test_record_and_read_back(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run = store.start_run(_matrix("mine"), ENV)
        a, b, c = _cell("a"), _cell("b"), _cell("c")
        store.record_cell(run, _outcome(a, edge_auc=0.75, fid=float("nan")))
        store.record_cell(run, _outcome(b, CellStatus.FAILED))
        store.record_cell(run, _outcome(c, CellStatus.SKIPPED))
        store.finish_run(run)
        frame = store.cells_frame()
        runs = store.runs_frame()
        assert store.done_keys() == {a.key, c.key}  # failed cells are retried
    assert list(frame.columns[: len(CELL_COLUMNS)]) == list(CELL_COLUMNS)
    assert set(RUN_COLUMNS) | {"torch_version", "torch_geometric_version", "edge_auc",
                               "fid"} <= set(frame.columns)
    rows = frame.set_index("cell_key")
    assert rows.loc[a.key, "edge_auc"] == 0.75 and math.isnan(rows.loc[a.key, "fid"])
    assert math.isnan(rows.loc[b.key, "edge_auc"])
    assert list(rows["status"]) == ["done", "failed", "skipped"]
    assert rows.loc[b.key, "error"] == "why"
    assert Cell.from_dict(__import__("json").loads(rows.loc[a.key, "config"])) == a
    assert (rows["git_commit"] == "abc123").all() and (rows["device_name"] == "Test CPU").all()
    assert (rows["torch_version"] == "2.13.0").all() and (rows["seconds"] == 1.5).all()
    assert rows.loc[a.key, "explainer"] == "a" and rows.loc[a.key, "seed"] == 0
    assert runs.loc[0, "status"] == "finished" and runs.loc[0, "matrix_name"] == "mine"
    assert runs.loc[0, "finished_at"] is not None


def test_rerecording_a_cell_replaces_its_row_and_scores(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        first = store.start_run(_matrix(), ENV)
        cell = _cell()
        store.record_cell(first, _outcome(cell, CellStatus.FAILED, stale=1.0))
        second = store.start_run(_matrix(), ENV)
        store.record_cell(second, _outcome(cell, edge_auc=0.5))
        frame = store.cells_frame()
    assert len(frame) == 1 and frame.loc[0, "run_id"] == second
    assert frame.loc[0, "status"] == "done" and "stale" not in frame.columns


def test_a_failed_write_rolls_back_to_the_previous_record(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as store:
        run = store.start_run(_matrix(), ENV)
        cell = _cell()
        store.record_cell(run, _outcome(cell, edge_auc=0.5, fid=0.1))
        broken = _outcome(cell, edge_auc=0.9)
        broken.started_at = None  # violates NOT NULL after the old scores were deleted
        with pytest.raises(sqlite3.IntegrityError):
            store.record_cell(run, broken)
        frame = store.cells_frame()
    assert frame.loc[0, "edge_auc"] == 0.5 and frame.loc[0, "fid"] == 0.1


def test_score_names_may_not_shadow_store_columns(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run = store.start_run(_matrix(), ENV)
        with pytest.raises(ValueError, match="seconds"):
            store.record_cell(run, _outcome(_cell(), seconds=1.0))


def test_run_status_transitions_and_errors(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run = store.start_run(_matrix(), ENV)
        assert store.runs_frame().loc[0, "status"] == "running"
        store.finish_run(run, "interrupted")
        assert store.runs_frame().loc[0, "status"] == "interrupted"
        with pytest.raises(ValueError):
            store.finish_run(run, "exploded")
        with pytest.raises(KeyError, match="no run 'nope'"):
            store.finish_run("nope")


def test_empty_store_frame_has_the_base_columns(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        frame = store.cells_frame()
    assert frame.empty and set(CELL_COLUMNS) | set(RUN_COLUMNS) <= set(frame.columns)


def test_export_csv_matches_the_frame(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run = store.start_run(_matrix(), ENV)
        for seed in range(3):
            store.record_cell(run, _outcome(_cell(seed=seed), edge_auc=0.1 * seed))
        frame = store.cells_frame()
        out = store.export_csv(tmp_path / "out" / "cells.csv")
    read = pd.read_csv(out)
    assert list(read.columns) == list(frame.columns)
    assert list(read["cell_key"]) == list(frame["cell_key"])
    assert read["edge_auc"].tolist() == pytest.approx(frame["edge_auc"].tolist())


# --------------------------------------------------------------------------- versions


def _add_note_column(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE cells ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")


class StoreV1(ResultsStore):
    """The first wave's schema (no protocol version, no per-instance records)."""

    SCHEMA_VERSION = 1
    MIGRATIONS = {}


class StoreV3(ResultsStore):
    """What a future schema version looks like: version 3 adds a column."""

    SCHEMA_VERSION = 3
    MIGRATIONS = {**ResultsStore.MIGRATIONS, 2: _add_note_column}


def test_a_version_1_store_loads_as_protocol_1_without_instance_records(tmp_path):
    path = tmp_path / "old.sqlite"
    cell = _cell()
    with StoreV1(path) as store:
        run = store.start_run(_matrix(), ENV)
        conn = store._conn
        conn.execute("INSERT INTO cells (cell_key, run_id, dataset, dataset_family, task, model, "
                     "training, explainer, explainer_source, seed, device, config_json, status, "
                     "error, n_instances, started_at, finished_at, seconds) VALUES "
                     "(?, ?, 'ba-shapes', 'synthetic', 'node', 'gcn', 'standard', 'random', "
                     "'baseline', 0, 'cpu', '{}', 'done', '', 5, 't', 't', 1.0)", (cell.key, run))
        conn.execute("INSERT INTO scores VALUES (?, 'edge_auc', 0.5)", (cell.key,))
    with ResultsStore(path) as store:
        assert store.schema_version == 2
        frame = store.cells_frame()
        assert frame.loc[0, "protocol_version"] == 1 and frame.loc[0, "edge_auc"] == 0.5
        assert store.instance_records() == {}


def test_an_older_store_is_upgraded_in_place(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as store:
        run = store.start_run(_matrix(), ENV)
        store.record_cell(run, _outcome(_cell(), edge_auc=0.5))
    with StoreV3(path) as store:
        assert store.schema_version == 3
        assert store.cells_frame().loc[0, "edge_auc"] == 0.5
    assert _raw(path, "SELECT note FROM cells") == [("migrated",)]
    with StoreV3(tmp_path / "fresh.sqlite") as store:  # new stores run the migrations too
        assert store.schema_version == 3
    assert "note" in {r[1] for r in _raw(tmp_path / "fresh.sqlite", "PRAGMA table_info(cells)")}


def test_a_missing_migration_is_refused_and_leaves_the_store_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    ResultsStore(path).close()

    class StoreV4(ResultsStore):
        SCHEMA_VERSION = 4
        MIGRATIONS = {**ResultsStore.MIGRATIONS, 2: _add_note_column}  # no 3 -> 4

    with pytest.raises(StoreVersionError, match="no migration from version 3 to 4"):
        StoreV4(path)
    assert _raw(path, "SELECT value FROM meta WHERE key='schema_version'") == [("2",)]
    assert "note" not in {r[1] for r in _raw(path, "PRAGMA table_info(cells)")}


def test_a_newer_store_is_refused_naming_both_versions(tmp_path):
    path = tmp_path / "s.sqlite"
    StoreV3(path).close()
    with pytest.raises(StoreVersionError, match="schema version 3, newer than version 2"):
        ResultsStore(path)


def test_a_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE things (x)")
    with pytest.raises(StoreVersionError, match="not a results store"):
        ResultsStore(path)


def test_runs_left_running_by_a_dead_process_of_this_host_are_marked_interrupted(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        dead = store.start_run(_matrix(), {**ENV, "hostname": "here", "pid": 111})
        live = store.start_run(_matrix(), {**ENV, "hostname": "here", "pid": 222})
        other = store.start_run(_matrix(), {**ENV, "hostname": "elsewhere", "pid": 111})
        unknown = store.start_run(_matrix(), {**ENV, "hostname": "here"})  # no pid recorded
        finished = store.start_run(_matrix(), {**ENV, "hostname": "here", "pid": 111})
        store.finish_run(finished)
        assert store.close_stale_runs("here", lambda pid: pid == 222) == [dead]
        status = dict(zip(store.runs_frame()["run_id"], store.runs_frame()["status"]))
    assert status == {dead: "interrupted", live: "running", other: "running",
                      unknown: "running", finished: "finished"}


# --------------------------------------------------------------------------- kills

_WRITER = """
import sys
from suite.matrix import Cell, CellOutcome, CellStatus, MatrixConfig
from suite.store.database import ResultsStore
store = ResultsStore(sys.argv[1])
run = store.start_run(MatrixConfig(name="k", datasets={}, models={}, explainers={}), {})
print("ready", flush=True)
i = 0
while True:
    cell = Cell(dataset="d", dataset_params={}, model="m", model_hparams={}, training="t",
                training_config={}, explainer="e", explainer_hparams={}, seed=i, max_instances=1,
                device="cpu", accuracy_floor=0.0, metric_options={})
    scores = {f"metric_{j}": float(j) for j in range(25)}
    store.record_cell(run, CellOutcome(cell=cell, status=CellStatus.DONE, scores=scores,
                      started_at="s", finished_at="f"))
    i += 1
"""


def test_a_killed_writer_leaves_only_complete_cells(tmp_path):
    path = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                            text=True, cwd=Path(__file__).resolve().parents[2],
                            env={**__import__("os").environ,
                                 "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
    finally:
        proc.kill()  # SIGKILL: no cleanup, possibly mid-transaction
        proc.wait()
    with ResultsStore(path) as store:
        frame = store.cells_frame()
        counts = _raw(path, "SELECT cell_key, COUNT(*) FROM scores GROUP BY cell_key")
    assert len(frame) > 0
    assert len(counts) == len(frame) and all(n == 25 for _, n in counts)
    assert not frame.filter(like="metric_").isna().any().any()


def test_runs_frame_keeps_start_order_within_one_second(tmp_path, monkeypatch):
    """Runs started in the same second come back in the order they were started."""
    from suite.store import database as store_module

    monkeypatch.setattr(store_module, "utc_now", lambda: "2026-01-01T00:00:00+00:00")
    store = store_module.ResultsStore(tmp_path / "s.sqlite")
    try:
        ids = [store.start_run(_matrix(), {}) for _ in range(6)]
        assert store.runs_frame()["run_id"].tolist() == ids
    finally:
        store.close()


def test_a_cell_leased_to_a_running_run_is_left_to_it_and_an_expired_lease_is_taken(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        first = store.start_run(_matrix(), ENV)
        second = store.start_run(_matrix(), ENV)
        assert store.claim_cells(first, ["a", "b"]) == (["a", "b"], {})
        assert store.claim_cells(second, ["b", "c"]) == (["c"], {"b": first})
        store.finish_run(first, "interrupted")  # its leases expire with it
        assert store.claim_cells(second, ["a", "b"]) == (["a", "b"], {})
        assert store.claim_cells(second, ["a"]) == (["a"], {})  # its own lease: still its
