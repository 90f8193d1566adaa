"""Helpers shared by the executor tests (Ray and processes)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pandas as pd

from suite.core.paths import Paths
from suite.execution.runner import RunSummary, run_matrix
from suite.store.database import ResultsStore
from suite.store.frame import TIMING_COLUMNS


def run_into(root: Path, store: str, config, **kwargs) -> tuple[RunSummary, pd.DataFrame,
                                                                pd.DataFrame]:
    """``run_matrix`` of ``config`` (a matrix or its name) into ``root / store`` with caches
    under ``root``; returns the summary and the store's cells and runs frames."""
    with ResultsStore(root / store) as results:
        summary = run_matrix(config, results, Paths(root), progress=False, **kwargs)
        return summary, results.cells_frame(), results.runs_frame()


def comparable_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """The float score columns of a cells frame that must not differ between executors
    (timings dropped), by cell key."""
    drop = {*TIMING_COLUMNS, "seconds", "run_id", "started_at", "finished_at"}
    numeric = [c for c in frame.columns if c not in drop and pd.api.types.is_float_dtype(frame[c])]
    return frame.set_index("cell_key")[numeric].sort_index()


def done_cells(path: Path) -> int:
    """Cells recorded done in the store at ``path``, read-only (0 while it is being created)."""
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            return con.execute("SELECT count(*) FROM cells WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created
        return 0


def signal_driver_after(command: list[str], store: Path, done: int, how: int,
                        timeout: float = 240.0) -> tuple[int, str]:
    """Start ``suite run`` (``command``), send it ``how`` once ``done`` cells are in ``store``.

    Returns its exit code and output. A shell without job control starts background
    jobs with SIGINT ignored, and Python keeps an inherited SIG_IGN (no
    KeyboardInterrupt): the driver gets the default disposition, as in a terminal.
    """
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + timeout
        while done_cells(store) < done and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.5)
        assert driver.poll() is None, driver.stdout.read().decode()[-2000:]
        assert done_cells(store) == done, f"the first {done} cells did not finish in time"
        driver.send_signal(how)  # mid-run: the stalled cell is unfinished
        code = driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    return code, driver.stdout.read().decode()
