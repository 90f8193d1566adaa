"""Helpers shared by the executor tests (Ray and processes)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path


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
