"""What a run shows while it works: a bar on a terminal, plain lines elsewhere.

Both count only the cells that run (skipped cells and cells already in the store are one
note before them), name the running cell, and show the training epochs of a long cell:
the training loop logs each epoch at DEBUG on the ``suite.training.epochs`` logger
(:data:`suite.training.loop.EPOCH_LOG`), which :func:`epochs_shown` routes here while a run
is in progress; worker processes forward theirs (:mod:`suite.execution.process_executor`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, TextIO

from tqdm.auto import tqdm

from suite.matrix import Cell
from suite.training.loop import EPOCH_LOG

#: seconds between two epoch updates on the bar / between two epoch lines in plain output
BAR_EPOCH_INTERVAL, LINE_EPOCH_INTERVAL = 0.5, 30.0


def shown_name(cell: Cell) -> str:
    """How the display names a cell: ``dataset/model/explainer``."""
    return f"{cell.dataset}/{cell.model}/{cell.explainer}"


class RunProgress(Protocol):
    """The progress display of one run."""

    def note(self, text: str) -> None: ...
    def started(self, label: str) -> None: ...
    def epoch(self, label: str, epoch: int, epochs: int) -> None: ...
    def finished(self, label: str, status: str) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    """``--no-progress``: shows nothing."""

    def note(self, text: str) -> None:
        pass

    def started(self, label: str) -> None:
        pass

    def epoch(self, label: str, epoch: int, epochs: int) -> None:
        pass

    def finished(self, label: str, status: str) -> None:
        pass

    def close(self) -> None:
        pass


class BarProgress:
    """A tqdm bar over the cells that run; its postfix names the running cell and epoch."""

    def __init__(self, total: int, name: str, stream: TextIO) -> None:
        self.stream = stream
        self.bar = tqdm(total=total, desc=name, unit="cell", dynamic_ncols=True, file=stream)
        self._last_epoch_shown = -math.inf  # the first epoch shows, whatever the uptime

    def note(self, text: str) -> None:
        self.bar.write(text, file=self.stream)

    def started(self, label: str) -> None:
        self.bar.set_postfix_str(label, refresh=False)

    def epoch(self, label: str, epoch: int, epochs: int) -> None:
        now = time.monotonic()
        if now - self._last_epoch_shown < BAR_EPOCH_INTERVAL and epoch != epochs:
            return
        self._last_epoch_shown = now
        self.bar.set_postfix_str(f"{label} training epoch {epoch}/{epochs}", refresh=True)

    def finished(self, label: str, status: str) -> None:
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


class LineProgress:
    """Plain lines for logs and CI (no carriage returns): one per finished cell, with the
    count, elapsed time and the time left at the mean pace so far; an epoch line at most
    every :data:`LINE_EPOCH_INTERVAL` seconds."""

    def __init__(self, total: int, name: str, stream: TextIO) -> None:
        self.total, self.name, self.stream = total, name, stream
        self.count = 0
        self.began = time.monotonic()
        self._last_epoch_line = self.began

    def _say(self, text: str) -> None:
        print(f"{self.name}: {text}", file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def started(self, label: str) -> None:
        pass

    def epoch(self, label: str, epoch: int, epochs: int) -> None:
        now = time.monotonic()
        if now - self._last_epoch_line >= LINE_EPOCH_INTERVAL:
            self._last_epoch_line = now
            self._say(f"{label} training epoch {epoch}/{epochs}")

    def finished(self, label: str, status: str) -> None:
        self.count += 1
        elapsed = time.monotonic() - self.began
        left = elapsed / self.count * (self.total - self.count)
        self._say(f"{self.count}/{self.total} {label} {status} "
                  f"({_clock(elapsed)} elapsed, about {_clock(left)} left)")

    def close(self) -> None:
        pass


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:" if hours else "") + f"{rest // 60:02d}:{rest % 60:02d}"


def run_progress(enabled: bool, total: int, name: str,
                 stream: TextIO | None = None) -> RunProgress:
    """The display for a run of ``total`` cells: none, a bar (a terminal) or plain lines."""
    stream = sys.stderr if stream is None else stream
    if not enabled:
        return NoProgress()
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return BarProgress(total, name, stream)
    return LineProgress(total, name, stream)


class _EpochHandler(logging.Handler):
    """Calls ``show(label, epoch, epochs)`` for each epoch record (label: the record's
    ``cell`` when a worker's record was forwarded, else the cell running here)."""

    def __init__(self, show: Callable[[str | None, int, int], None]) -> None:
        super().__init__(logging.DEBUG)
        self.show = show

    def emit(self, record: logging.LogRecord) -> None:
        epoch, epochs = getattr(record, "epoch", None), getattr(record, "epochs", None)
        if isinstance(epoch, int) and isinstance(epochs, int):
            self.show(getattr(record, "cell", None), epoch, epochs)


@contextlib.contextmanager
def epochs_shown(show: Callable[[str | None, int, int], None]) -> Iterator[None]:
    """Route the training loop's epoch records to ``show`` (and nowhere else) inside."""
    handler = _EpochHandler(show)
    level, propagate = EPOCH_LOG.level, EPOCH_LOG.propagate
    EPOCH_LOG.addHandler(handler)
    EPOCH_LOG.setLevel(logging.DEBUG)
    EPOCH_LOG.propagate = False
    try:
        yield
    finally:
        EPOCH_LOG.removeHandler(handler)
        EPOCH_LOG.setLevel(level)
        EPOCH_LOG.propagate = propagate


@dataclass(frozen=True)
class EpochTick:
    """A worker's training progress, sent to the driver beside its outcomes."""

    epoch: int
    epochs: int


class ForwardEpochs(logging.Handler):
    """In a worker: ``send(EpochTick)`` for an epoch record, at most once per ``interval``
    seconds (and for the last epoch), so the driver can show it."""

    def __init__(self, send: Callable[[EpochTick], None], interval: float = 1.0) -> None:
        super().__init__(logging.DEBUG)
        self.send, self.interval = send, interval
        self._last = -math.inf  # the first epoch is sent, whatever the uptime

    def emit(self, record: logging.LogRecord) -> None:
        epoch, epochs = getattr(record, "epoch", None), getattr(record, "epochs", None)
        if not (isinstance(epoch, int) and isinstance(epochs, int)):
            return
        now = time.monotonic()
        if now - self._last >= self.interval or epoch == epochs:
            self._last = now
            self.send(EpochTick(epoch, epochs))


def forward_epochs(send: Callable[[EpochTick], None]) -> None:
    """In a worker process: send every training epoch (throttled) to the driver."""
    EPOCH_LOG.addHandler(ForwardEpochs(send))
    EPOCH_LOG.setLevel(logging.DEBUG)
    EPOCH_LOG.propagate = False


def show_worker_epoch(tick: EpochTick, label: str) -> None:
    """In the driver: re-log a worker's epoch so the run's display (if any) shows it."""
    if EPOCH_LOG.isEnabledFor(logging.DEBUG):
        EPOCH_LOG.debug("epoch %d of %d", tick.epoch, tick.epochs,
                        extra={"epoch": tick.epoch, "epochs": tick.epochs, "cell": label})
