"""Fault injection: kill the runner, a worker or a Ray worker at seeded random points of a
small matrix; after reruns the store equals an uninterrupted run's and no process is left.

Twenty kill points over the three executors (``local``, ``processes``, ``ray`` where Ray is
installed): SIGKILL or SIGTERM of the driver, SIGKILL of a busy worker. Each point starts
from an empty root (so models are trained inside the killed run), waits until a seeded
number of cells is in the store plus a seeded delay, kills, waits for the driver to exit,
checks that every process the run started is gone, then reruns the same command until the
run finishes with nothing pending. The store must then hold every cell done, as the
uninterrupted run of the same executor does, and ``suite diff`` must find nothing between
the two (``suite.store.diff``: bitwise-equal scores, timings aside, and per-instance
records). A table of the points is printed (``-s``).
"""

from __future__ import annotations

import importlib.util
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import yaml

from suite.store.diff import diff_stores
from tests.execution.executor_helpers import done_cells

pytestmark = [pytest.mark.slow, pytest.mark.faults]

HAS_RAY = importlib.util.find_spec("ray") is not None
MATRIX = {
    "name": "faults", "seeds": [0, 1, 2], "max_instances": 6, "instances": "all",
    "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8, "num_features": 4}},
    "models": {"gcn": {"hidden": 8, "num_layers": 2}},
    "trainings": {"standard": {"epochs": 300, "patience": 0}},
    "explainers": {"random": {}, "saliency": {}, "integrated-gradients": {},
                   "gnnexplainer": {"epochs": 60}},
}
CELLS = 12  # 1 dataset x 1 model x 1 training x 4 explainers x 3 seeds
#: seconds every process a run started has to exit after its driver did: Ray's per-node
#: agents notice their raylet is gone and retry the cluster's control store before exiting
GONE_WITHIN = 120.0
RERUNS = 3


@dataclass(frozen=True)
class KillPoint:
    """Kill ``target`` (driver or worker) with ``how`` once ``after`` cells are in the store
    and ``delay`` seconds more have passed."""

    executor: str
    target: str
    how: int
    after: int
    delay: float

    @property
    def label(self) -> str:
        return (f"{self.executor} {self.target} {signal.Signals(self.how).name} "
                f"after {self.after} cells + {self.delay:.2f} s")


def kill_points(seed: int = 2026) -> list[KillPoint]:
    """The twenty points: per executor, which process and signal; where and when, drawn
    (a third before the first cell is stored, while the driver starts or trains)."""
    plan = ([("local", "driver", signal.SIGKILL)] * 4 + [("local", "driver", signal.SIGTERM)] * 2
            + [("processes", "driver", signal.SIGKILL)] * 3
            + [("processes", "driver", signal.SIGTERM)]
            + [("processes", "worker", signal.SIGKILL)] * 3
            + [("ray", "driver", signal.SIGKILL)] * 3 + [("ray", "driver", signal.SIGTERM)]
            + [("ray", "worker", signal.SIGKILL)] * 3)
    rng = random.Random(seed)
    points = []
    for executor, target, how in plan:
        if rng.random() < 1 / 3:  # before the first cell: while starting or training a model
            points.append(KillPoint(executor, target, how, 0, rng.uniform(1.0, 5.0)))
        else:  # between or inside later cells
            points.append(KillPoint(executor, target, how, rng.randrange(1, CELLS - 4),
                                    rng.uniform(0, 0.3)))
    return points


def _command(root: Path, matrix: Path, executor: str) -> list[str]:
    extra = {"local": [], "processes": ["--workers", "2"], "ray": ["--num-cpus", "2"]}[executor]
    return [sys.executable, "-m", "suite", "run", "--matrix", str(matrix), "--root", str(root),
            "--executor", executor, *extra, "--no-progress", "--no-leaderboard"]


