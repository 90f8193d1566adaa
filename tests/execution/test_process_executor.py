"""The ``processes`` executor: cells in worker processes on this machine.

Its scheduler never trains one model in two workers at once and lets every worker
help with the last models' cells; a two-worker run equals the local executor
(every score within 1e-6, timings excluded) and trains each model once; a worker
that dies leaves its cell pending and a rerun finishes it; Ctrl-C of the driver
keeps every finished cell.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.core.lifecycle import pid_alive
from suite.execution.process_executor import CellScheduler
from suite.matrix import expand, parse_matrix
from suite.store.database import ResultsStore
from tests.execution.executor_helpers import (
    comparable_scores,
    done_cells,
    run_into,
    signal_driver_after,
)

HERE = Path(__file__).resolve().parents[1]  # tests/
PLUGIN = str(HERE / "plugins" / "ray_explainers.py")


def _tiny(explainers: dict, models: tuple[str, ...] = ("gcn",), seeds=(0,)):
    return parse_matrix({
        "name": "tiny-processes", "seeds": list(seeds), "max_instances": 5, "instances": "all",
        "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8, "num_features": 4}},
        "models": {name: {"hidden": 8, "num_layers": 2} for name in models},
        "trainings": {"standard": {"epochs": 30, "patience": 0}},
        "explainers": explainers})


# --------------------------------------------------------------------------- the scheduler


def _cells():
    config = _tiny({"random": {}, "saliency": {}, "grad-x-input": {}}, models=("gcn", "gin"))
    cells, _ = expand(config)
    return cells


def test_the_scheduler_never_trains_one_model_twice_at_once_and_prefers_the_same_model():
    cells = _cells()
    gcn, gin = (cells[0].model_key, next(c.model_key for c in cells
                                          if c.model_key != cells[0].model_key))
    scheduler = CellScheduler.of(cells)
    first = scheduler.next_for(None)  # worker A: trains the first model
    second = scheduler.next_for(None)  # worker B: may not train it too, so it takes the other
    assert (first.model_key, second.model_key) == (gcn, gin)
    assert scheduler.next_for(None) is None  # a third worker waits: both models are training
    scheduler.finished(first)
    follow = scheduler.next_for(first.model_key)  # A stays on its model (in its memo)
    assert follow.model_key == gcn
    scheduler.finished(second)
    assert scheduler.next_for(second.model_key).model_key == gin
    # the tail: a worker whose model has no cells left helps with a trained model's cells
    rest = []
    while (cell := scheduler.next_for("none-of-these")) is not None:
        rest.append(cell)
    assert len(rest) == len(cells) - 4 and len(scheduler) == 0
    assert {c.model_key for c in rest} <= {gcn, gin}


def test_a_lost_cell_lets_another_worker_train_its_model():
    cells = _cells()
    scheduler = CellScheduler.of(cells)
    first = scheduler.next_for(None)
    other = scheduler.next_for(None)
    assert other.model_key != first.model_key
    assert all(c.model_key != first.model_key for c in [scheduler.next_for(None)] if c)
    scheduler.lost(first)  # its worker died while training: the model is free again
    again = scheduler.next_for(None)
    assert again is not None and again.model_key == first.model_key


# --------------------------------------------------------------------------- real processes


def test_two_workers_equal_the_local_executor_and_train_each_model_once(tmp_path):
    config = _tiny({"random": {}, "saliency": {}, "integrated-gradients": {}},
                   models=("gcn", "gin"))
    summary, remote, runs = run_into(tmp_path, "p.sqlite", config, executor="processes",
                                 executor_options={"workers": 2, "threads": 1})
    assert (summary.done, summary.failed, summary.pending) == (6, 0, 0)
    environment = json.loads(runs["environment_json"].iloc[0])  # recorded with the run
    assert environment["executor"] == {"name": "processes", "workers": 2, "threads": 1}
    models = sorted((tmp_path / "results" / "cache" / "models").glob("*.pt"))
    assert len(models) == 2  # one cache entry per model: nobody trained one twice
    stamps = {p: p.stat().st_mtime_ns for p in models}
    _, local, _ = run_into(tmp_path, "local.sqlite", config, executor="local")
    assert {p: p.stat().st_mtime_ns for p in models} == stamps  # the local run loaded them
    a, b = comparable_scores(remote), comparable_scores(local)
    assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
    assert len(a.columns) > 10 and a["edge_auc"].notna().all()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-6, equal_nan=True)


def test_a_dead_worker_leaves_its_cell_pending_and_a_rerun_finishes_it(tmp_path):
    marker = tmp_path / "crash"
    marker.touch()
    from suite.explainers import EXPLAINERS
    from suite.plugins.loading import load_plugin

    names = load_plugin(f"{PLUGIN}:CrashWhileMarked").explainers  # the driver expands the cell
    try:
        config = _tiny({"random": {}, "saliency": {}, "test-crash": {"marker": str(marker)}})
        options = {"workers": 2, "plugins": [f"{PLUGIN}:CrashWhileMarked"]}
        summary, frame, runs = run_into(tmp_path, "s.sqlite", config, executor="processes",
                                    executor_options=options)
        assert (summary.done, summary.failed, summary.pending) == (2, 0, 1)
        assert sorted(frame["explainer"]) == ["random", "saliency"]
        assert runs["status"].tolist() == ["interrupted"]
        marker.unlink()
        summary, frame, runs = run_into(tmp_path, "s.sqlite", config, executor="processes",
                                    executor_options={**options, "workers": 1})
        assert (summary.already_done, summary.done, summary.pending) == (2, 1, 0)
        assert (frame["status"] == "done").all() and len(frame) == 3
    finally:
        for name in names:
            EXPLAINERS.remove(name)


def _stalling_run(tmp_path: Path, explainers: dict) -> tuple[list[str], Path, Path]:
    """(``suite run`` command, its store, the marker) of a two-worker run of ``explainers``
    plus one cell that stalls while the marker exists (the driver loads the plug-in)."""
    marker = tmp_path / "stall"
    marker.touch()
    spec = _tiny(explainers).to_dict()
    spec["explainers"]["test-stall"] = {"marker": str(marker)}
    matrix = tmp_path / "tiny.yaml"
    matrix.write_text(yaml.safe_dump(spec))
    store = tmp_path / "s.sqlite"
    command = [sys.executable, "-m", "suite", "run", "--matrix", str(matrix), "--store",
               str(store), "--root", str(tmp_path), "--executor", "processes", "--workers",
               "2", "--plugin", f"{PLUGIN}:StallWhileMarked", "--no-progress",
               "--no-leaderboard"]
    return command, store, marker


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_of_the_driver_keeps_every_finished_cell(tmp_path, how):
    command, store, _ = _stalling_run(tmp_path, {"random": {}, "saliency": {}})
    code, output = signal_driver_after(command, store, 2, how)
    assert code == 130, output[-2000:]
    assert "Traceback" not in output  # the workers ignore SIGINT: no worker tracebacks
    with ResultsStore(store) as results:
        frame, runs = results.cells_frame(), results.runs_frame()
    assert runs["status"].tolist() == ["interrupted"]
    assert sorted(frame["explainer"]) == ["random", "saliency"]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _described(pid: int) -> str:
    """``pid (state, parent) command line`` from /proc, for a failure message."""
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        return (f"{pid} ({fields.get('State', '?').strip()}, parent "
                f"{fields.get('PPid', '?').strip()}) {command[:200]}")
    except OSError as exc:
        return f"{pid} ({exc})"


def test_workers_exit_when_the_driver_is_killed_and_its_run_is_then_interrupted(tmp_path):
    """``kill -9`` of the driver: its workers notice they were re-parented and exit (no
    orphan blocked on a pipe), and the next start marks the dead driver's run interrupted."""
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists():
        pytest.skip("/proc/PID/task/PID/children is not available here")
    command, store, marker = _stalling_run(tmp_path, {"random": {}})
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while done_cells(store) < 1 and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.5)
        assert done_cells(store) == 1, "the first cell did not finish in time"
        workers = [pid for pid in _children(driver.pid) if pid_alive(pid)]
        assert workers, "no worker process found"
        driver.kill()
        driver.wait(timeout=30)
        deadline = time.monotonic() + 20
        while any(pid_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in workers if pid_alive(pid)]
        assert not left, f"orphaned workers still alive: {[_described(pid) for pid in left]}"
    finally:
        if driver.poll() is None:
            driver.kill()
        marker.unlink(missing_ok=True)
    with ResultsStore(store) as results:
        assert results.runs_frame()["status"].tolist() == ["running"]
        (stale,) = results.close_stale_runs(socket.gethostname(), pid_alive)
        assert results.runs_frame()["status"].tolist() == ["interrupted"]
        assert results.runs_frame()["run_id"].tolist() == [stale]
