"""Compare the scores of two results stores: ``suite diff A B``.

Cells are matched by their key (the config hash); on matched done cells every score
column and the per-instance records are compared exactly (bitwise; NaN equals NaN).
Timings, run ids, times and versions are left out: they differ between identical runs.
This is how a refactor shows that no number moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from suite.store.database import ResultsStore
from suite.store.frame import DONE, TIMING_COLUMNS

#: Columns of the cells frame that legitimately differ between identical runs.
UNCOMPARED: frozenset[str] = frozenset({
    *TIMING_COLUMNS, "seconds", "run_id", "started_at", "finished_at", "git_commit", "git_dirty",
    "device_name", "suite_version", "python",
})


@dataclass
class StoreDiff:
    """What differs between two stores.

    Attributes:
        cells: done cells present in both stores.
        only_a, only_b: labels of done cells present in one store only.
        columns: compared columns.
        scores: ``(cell label, column, value in a, value in b)`` of each differing score.
        records: labels of cells whose per-instance records differ.
    """

    cells: int = 0
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    columns: int = 0
    scores: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    records: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.only_a or self.only_b or self.scores or self.records)

    def text(self, limit: int = 20) -> str:
        """A summary line, then up to ``limit`` differences."""
        verdict = "identical" if self.identical else "different"
        lines = [f"{verdict}: {self.cells} cells in both stores, {self.columns} columns compared; "
                 f"{len(self.scores)} differing scores, {len(self.records)} cells with differing "
                 f"per-instance records, {len(self.only_a)} / {len(self.only_b)} cells in one "
                 "store only"]
        lines += [f"  {cell} {column}: {a!r} != {b!r}" for cell, column, a, b in self.scores[:limit]]
        lines += [f"  {cell}: per-instance records differ" for cell in self.records[:limit]]
        lines += [f"  only in the first: {cell}" for cell in self.only_a[:limit]]
        lines += [f"  only in the second: {cell}" for cell in self.only_b[:limit]]
        return "\n".join(lines)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(a: Any, b: Any) -> bool:
    """Exact equality, with a missing value (None, NaN) equal only to another."""
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return bool(a == b)


def _done(store: ResultsStore) -> tuple[pd.DataFrame, dict]:
    frame = store.cells_frame()
    frame = frame[frame["status"] == DONE].set_index("cell_key")
    return frame, store.instance_records()


def diff_stores(path_a: str | Path, path_b: str | Path) -> StoreDiff:
    """The differences between the done cells of two stores (see the module docstring)."""
    for path in (path_a, path_b):
        if not Path(path).is_file():
            raise FileNotFoundError(f"no results store at {path}")
    stores = [ResultsStore(path_a), ResultsStore(path_b)]
    try:
        (a, rec_a), (b, rec_b) = (_done(s) for s in stores)
    finally:
        for s in stores:
            s.close()
    label = {key: f"{r.dataset}/{r.model}/{r.training}/{r.explainer}/seed {r.seed}"
             for frame in (a, b) for key, r in frame.iterrows()}
    both = sorted(set(a.index) & set(b.index))
    columns = [c for c in a.columns if c in b.columns and c not in UNCOMPARED
               and not c.endswith("_version")]
    result = StoreDiff(cells=len(both), columns=len(columns),
                       only_a=sorted(label[k] for k in set(a.index) - set(b.index)),
                       only_b=sorted(label[k] for k in set(b.index) - set(a.index)))
    for key in both:
        for column in columns:
            x, y = a.at[key, column], b.at[key, column]
            if not _same(x, y):
                result.scores.append((label[key], column, x, y))
        ra, rb = rec_a.get(key), rec_b.get(key)
        if (ra is None) != (rb is None) or (ra is not None and ra.to_blob() != rb.to_blob()):
            result.records.append(label[key])
    return result
