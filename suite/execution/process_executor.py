"""The ``processes`` executor: cells in worker processes on this machine, one per core.

How a run goes:

- ``workers`` processes start (``spawn``: a fresh interpreter each, so nothing of the
  driver's torch state is shared); each fixes its torch CPU threads, loads the run's
  ``--plugin`` specs and keeps its own :class:`suite.execution.cell.RunMemo`;
- the driver hands out one cell at a time and prefers, for a worker that just
  finished a cell, another cell of the *same trained model* (it is in that worker's
  memo); next a cell of a model some worker has already trained (it is in the
  on-disk model cache, so it is loaded, not retrained); only then the first cell of a
  model nobody has trained yet. So no model is trained twice at the same time, and
  at the end of a run every worker helps with the last models' cells;
- each cell calls the same pure :func:`suite.execution.cell.run_cell` as the ``local``
  executor; outcomes are yielded as they arrive and only the driver writes the store;
- a worker that dies (killed, out of memory) leaves its cell pending (a rerun of the
  same command runs it) and the others go on; Ctrl-C stops the workers after every
  finished cell was committed.

Workers ignore SIGINT themselves: the driver owns the interrupt and terminates them.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from suite.core.lifecycle import watch_parent
from suite.core.paths import Paths
from suite.execution.cell import RunMemo, error_text, run_cell
from suite.execution.executors import EXECUTORS
from suite.execution.progress import (
    EpochTick,
    forward_epochs,
    show_worker_epoch,
    shown_name,
)
from suite.matrix import Cell, CellOutcome, CellStatus, cell_labels
from suite.plugins.loading import load_plugins
from suite.store.database import utc_now

log = logging.getLogger(__name__)

#: How long the driver waits for an outcome before it checks its workers again (s).
POLL_SECONDS = 1.0


# --------------------------------------------------------------------------- scheduling


@dataclass
class CellScheduler:
    """Which cell a free worker runs next (pure bookkeeping, no processes).

    Cells are grouped by ``Cell.model_key`` in matrix order. ``next_for(last)`` picks,
    in this order: a pending cell of the model ``last`` (the one the worker just ran);
    a pending cell of an already trained model (the one with most cells left); the
    first cell of a model that is neither trained nor being trained. None when every
    pending cell waits for a model another worker is training.
    """

    pending: "OrderedDict[str, deque[Cell]]" = field(default_factory=OrderedDict)
    trained: set[str] = field(default_factory=set)
    training: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, cells: Sequence[Cell]) -> "CellScheduler":
        scheduler = cls()
        for cell in cells:
            scheduler.pending.setdefault(cell.model_key, deque()).append(cell)
        return scheduler

    def __len__(self) -> int:
        return sum(len(cells) for cells in self.pending.values())

    def next_for(self, last_model: str | None = None) -> Cell | None:
        if last_model is not None and self.pending.get(last_model):
            return self._pop(last_model)
        ready = [key for key, cells in self.pending.items() if cells and key in self.trained]
        if ready:
            return self._pop(max(ready, key=lambda key: len(self.pending[key])))
        for key, cells in self.pending.items():
            if cells and key not in self.training:
                self.training.add(key)
                return self._pop(key)
        return None

    def finished(self, cell: Cell) -> None:
        """``cell`` came back: its model is trained (or its training failed for good)."""
        self.training.discard(cell.model_key)
        self.trained.add(cell.model_key)

    def lost(self, cell: Cell) -> None:
        """``cell``'s worker died: another worker may train its model again."""
        self.training.discard(cell.model_key)

    def _pop(self, key: str) -> Cell:
        cell = self.pending[key].popleft()
        if not self.pending[key]:
            del self.pending[key]
        return cell


# --------------------------------------------------------------------------- worker side


