"""The results store: runs, cells and scores in one SQLite file.

Tables (schema version in ``meta``):

- ``runs``: one row per ``suite run`` (status running/finished/interrupted, the
  matrix as JSON, the environment record as JSON, suite version, git commit,
  device and device name).
- ``cells``: one row per cell key (the latest outcome of that cell): names,
  registry metadata, seed, device, the cell's full config as JSON, status
  done/failed/skipped, the error or skip reason, explained-instance count,
  timestamps and wall time (s).
- ``scores``: ``(cell_key, metric, value)``, NaN stored as NULL.
- ``instances`` (schema 2): one row per done cell, its per-instance records
  (``suite.core.records.InstanceRecords``, plain arrays, never pickle).

Every cell row carries the ``protocol_version`` it was scored under (schema 1 stores
read as protocol 1).

Each finished cell is written in one transaction (:meth:`ResultsStore.record_cell`)
and the database runs in write-ahead-log mode, so a process killed at any point
leaves every finished cell and nothing half-written. Opening a store written by
an older schema upgrades it through :attr:`ResultsStore.MIGRATIONS`; a newer
schema is refused with both versions named.
"""

from __future__ import annotations

import contextlib
import enum
import json
import math
import os
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

import pandas as pd

from suite.core.records import InstanceRecords
from suite.core.version import __version__
from suite.matrix import CellOutcome, CellStatus, MatrixConfig

#: The schema this code writes (2: protocol version per cell, per-instance records).
SCHEMA_VERSION = 2

#: ``migration(conn)`` upgrades an open store from version ``v`` to ``v + 1`` (in a transaction).
Migration = Callable[[sqlite3.Connection], None]

_BASE_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    matrix_name TEXT NOT NULL,
    matrix_json TEXT NOT NULL,
    environment_json TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    git_commit TEXT NOT NULL,
    device TEXT NOT NULL,
    device_name TEXT NOT NULL
);
CREATE TABLE cells (
    cell_key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    dataset TEXT NOT NULL,
    dataset_family TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    training TEXT NOT NULL,
    explainer TEXT NOT NULL,
    explainer_source TEXT NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    config_json TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL,
    n_instances INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    seconds REAL NOT NULL
);
CREATE TABLE scores (
    cell_key TEXT NOT NULL REFERENCES cells(cell_key) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell_key, metric)
);
CREATE INDEX cells_by_run ON cells(run_id);
"""


def _to_schema_2(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the protocol version of each cell (old rows: 1) and the instances table."""
    conn.execute("ALTER TABLE cells ADD COLUMN protocol_version INTEGER NOT NULL DEFAULT 1")
    conn.execute("CREATE TABLE instances (cell_key TEXT PRIMARY KEY REFERENCES cells(cell_key) "
                 "ON DELETE CASCADE, records BLOB NOT NULL)")

#: Leases of cells to the runs computing them (created on first use, outside the schema
#: version: see ``ResultsStore.claim_cells``).
_LEASES_TABLE = ("CREATE TABLE IF NOT EXISTS leases (cell_key TEXT PRIMARY KEY, "
                 "run_id TEXT NOT NULL, claimed_at TEXT NOT NULL)")

#: Columns of ``cells_frame`` taken from the cells table, in order.
CELL_COLUMNS = ("cell_key", "run_id", "dataset", "dataset_family", "task", "model", "training",
                "explainer", "explainer_source", "seed", "device", "config", "status", "error",
                "n_instances", "started_at", "finished_at", "seconds", "protocol_version")
#: Columns of ``cells_frame`` taken from the cell's run (``<package>_version`` columns follow).
RUN_COLUMNS = ("suite_version", "git_commit", "git_dirty", "device_name", "python")


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"


class StoreVersionError(RuntimeError):
    """The store's schema version cannot be read by this code (newer, or no migration path)."""


