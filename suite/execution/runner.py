"""A matrix -> the results store: :func:`run_matrix`.

Expands a matrix, skips cells already done in the store (resume), runs the rest
through an executor (``local``: one after another in this process; ``processes``: one
worker per core, :mod:`suite.execution.process_executor`; ``ray``: Ray tasks,
:mod:`suite.execution.ray_executor`) and records each outcome in its own transaction
as it arrives. On Ctrl-C the run is marked interrupted and the interrupt re-raised;
every finished cell is already committed. Cells an executor lost (a dead worker) stay
pending: the run is marked interrupted and a rerun finishes them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from suite.core.environment import environment_record
from suite.core.lifecycle import pid_alive
from suite.core.paths import Paths

# the executors register themselves on import (Ray itself is imported only when it runs)
from suite.execution import process_executor, ray_executor  # noqa: F401
from suite.execution.executors import EXECUTORS
from suite.execution.progress import epochs_shown, run_progress, shown_name
from suite.matrix import (
    Cell,
    CellOutcome,
    CellStatus,
    MatrixConfig,
    cell_labels,
    expand,
    load_matrix,
)
from suite.store.database import ResultsStore, RunStatus, utc_now

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- a matrix


@dataclass
class RunSummary:
    """What one ``run_matrix`` call did.

    Attributes:
        run_id: the run's id in the store.
        matrix: the matrix name.
        total: cells in the matrix, skipped combinations included.
        already_done: cells skipped because the store had them (resume).
        done, failed, skipped: outcomes of this call (``skipped`` counts both the
            combinations refused from metadata and cells refused by ``supports``).
        seconds: wall time (s).
        failures: ``(cell label, error)`` of the failed cells.
        skips: ``(cell label, reason)`` of the skipped cells.
        elsewhere, elsewhere_runs: cells left to other runs that hold their lease (still
            running on the same store), and those runs' ids.
    """

    run_id: str
    matrix: str
    total: int
    already_done: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    elsewhere: int = 0
    elsewhere_runs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcome: CellOutcome) -> None:
        status = CellStatus(outcome.status)
        if status == CellStatus.DONE:
            self.done += 1
        elif status == CellStatus.FAILED:
            self.failed += 1
            self.failures.append((outcome.cell.label, outcome.error))
        else:
            self.skipped += 1
            self.skips.append((outcome.cell.label, outcome.error))

    def text(self) -> str:
        """A few lines for the terminal: counts, then each failure and skip reason."""
        lines = [f"run {self.run_id} ({self.matrix}): {self.done} done, {self.failed} failed, "
                 f"{self.skipped} skipped, {self.already_done} already in the store "
                 f"({self.total} cells, {self.seconds:.1f} s)"]
        if self.pending:
            lines.append(f"  {self.pending} cell(s) lost by the executor are still pending: "
                         "rerun the same command to finish them")
        if self.elsewhere:
            lines.append(f"  {self.elsewhere} cell(s) left to run(s) "
                         f"{', '.join(self.elsewhere_runs)} that are computing them on this "
                         "store; rerun once they finish to pick up any they leave")
        lines += [f"  failed  {label}: {error.splitlines()[0]}" for label, error in self.failures]
        by_reason: dict[str, list[str]] = {}
        for label, reason in self.skips:
            by_reason.setdefault(reason, []).append(label)
        for reason, labels in by_reason.items():  # one line per reason, not per cell
            more = f" and {len(labels) - 1} more" if len(labels) > 1 else ""
            lines.append(f"  skipped {labels[0]}{more}: {reason}")
        return "\n".join(lines)


def _skipped_outcome(cell: Cell, reason: str) -> CellOutcome:
    now = utc_now()
    return CellOutcome(cell=cell, status=CellStatus.SKIPPED, error=reason, started_at=now,
                       finished_at=now, **cell_labels(cell))


def run_matrix(config: MatrixConfig | str | os.PathLike, store: ResultsStore,
               paths: Paths | None = None, device: str | None = None, progress: bool = True,
               executor: str = "local", only_missing: bool = True,
               executor_options: Mapping[str, Any] | None = None) -> RunSummary:
    """Run every cell of ``config`` not yet done in ``store``; record each as it finishes.

    Args:
        config: a ``MatrixConfig``, or a preset name or YAML path for ``load_matrix``.
        store: where outcomes go (one transaction per cell).
        paths: caches (default ``Paths.from_env()``).
        device: overrides the matrix's device (cells, and so keys, change with it).
        progress: show a progress bar over cells.
        executor: a registered executor name (``local``, ``ray``).
        executor_options: keyword options of that executor (``ray``: ``address``,
            ``num_cpus``, ``threads``, ``plugins``, ``gpus_per_cell``).
        only_missing: skip cells whose key the store holds as done or skipped
            (failed cells are retried); False reruns everything.

    Raises ``KeyboardInterrupt`` after marking the run interrupted.
    """
    if not isinstance(config, MatrixConfig):
        config = load_matrix(config)
    if device is not None:
        config = config.with_device(device)
    paths = paths or Paths.from_env()
    execute = EXECUTORS.get(executor)
    cells, skipped = expand(config)
    environment = environment_record(config.device)
    environment["executor"] = {"name": executor, **{
        key: value for key, value in dict(executor_options or {}).items() if key != "plugins"}}
    environment["pid"] = os.getpid()
    for stale in store.close_stale_runs(str(environment.get("hostname")), pid_alive):
        log.warning("run %s was left running by a process that is gone: marked interrupted "
                    "(its finished cells are kept)", stale)
    run_id = store.start_run(config, environment)
    summary = RunSummary(run_id=run_id, matrix=config.name, total=len(cells) + len(skipped))
    done = store.done_keys() if only_missing else set()
    clock = time.perf_counter()
    shown = None
    try:
        for cell, reason in skipped:
            if cell.key in done:
                summary.already_done += 1
            else:
                outcome = _skipped_outcome(cell, reason)
                store.record_cell(run_id, outcome)
                summary.add(outcome)
        todo = [cell for cell in cells if cell.key not in done]
        summary.already_done += len(cells) - len(todo)
        # leases: a cell another running run is computing is left to it (each cell once)
        claimed, busy = store.claim_cells(run_id, [cell.key for cell in todo])
        if busy:
            keep = set(claimed)
            todo = [cell for cell in todo if cell.key in keep]
            summary.elsewhere = len(busy)
            summary.elsewhere_runs = sorted(set(busy.values()))
        # the display counts (and times) only the cells that run: skipped cells and cells
        # already in the store are one note before it, so its share and ETA mean the work left
        shown = run_progress(progress, len(todo), config.name)
        if summary.skipped or summary.already_done or summary.elsewhere:
            shown.note(f"{config.name}: {len(todo)} cells to run; {summary.skipped} skipped with "
                       f"their reason, {summary.already_done} already in the store"
                       + (f", {summary.elsewhere} being computed by another run"
                          if summary.elsewhere else ""))
        running: list[str] = [""]  # the cell this process last started (for its epochs)

        def on_start(cell: Cell) -> None:
            running[0] = shown_name(cell)
            shown.started(running[0])

        def on_epoch(label: str | None, epoch: int, epochs: int) -> None:
            shown.epoch(label or running[0], epoch, epochs)

        arrived = 0
        with epochs_shown(on_epoch) if progress else contextlib.nullcontext():
            for outcome in execute(todo, paths, on_start, **dict(executor_options or {})):
                store.record_cell(run_id, outcome)
                summary.add(outcome)
                arrived += 1
                shown.finished(shown_name(outcome.cell),
                               str(getattr(outcome.status, "value", outcome.status)))
        summary.pending = len(todo) - arrived
    except BaseException:
        summary.seconds = time.perf_counter() - clock
        store.finish_run(run_id, RunStatus.INTERRUPTED)
        raise
    finally:
        if shown is not None:
            shown.close()
    summary.seconds = time.perf_counter() - clock
    store.finish_run(run_id, RunStatus.INTERRUPTED if summary.pending else RunStatus.FINISHED)
    return summary