def _worker_main(index: int, inbox: Any, outbox: Any, paths: Paths, threads: int,
                 plugins: Sequence[str], driver: int) -> None:
    """A worker process: run the cells from ``inbox`` until None, put ``(index, outcome)``
    (and ``(index, EpochTick)`` while a cell trains its model). ``driver``: the driver's pid."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker whose driver was killed (even while this one started) exits instead of
    # blocking on its inbox
    watch_parent(parent=driver)
    forward_epochs(lambda tick: outbox.put((index, tick)))
    setup_error = ""
    try:
        import torch


        torch.set_num_threads(int(threads))
        load_plugins(plugins)
    except Exception as exc:  # every cell of this worker is recorded as failed with it
        setup_error = error_text(exc)
    memo = RunMemo()
    while True:
        cell = inbox.get()
        if cell is None:
            return
        if setup_error:
            outcome = _failed(cell, setup_error)
        else:
            try:
                outcome = run_cell(cell, paths, memo=memo)
            except Exception as exc:  # run_cell records its own errors; this is a last resort
                outcome = _failed(cell, error_text(exc))
        outbox.put((index, outcome))


def _failed(cell: Cell, error: str) -> CellOutcome:
    labels: dict[str, str] = {}
    try:
        labels = cell_labels(cell)
    except Exception:  # an unknown plug-in name: labels stay empty
        pass
    now = utc_now()
    return CellOutcome(cell=cell, status=CellStatus.FAILED, error=error, started_at=now,
                       finished_at=now, **labels)


# --------------------------------------------------------------------------- driver side


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@EXECUTORS.register("processes", description="cells in worker processes on this machine "
                                             "(one per core by default)")
def process_executor(cells: Sequence[Cell], paths: Paths, on_start: Callable[[Cell], None], *,
                     workers: int | None = None, threads: int = 1,
                     plugins: Sequence[str] = ()) -> Iterator[CellOutcome]:
    """Run ``cells`` in ``workers`` processes; yield their outcomes as they finish.

    A cell whose worker died is not yielded (it stays pending in the store).
    """
    if not cells:
        return
    count = min(int(workers or default_workers()), len(cells))
    if count < 1:
        raise ValueError(f"workers: expected a positive number (got {workers})")
    scheduler = CellScheduler.of(cells)
    context = mp.get_context("spawn")
    outbox = context.Queue()
    inboxes = [context.Queue() for _ in range(count)]
    procs = [context.Process(target=_worker_main, name=f"suite-worker-{index}", daemon=True,
                             args=(index, inboxes[index], outbox, paths, threads, list(plugins),
                                   os.getpid()))
             for index in range(count)]
    for proc in procs:
        proc.start()
    busy: dict[int, Cell] = {}
    idle: list[int] = []

    def dispatch(index: int, last_model: str | None) -> None:
        cell = scheduler.next_for(last_model)
        if cell is None:
            idle.append(index)
            return
        busy[index] = cell
        on_start(cell)
        inboxes[index].put(cell)

    def refill() -> None:
        """Give the waiting workers a cell each, where one can start now."""
        waiting, idle[:] = list(idle), []
        for free in waiting:
            if procs[free].is_alive():
                dispatch(free, None)

    try:
        for index in range(count):
            dispatch(index, None)
        while busy:
            try:
                index, outcome = outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                for dead in [i for i in busy if not procs[i].is_alive()]:
                    cell = busy.pop(dead)
                    scheduler.lost(cell)
                    log.warning("worker %d died (exit code %s) running %s: left pending; "
                                "rerun to finish it", dead, procs[dead].exitcode, cell.label)
                refill()
                continue
            if isinstance(outcome, EpochTick):
                if index in busy:
                    show_worker_epoch(outcome, shown_name(busy[index]))
                continue
            cell = busy.pop(index)
            scheduler.finished(cell)
            yield outcome
            dispatch(index, cell.model_key)
            refill()  # a model just became trained: workers waiting for one can start
    finally:
        for index, proc in enumerate(procs):
            if index in busy:  # interrupted mid-cell: the cell stays pending
                proc.terminate()
            elif proc.is_alive():
                inboxes[index].put(None)
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
