"""Helpers shared by the executor tests (Ray and processes)."""

from __future__ import annotations

import sqlite3
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
