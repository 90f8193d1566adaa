"""Process hygiene: SIGTERM stops a run like Ctrl-C, workers die with their parent, and a
run left "running" by a dead process is recognised as interrupted.

- :func:`sigterm_as_interrupt`: while active, SIGTERM raises ``KeyboardInterrupt`` in the
  main thread, so ``kill PID`` (a job scheduler's stop, a container's shutdown) keeps every
  finished cell and marks the run interrupted, exactly as Ctrl-C does.
- :func:`watch_parent`: a worker process checks once per ``interval`` seconds that the
  process that started it is still its parent, and exits at once when it is not (its
  driver was killed with SIGKILL and it was re-parented), instead of waiting forever on
  a pipe nobody writes.
- :func:`pid_alive`: whether a process id is alive on this machine (the store's
  ``close_stale_runs`` uses it with the hostname and pid each run records).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any, Iterator

#: Seconds between a worker's checks of its parent.
PARENT_POLL_SECONDS = 1.0
#: Exit status of a worker whose parent died.
ORPHAN_EXIT = 3
#: Exit status of a command stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextlib.contextmanager
def sigterm_handler_kept() -> Iterator[None]:
    """After the block, SIGTERM has the handler it had before (main thread only; elsewhere a
    no-op, as Python delivers signals to the main thread alone). A handler not installed
    from Python (``getsignal`` gives None) is left as the block leaves it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if handler is not None:
            signal.signal(signal.SIGTERM, handler)


@contextlib.contextmanager
def sigterm_deferred() -> Iterator[list[int]]:
    """Within the block, SIGTERM is noted in the list it yields instead of raised (main
    thread only): for work that an exception must not cut halfway, such as imports, where
    CPython may swallow it (an import lock's callback) and the signal would be lost."""
    received: list[int] = []
    with sigterm_handler_kept():
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
        yield received


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` (main thread only)."""
    with sigterm_handler_kept():
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _raise_interrupt)
        yield


def _watch(parent: int, interval: float) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(ORPHAN_EXIT)  # no cleanup: the driver that would read the result is gone
        time.sleep(interval)


def watch_parent(interval: float = PARENT_POLL_SECONDS,
                 parent: int | None = None) -> threading.Thread:
    """Start a daemon thread that exits this process once its parent is gone.

    ``parent``: the pid of the process that started this one, as that process passed it
    (default: the current parent). Pass it from the driver: a worker whose driver died
    while it was still starting up has already been re-parented when it gets here, and
    would otherwise watch its new parent forever.
    """
    thread = threading.Thread(target=_watch, args=(os.getppid() if parent is None else parent,
                                                   interval),
                              name="suite-parent-watch", daemon=True)
    thread.start()
    return thread


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True when it belongs to another user;
    False for a zombie)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits to be reaped (Linux ``/proc``; False elsewhere):
    an orphan re-parented to an init that does not reap stays a zombie, not a process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


__all__ = ["ORPHAN_EXIT", "PARENT_POLL_SECONDS", "pid_alive", "sigterm_as_interrupt",
           "watch_parent"]
