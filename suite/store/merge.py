"""Several results stores, one board: ``suite merge`` and ``suite export``.

:func:`merge_stores` copies the runs and cells of several stores (runs made on
different machines) into one. A cell is identified by its cell key (the hash of
its full config, device included), so the same cell from two stores is a
duplicate; the kept copy is the better outcome (done over skipped over failed),
then the most recently finished. Inputs of an older schema version are upgraded
on a temporary copy (the input file is never modified) through
``ResultsStore.MIGRATIONS``; a newer version, or an older one without a
migration path, is refused with both versions named.

:func:`export_frame` writes the cells frame (one row per cell, configs and
versions included) as CSV or Parquet; with ``plugin`` it adds the ``plugin``
column that makes the file a leaderboard submission (docs/execution-and-submissions.md).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from suite.core.files import check_target
from suite.core.paths import atomic_write
from suite.core.records import InstanceRecords, records_to_text
from suite.store.database import ResultsStore, StoreVersionError, read_schema_version

#: Status preference when one cell key appears in several stores (higher wins).
STATUS_RANK: dict[str, int] = {"done": 2, "skipped": 1, "failed": 0}
#: Export formats.
FORMATS: tuple[str, ...] = ("csv", "parquet")
#: Score names that measure time (may differ between two runs of one cell).
_TIMING = ("explanations_per_s", "explain_seconds", "fit_seconds", "train_items_per_s",
           "train_seconds")


@dataclass
class MergeSummary:
    """What a merge did.

    Attributes:
        inputs: the input stores, in order.
        runs: runs in the merged store.
        cells: cells in the merged store.
        duplicates: cell keys found in more than one source (the output counts as one).
        conflicting: duplicates whose non-timing scores or status differ (the kept
            copy is chosen by status, then finish time).
        upgraded: inputs read through a schema migration (``path: v -> v'``).
    """

    inputs: list[Path]
    runs: int = 0
    cells: int = 0
    duplicates: int = 0
    conflicting: list[str] = field(default_factory=list)
    upgraded: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"merged {len(self.inputs)} store(s): {self.cells} cells, {self.runs} runs; "
                 f"{self.duplicates} duplicate cell(s) by config hash kept once"]
        lines += [f"  upgraded {u}" for u in self.upgraded]
        if self.conflicting:
            lines.append(f"  {len(self.conflicting)} duplicate(s) disagree (kept: done over "
                         "skipped over failed, then the latest): "
                         + ", ".join(self.conflicting[:5])
                         + (" ..." if len(self.conflicting) > 5 else ""))
        return "\n".join(lines)


def _better(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    a, b = STATUS_RANK.get(str(new["status"]), -1), STATUS_RANK.get(str(old["status"]), -1)
    if a != b:
        return a > b
    return str(new["finished_at"]) > str(old["finished_at"])


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a["status"] != b["status"]:
        return False
    sa = {k: v for k, v in a["scores"].items() if k not in _TIMING}
    sb = {k: v for k, v in b["scores"].items() if k not in _TIMING}
    if sa.keys() != sb.keys():
        return False
    for key, x in sa.items():
        y = sb[key]
        if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, abs_tol=1e-9)):
            return False
    return True


def _records(path: Path, scratch: Path, summary: MergeSummary) -> tuple[list[dict], list[dict]]:
    """Runs and cells of the store at ``path``, upgraded on a copy when its schema is older."""
    version = read_schema_version(path)
    current = ResultsStore.SCHEMA_VERSION
    if version > current:
        raise StoreVersionError(
            f"cannot merge {path}: schema version {version} is newer than version {current} "
            "that this suite writes; merge with the suite version that wrote it")
    source = path
    if version < current:
        source = scratch / f"{len(summary.upgraded)}-{path.name}"
        shutil.copyfile(path, source)
        for suffix in ("-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                shutil.copyfile(f"{path}{suffix}", f"{source}{suffix}")
    try:
        store = ResultsStore(source)
    except StoreVersionError as exc:
        raise StoreVersionError(f"cannot merge {path}: {exc}") from None
    try:
        if version < current:
            summary.upgraded.append(f"{path}: schema {version} -> {store.schema_version}")
        return store.run_records(), store.cell_records()
    finally:
        store.close()


def merge_stores(inputs: Sequence[str | os.PathLike], out: str | os.PathLike) -> MergeSummary:
    """Merge ``inputs`` into the store ``out`` (created, or extended when it exists).

    Every input is read (and its version checked) before ``out`` is written, so a
    refused input leaves ``out`` untouched. Returns the :class:`MergeSummary`.
    """
    paths = [Path(p) for p in inputs]
    out = Path(out)
    if not paths:
        raise ValueError("merge: give at least one input store")
    if any(p.resolve() == out.resolve() for p in paths):
        raise ValueError(f"merge: --out {out} is also an input; write to a new file")
    summary = MergeSummary(inputs=paths)
    runs: dict[str, dict] = {}
    cells: dict[str, dict] = {}
    seen: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="suite-merge-") as scratch:
        sources = ([out] if out.exists() else []) + paths
        for path in sources:
            source_runs, source_cells = _records(path, Path(scratch), summary)
            for run in source_runs:
                runs.setdefault(run["run_id"], run)
            for cell in source_cells:
                key = cell["cell_key"]
                seen[key] = seen.get(key, 0) + 1
                old = cells.get(key)
                if old is None:
                    cells[key] = cell
                    continue
                if not _same(cell, old):
                    summary.conflicting.append(f"{cell['dataset']}/{cell['model']}/"
                                               f"{cell['explainer']}/seed{cell['seed']}")
                if _better(cell, old):
                    cells[key] = cell
    with ResultsStore(out) as store:
        store.import_records(list(runs.values()), list(cells.values()))
        summary.runs = len(store.run_records())
        summary.cells = len(store.cell_records())
    summary.duplicates = sum(1 for n in seen.values() if n > 1)
    return summary


#: The export column holding each cell's per-instance records as text.
RECORDS_COLUMN = "instance_records"


def export_frame(frame: pd.DataFrame, path: str | os.PathLike, fmt: str | None = None,
                 explainers: Iterable[str] | None = None, plugin: str | None = None,
                 instances: Mapping[str, InstanceRecords] | None = None) -> Path:
    """Write ``frame`` (a store's ``cells_frame``) as CSV or Parquet; returns the path.

    The file is written beside ``path`` and renamed into place; an existing results store
    at ``path`` is refused (``suite.core.files.check_target``).

    ``fmt`` defaults to the file's suffix; ``explainers`` keeps only those rows;
    ``plugin`` (how to get the explainer: ``"pkg==1.0 module:Class"``) adds the
    ``plugin`` column of a submission; ``instances`` (cell key -> per-instance records)
    adds the ``instance_records`` column (text, ``records_to_text``), so a submission
    can be ranked beside the store's rows. Parquet needs pyarrow (``pip install ".[parquet]"``).
    """
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)} (got {fmt or 'none'!r})")
    if explainers:
        wanted = set(explainers)
        unknown = sorted(wanted - set(frame["explainer"]))
        if unknown:
            raise ValueError(f"explainer(s) {', '.join(unknown)} not in the store (it has "
                             f"{', '.join(sorted(set(frame['explainer']))) or 'none'})")
        frame = frame[frame["explainer"].isin(wanted)]
    if plugin is not None:
        frame = frame.assign(plugin=str(plugin))
    if instances:
        frame = frame.assign(**{RECORDS_COLUMN: [
            records_to_text(instances[k]) if k in instances else None for k in frame["cell_key"]]})
    check_target(path)
    if fmt == "csv":
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda handle: frame.to_csv(handle, index=False))
        return path
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise RuntimeError('Parquet export needs pyarrow: pip install ".[parquet]" '
                           "(or use --format csv)") from None
    text = frame.columns[frame.dtypes == object]  # mixed object columns: strings for Arrow
    frame = frame.assign(**{c: frame[c].map(lambda v: None if v is None or (
        isinstance(v, float) and math.isnan(v)) else str(v)) for c in text})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: frame.to_parquet(handle, index=False))
    return path
