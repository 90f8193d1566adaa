"""Process hygiene: SIGTERM as Ctrl-C, workers that die with their parent, dead pids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from suite.core.lifecycle import ORPHAN_EXIT, pid_alive, sigterm_as_interrupt


def test_sigterm_raises_keyboard_interrupt_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        with sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs between bytecodes: never reached
    assert signal.getsignal(signal.SIGTERM) is before


def test_pid_alive_tells_a_live_process_from_a_reaped_one():
    assert pid_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid) and not pid_alive(0) and not pid_alive(-5)


def test_a_watched_process_exits_when_its_parent_dies(tmp_path):
    """A parent starts a grandchild that watches it, then dies by SIGKILL: the grandchild,
    re-parented, exits with ORPHAN_EXIT within a few polls."""
    pid_file = tmp_path / "grandchild.pid"
    grandchild = textwrap.dedent(f"""
        import os, time
        from suite.core.lifecycle import watch_parent
        watch_parent(0.1)
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """)
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", {grandchild!r}])
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    try:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pid = int(pid_file.read_text())
        assert pid_alive(pid)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
            try:  # reap it if it became our child (a subreaper); harmless otherwise
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        assert not pid_alive(pid), "the orphaned process is still running"
    finally:
        if proc.poll() is None:
            proc.kill()
    assert ORPHAN_EXIT != 0


def test_a_process_whose_given_parent_is_gone_exits_at_once():
    """A worker told its driver's pid after the driver died (it was re-parented while it
    started up) exits on the first check instead of watching its new parent."""
    code = ("import time\nfrom suite.core.lifecycle import watch_parent\n"
            "watch_parent(60.0, parent=-1)\ntime.sleep(120)")
    child = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert child.returncode == ORPHAN_EXIT


def test_an_exited_unreaped_child_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while pid_alive(child.pid) and time.monotonic() < deadline:  # a zombie until waited for
        time.sleep(0.05)
    assert not pid_alive(child.pid)
    child.wait()


def test_sigterm_while_the_command_line_starts_is_one_line_and_exit_130(tmp_path):
    """The full command line imports torch for seconds; a SIGTERM (or Ctrl-C) then is the
    same one line and status 130 as later, not a traceback or a bare -15."""
    command = [sys.executable, "-m", "suite", "run", "--matrix", "smoke", "--root",
               str(tmp_path), "--no-progress"]
    started = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(0.5)  # inside the imports (torch alone takes seconds here)
    started.send_signal(signal.SIGTERM)
    out, err = started.communicate(timeout=120)
    assert started.returncode == 130, (started.returncode, err[-2000:])
    assert err.strip() == "suite: interrupted", err[-2000:]