def read_schema_version(path: str | os.PathLike) -> int:
    """The schema version of the store at ``path``, read without opening it for writing.

    Raises ``StoreVersionError`` when the file is not a results store.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreVersionError(f"no results store at {path}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise StoreVersionError(f"{path} is not a results store ({exc})") from None
    if row is None:
        raise StoreVersionError(f"{path} is not a results store (no schema version)")
    return int(row[0])


def _quoted(name: str) -> str:
    """``name`` as an SQL identifier (double-quoted, inner quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds (``2024-05-01T12:00:00+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _version_columns(environment: Mapping[str, Any]) -> dict[str, Any]:
    packages = environment.get("packages") or {}
    return {f"{name}_version": version for name, version in packages.items()}


class ResultsStore:
    """A SQLite results store at ``path`` (created with its parent folder when missing).

    Use as a context manager or call :meth:`close`. Not shared across threads.
    """

    #: The schema version this class writes.
    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION
    #: ``{v: migration from v to v + 1}``.
    MIGRATIONS: ClassVar[Mapping[int, Migration]] = {1: _to_schema_2}

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open and commit transactions explicitly
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._open_schema()
        except BaseException:
            self._conn.close()
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: committed on success, rolled back on any exception (Ctrl-C too)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ schema

    @property
    def schema_version(self) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {r[0] for r in rows}

    def _open_schema(self) -> None:
        with self._transaction() as conn:
            tables = self._tables()
            if not tables:
                for statement in _BASE_SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("schema_version", "1"), ("created_by", __version__),
                                  ("created_at", utc_now())])
            elif "meta" not in tables:
                raise StoreVersionError(
                    f"{self.path} is not a results store (it has tables {sorted(tables)} but no "
                    "meta table); give another --store path")
            version = self.schema_version
            if version > self.SCHEMA_VERSION:
                raise StoreVersionError(
                    f"results store {self.path} has schema version {version}, newer than "
                    f"version {self.SCHEMA_VERSION} that suite {__version__} reads; upgrade the "
                    "suite or give another --store path")
            for old in range(version, self.SCHEMA_VERSION):
                migration = self.MIGRATIONS.get(old)
                if migration is None:
                    raise StoreVersionError(
                        f"results store {self.path} has schema version {version} and no migration "
                        f"from version {old} to {old + 1} exists (this suite writes version "
                        f"{self.SCHEMA_VERSION})")
                migration(conn)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(old + 1),))

    # ------------------------------------------------------------------ runs

    def start_run(self, matrix: MatrixConfig, environment: Mapping[str, Any]) -> str:
        """Record a new run (status running) and return its id."""
        run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, started_at, finished_at, status, matrix_name, "
                "matrix_json, environment_json, suite_version, git_commit, device, device_name) "
                "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, utc_now(), RunStatus.RUNNING.value, matrix.name,
                 json.dumps(matrix.to_dict(), sort_keys=True, default=str),
                 json.dumps(dict(environment), sort_keys=True, default=str),
                 str(environment.get("suite_version", __version__)),
                 str(environment.get("git_commit", "unknown")),
                 str(environment.get("device", matrix.device)),
                 str(environment.get("device_name", "unknown"))))
        return run_id

    def close_stale_runs(self, hostname: str, alive: Callable[[int], bool]) -> list[str]:
        """Mark interrupted every run still "running" that was started on ``hostname`` by a
        process ``alive(pid)`` says is gone (killed, or its machine restarted); returns
        their ids. Runs of other machines, or without a recorded pid, are left as they are."""
        stale = []
        for run_id, text in self._conn.execute(
                "SELECT run_id, environment_json FROM runs WHERE status = ?",
                (RunStatus.RUNNING.value,)).fetchall():
            try:
                environment = json.loads(text)
                pid = int(environment.get("pid", 0))
            except (TypeError, ValueError, AttributeError):
                continue
            if environment.get("hostname") == hostname and pid > 0 and not alive(pid):
                stale.append(run_id)
        for run_id in stale:
            self.finish_run(run_id, RunStatus.INTERRUPTED)
        return stale

    # ------------------------------------------------------------------ leases

    def claim_cells(self, run_id: str, keys: list[str]) -> tuple[list[str], dict[str, str]]:
        """Lease the cells ``keys`` to run ``run_id``, so that two runs on one store never
        compute a cell twice. Returns the keys now leased to it (in order) and, for the
        others, the running run that holds them. A lease whose run is no longer running
        (finished, interrupted, or marked interrupted by :meth:`close_stale_runs`) has
        expired and is taken over. The ``leases`` table is created on first use, so stores
        of every schema version take leases and older readers ignore them."""
        claimed: list[str] = []
        busy: dict[str, str] = {}
        with self._transaction() as conn:
            conn.execute(_LEASES_TABLE)
            running = {r for (r,) in conn.execute("SELECT run_id FROM runs WHERE status = ?",
                                                  (RunStatus.RUNNING.value,))}
            held = dict(conn.execute("SELECT cell_key, run_id FROM leases").fetchall())
            for key in keys:
                holder = held.get(key)
                if holder is not None and holder != run_id and holder in running:
                    busy[key] = holder
                else:
                    claimed.append(key)
            now = utc_now()
            conn.executemany("INSERT OR REPLACE INTO leases (cell_key, run_id, claimed_at) "
                             "VALUES (?, ?, ?)", [(key, run_id, now) for key in claimed])
        return claimed, busy

    def finish_run(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Close run ``run_id`` with ``status`` (finished or interrupted), releasing its leases."""
        status = RunStatus(status)
        with self._transaction() as conn:
            if "leases" in self._tables():
                conn.execute("DELETE FROM leases WHERE run_id = ?", (run_id,))
            updated = conn.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                                   (status.value, utc_now(), run_id)).rowcount
        if not updated:
            raise KeyError(f"no run {run_id!r} in {self.path}")

    def runs_frame(self) -> pd.DataFrame:
        """One row per run, oldest first (ties within a second: insertion order; matrix and environment as JSON text)."""
        return pd.read_sql_query("SELECT * FROM runs ORDER BY started_at, rowid", self._conn)

    # ------------------------------------------------------------------ cells

    def record_cell(self, run_id: str, outcome: CellOutcome) -> None:
        """Write ``outcome`` (replacing any earlier row of that cell) in one transaction."""
        cell = outcome.cell
        reserved = set(CELL_COLUMNS) | set(RUN_COLUMNS)
        clash = sorted(m for m in outcome.scores if m in reserved or m.endswith("_version"))
        if clash:
            raise ValueError(f"score names {clash} clash with store columns")
        key = cell.key
        row = (key, run_id, cell.dataset, outcome.dataset_family, outcome.task, cell.model,
               cell.training, cell.explainer, outcome.explainer_source, cell.seed, cell.device,
               json.dumps(cell.to_dict(), sort_keys=True, default=str),
               CellStatus(outcome.status).value, outcome.error, int(outcome.n_instances),
               outcome.started_at, outcome.finished_at, float(outcome.seconds),
               int(outcome.protocol))
        scores = [(key, metric, None if value is None or math.isnan(value) else float(value))
                  for metric, value in sorted(outcome.scores.items())]
        blob = None if outcome.instances is None else outcome.instances.to_blob()
        with self._transaction() as conn:
            conn.execute("DELETE FROM scores WHERE cell_key = ?", (key,))
            conn.execute("DELETE FROM instances WHERE cell_key = ?", (key,))
            conn.execute(
                "INSERT OR REPLACE INTO cells (cell_key, run_id, dataset, dataset_family, task, "
                "model, training, explainer, explainer_source, seed, device, config_json, status, "
                "error, n_instances, started_at, finished_at, seconds, protocol_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            conn.executemany("INSERT INTO scores (cell_key, metric, value) VALUES (?, ?, ?)",
                             scores)
            if blob is not None:
                conn.execute("INSERT INTO instances (cell_key, records) VALUES (?, ?)", (key, blob))

    def done_keys(self) -> set[str]:
        """Keys of cells a rerun skips: done and skipped (failed cells are retried)."""
        rows = self._conn.execute("SELECT cell_key FROM cells WHERE status IN (?, ?)",
                                  (CellStatus.DONE.value, CellStatus.SKIPPED.value))
        return {r[0] for r in rows}

    def cells_frame(self) -> pd.DataFrame:
        """One row per cell: the cells columns, run environment columns, one column per metric.

        Columns: :data:`CELL_COLUMNS` (``config`` is the cell's JSON),
        :data:`RUN_COLUMNS`, ``<package>_version`` for each recorded package, then
        the score metrics in name order (NaN where a cell has no such score).
        """
        cells = pd.read_sql_query(
            "SELECT c.cell_key, c.run_id, c.dataset, c.dataset_family, c.task, c.model, "
            "c.training, c.explainer, c.explainer_source, c.seed, c.device, "
            "c.config_json AS config, c.status, c.error, c.n_instances, c.started_at, "
            "c.finished_at, c.seconds, c.protocol_version, r.environment_json "
            "FROM cells c LEFT JOIN runs r ON r.run_id = c.run_id ORDER BY c.rowid", self._conn)
        environments = [json.loads(text) if text else {} for text in cells.pop("environment_json")]
        run_info = pd.DataFrame(
            [{**{c: env.get(c) for c in RUN_COLUMNS}, **_version_columns(env)}
             for env in environments],
            columns=None if environments else list(RUN_COLUMNS), index=cells.index)
        scores = pd.read_sql_query("SELECT cell_key, metric, value FROM scores", self._conn)
        wide = scores.pivot(index="cell_key", columns="metric", values="value")
        wide = wide.reindex(columns=sorted(wide.columns)).astype(float)
        wide.columns.name = None
        out = pd.concat([cells, run_info], axis=1)
        return out.merge(wide, how="left", left_on="cell_key", right_index=True)

    def instance_records(self, keys: set[str] | None = None) -> dict[str, InstanceRecords]:
        """Cell key -> per-instance records (of ``keys`` only, when given); a malformed
        record is left out (its cell is then shown, never ranked)."""
        out: dict[str, InstanceRecords] = {}
        for key, blob in self._conn.execute("SELECT cell_key, records FROM instances"):
            if keys is not None and key not in keys:
                continue
            try:
                out[key] = InstanceRecords.from_blob(blob)
            except ValueError:
                continue
        return out

    # ------------------------------------------------------------------ raw records (merge)

    def run_records(self) -> list[dict[str, Any]]:
        """Every row of the runs table as a dict (oldest first)."""
        cursor = self._conn.execute("SELECT * FROM runs ORDER BY started_at, rowid")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor]

    def cell_records(self) -> list[dict[str, Any]]:
        """Every row of the cells table as a dict, plus ``scores``: metric -> value (None = NaN)."""
        cursor = self._conn.execute("SELECT * FROM cells ORDER BY rowid")
        names = [d[0] for d in cursor.description]
        cells = [dict(zip(names, row)) for row in cursor]
        scores: dict[str, dict[str, Any]] = {}
        for key, metric, value in self._conn.execute("SELECT cell_key, metric, value FROM scores"):
            scores.setdefault(key, {})[metric] = value
        blobs = dict(self._conn.execute("SELECT cell_key, records FROM instances"))
        for cell in cells:
            cell["scores"] = scores.get(cell["cell_key"], {})
            cell["instances"] = blobs.get(cell["cell_key"])
        return cells

    def import_records(self, runs: list[Mapping[str, Any]], cells: list[Mapping[str, Any]]) -> None:
        """Add ``runs`` (kept when the id exists) and ``cells`` (replacing rows of the same key).

        Records are those of :meth:`run_records` / :meth:`cell_records` of a store
        of this schema version; written in one transaction.
        """
        with self._transaction() as conn:
            for run in runs:
                names = self._known_columns("runs", list(run))
                conn.execute(f"INSERT OR IGNORE INTO runs ({', '.join(map(_quoted, names))}) "
                             f"VALUES ({', '.join('?' for _ in names)})", [run[n] for n in names])
            for cell in cells:
                names = self._known_columns("cells", [n for n in cell
                                                      if n not in ("scores", "instances")])
                conn.execute("DELETE FROM scores WHERE cell_key = ?", (cell["cell_key"],))
                conn.execute("DELETE FROM instances WHERE cell_key = ?", (cell["cell_key"],))
                conn.execute(f"INSERT OR REPLACE INTO cells ({', '.join(map(_quoted, names))}) "
                             f"VALUES ({', '.join('?' for _ in names)})", [cell[n] for n in names])
                conn.executemany("INSERT INTO scores (cell_key, metric, value) VALUES (?, ?, ?)",
                                 [(cell["cell_key"], m, v) for m, v in sorted(cell["scores"].items())])
                if cell.get("instances") is not None:
                    conn.execute("INSERT INTO instances (cell_key, records) VALUES (?, ?)",
                                 (cell["cell_key"], cell["instances"]))

    def _known_columns(self, table: str, names: list[str]) -> list[str]:
        """``names`` when each is a column of this store's ``table``; the records come from
        another file, so a name that is not (whatever it holds) is refused, never spliced
        into SQL."""
        known = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise StoreVersionError(f"records to import have column {str(unknown[0])[:60]!r}, "
                                    f"which table {table} of {self.path} does not have")
        return names

    def export_csv(self, path: str | os.PathLike) -> Path:
        """Write :meth:`cells_frame` to ``path`` as CSV (parent folders created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.cells_frame().to_csv(path, index=False)
        return path
