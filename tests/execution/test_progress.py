"""The run's display: a bar on a terminal, plain lines elsewhere, worker epochs forwarded."""

from __future__ import annotations

import io
import logging

from suite.execution import progress
from suite.training.loop import EPOCH_LOG


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_anything_else_plain_lines():
    assert isinstance(progress.run_progress(True, 3, "m", Terminal()), progress.BarProgress)
    assert isinstance(progress.run_progress(True, 3, "m", io.StringIO()), progress.LineProgress)
    assert isinstance(progress.run_progress(False, 3, "m", Terminal()), progress.NoProgress)


def test_the_bar_names_the_running_cell_and_its_epoch(monkeypatch):
    # a machine up for 10 s (the monotonic clock below the bar's interval): the epoch shows
    monkeypatch.setattr(progress.time, "monotonic", lambda: 10.0)
    monkeypatch.setattr(progress, "BAR_EPOCH_INTERVAL", 60.0)
    stream = Terminal()
    shown = progress.run_progress(True, 2, "m", stream)
    shown.started("ba-shapes/gcn/saliency")
    shown.epoch("ba-shapes/gcn/saliency", 40, 2000)
    shown.finished("ba-shapes/gcn/saliency", "done")
    shown.close()
    text = stream.getvalue()
    assert "ba-shapes/gcn/saliency training epoch 40/2000" in text and "1/2" in text


def test_plain_lines_count_and_estimate_the_time_left():
    stream = io.StringIO()
    shown = progress.run_progress(True, 4, "m", stream)
    shown.finished("a/gcn/x", "done")
    shown.finished("b/gcn/x", "failed")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("m: 1/4 a/gcn/x done (") and "left)" in lines[0]
    assert lines[1].startswith("m: 2/4 b/gcn/x failed (")


def test_a_workers_epochs_reach_the_drivers_display_with_the_cell_name(monkeypatch):
    """Worker side: epoch records become throttled ticks; driver side: a tick is re-logged
    with the cell's name and reaches the display."""
    # a machine up for 10 s: the monotonic clock is below the interval, the first tick still goes
    monkeypatch.setattr(progress.time, "monotonic", lambda: 10.0)
    ticks: list[progress.EpochTick] = []
    forward = progress.ForwardEpochs(ticks.append, interval=3600.0)
    for epoch in range(1, 6):
        forward.emit(logging.LogRecord("x", logging.DEBUG, "", 0, "", None, None))  # no epoch
        record = logging.LogRecord("x", logging.DEBUG, "", 0, "epoch", None, None)
        record.epoch, record.epochs = epoch, 5
        forward.emit(record)
    # the first epoch, then nothing within the interval but the last
    assert ticks == [progress.EpochTick(1, 5), progress.EpochTick(5, 5)]
    seen: list[tuple] = []
    progress.show_worker_epoch(ticks[0], "lost/gcn/x")  # no display listening: dropped
    with progress.epochs_shown(lambda label, epoch, epochs: seen.append((label, epoch, epochs))):
        progress.show_worker_epoch(ticks[1], "ba-shapes/gin/saliency")
    assert seen == [("ba-shapes/gin/saliency", 5, 5)]
    assert not EPOCH_LOG.handlers