class ProcessTree:
    """Every descendant of a driver seen while it ran (pid and start time: no reuse)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, float] = {}

    def poll(self) -> list[psutil.Process]:
        try:
            children = self.root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            try:
                self.seen.setdefault(child.pid, child.create_time())
            except psutil.NoSuchProcess:
                pass
        return children

    def alive(self) -> list[str]:
        left = []
        for pid, started in self.seen.items():
            try:
                proc = psutil.Process(pid)
                if proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{pid} {' '.join(proc.cmdline())[:80]}")
            except psutil.NoSuchProcess:
                pass
        return left

    def wait_gone(self, seconds: float = GONE_WITHIN) -> tuple[list[str], float]:
        """(processes still alive after ``seconds``, seconds until the last one exited)."""
        began = time.monotonic()
        while self.alive() and time.monotonic() - began < seconds:
            time.sleep(0.5)
        return self.alive(), time.monotonic() - began


def _busy_worker(tree: ProcessTree, executor: str) -> psutil.Process | None:
    for child in tree.poll():
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if executor == "processes" and "spawn_main" in cmdline:
            return child
        if executor == "ray" and cmdline.startswith("ray::") and "IDLE" not in cmdline:
            return child
    return None


def _run_to_the_end(command: list[str], store: Path) -> tuple[int, int, list[str], float]:
    """Rerun until a run exits 0 with nothing pending: (reruns, last exit code, orphans,
    the longest wait for a run's processes to exit)."""
    orphans: list[str] = []
    code, linger = -1, 0.0
    for rerun in range(1, RERUNS + 1):
        driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        tree = ProcessTree(driver.pid)
        while driver.poll() is None:
            tree.poll()
            time.sleep(0.3)
        output = driver.stdout.read().decode()
        left, waited = tree.wait_gone()
        orphans, linger = orphans + left, max(linger, waited)
        code = driver.returncode
        if code == 0 and "still pending" not in output and done_cells(store) == CELLS:
            return rerun, code, orphans, linger
    return RERUNS, code, orphans, linger


def _statuses(store: Path) -> list[str]:
    """The status of every cell in the store, sorted."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as con:
        return sorted(status for (status,) in con.execute("SELECT status FROM cells"))


def _equals_baseline(store: Path, baseline: Path) -> bool:
    """Every cell done, as in the uninterrupted run, and nothing that `suite diff` reports."""
    return _statuses(store) == ["done"] * CELLS and diff_stores(baseline, store).identical


@pytest.fixture(scope="module")
def matrix_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "faults.yaml"
    path.write_text(yaml.safe_dump(MATRIX))
    return path


@pytest.fixture(scope="module")
def baselines(matrix_file, tmp_path_factory) -> dict[str, Path]:
    """The store of one uninterrupted run per executor."""
    out = {}
    for executor in ("local", "processes", *(("ray",) if HAS_RAY else ())):
        root = tmp_path_factory.mktemp(f"baseline-{executor}")
        done = subprocess.run(_command(root, matrix_file, executor), capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        out[executor] = root / "results" / "store.sqlite"
        assert _statuses(out[executor]) == ["done"] * CELLS
    return out


def test_twenty_kill_points_lose_nothing_and_leave_no_process(matrix_file, baselines,
                                                               tmp_path):
    points = [p for p in kill_points() if HAS_RAY or p.executor != "ray"]
    assert len(kill_points()) == 20
    rows, problems = [], []
    for index, point in enumerate(points):
        root = tmp_path / f"point-{index:02d}"
        store = root / "results" / "store.sqlite"
        command = _command(root, matrix_file, point.executor)
        driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        tree = ProcessTree(driver.pid)
        killed, mid_run = "", False
        deadline = time.monotonic() + 300
        while driver.poll() is None and done_cells(store) < point.after \
                and time.monotonic() < deadline:
            tree.poll()
            time.sleep(0.1)
        time.sleep(point.delay)
        tree.poll()
        if driver.poll() is None:
            mid_run = done_cells(store) < CELLS
            if point.target == "driver":
                driver.send_signal(point.how)
                killed = f"driver {driver.pid}"
            else:
                until = time.monotonic() + 30
                worker = _busy_worker(tree, point.executor)
                while worker is None and driver.poll() is None and time.monotonic() < until:
                    time.sleep(0.05)
                    worker = _busy_worker(tree, point.executor)
                if worker is not None:
                    worker.send_signal(point.how)
                    killed = f"worker {worker.pid}"
        try:
            while driver.poll() is None:
                tree.poll()
                time.sleep(0.3)
            driver.wait(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
        before = done_cells(store)
        orphans, linger = tree.wait_gone()
        reruns, code, rerun_orphans, rerun_linger = _run_to_the_end(command, store)
        equal = store.exists() and _equals_baseline(store, baselines[point.executor])
        rows.append((point.label, killed or "not killed (run ended first)",
                     "yes" if mid_run else "no (all cells stored)", driver.returncode, before,
                     reruns, code, equal, len(orphans) + len(rerun_orphans),
                     f"{max(linger, rerun_linger):.1f}"))
        if not killed:
            problems.append(f"{point.label}: the run ended before the kill")
        if not equal:
            problems.append(f"{point.label}: the store differs from the uninterrupted run's")
        if orphans or rerun_orphans:
            problems.append(f"{point.label}: processes left: {orphans + rerun_orphans}")
    print("\n| kill point | killed | before the last cell | exit | done before | reruns | "
          "last exit | store equal | processes left | last process gone after (s) |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    mid = sum(row[2] == "yes" for row in rows)
    print(f"{mid} of {len(rows)} kills landed before the last cell was stored")
    assert not problems, "\n".join(problems)
    # the points are random, but most must interrupt work, or the test tests little
    assert mid >= 0.75 * len(rows), f"only {mid} of {len(rows)} kills landed mid-run"
