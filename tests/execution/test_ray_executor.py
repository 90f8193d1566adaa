"""The Ray executor on a local cluster (``ray.init(num_cpus=2)``).

The smoke matrix under Ray equals the local executor (every score within 1e-6,
timings excluded); a worker that dies leaves its cell pending and a rerun
finishes it; a driver killed mid-run loses no finished cell and a rerun
completes the matrix. Skipped, with the reason, when Ray is not installed.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.plugins.loading import load_plugin
from suite.store.database import ResultsStore
from tests.execution.executor_helpers import (
    comparable_scores,
    run_into,
    signal_driver_after,
)

HERE = Path(__file__).resolve().parents[1]  # tests/
PLUGIN = str(HERE / "plugins" / "ray_explainers.py")


ray = pytest.importorskip("ray", reason='Ray is not installed (pip install ".[ray]")')


@pytest.fixture(scope="module")
def misbehaving():
    """Register the two test plug-ins in this process; unregister them after the module."""
    from suite.explainers import EXPLAINERS

    names = [n for cls in ("CrashWhileMarked", "StallWhileMarked")
             for n in load_plugin(f"{PLUGIN}:{cls}").explainers]
    yield
    for name in names:
        EXPLAINERS.remove(name)


def test_smoke_matrix_under_ray_equals_the_local_executor(tmp_path, cluster):
    summary, remote, _ = run_into(tmp_path, "ray.sqlite", "smoke", executor="ray")
    assert (summary.done, summary.failed, summary.pending) == (3, 0, 0)
    models = sorted((tmp_path / "results" / "cache" / "models").glob("*"))
    assert models and len({p.stem.split(".")[0] for p in models}) == 1  # trained once, shared
    stamps = {p: p.stat().st_mtime_ns for p in models}
    _, local, _ = run_into(tmp_path, "local.sqlite", "smoke", executor="local")
    assert {p: p.stat().st_mtime_ns for p in models} == stamps  # the local run loaded it too
    a, b = comparable_scores(remote), comparable_scores(local)
    assert list(a.index) == list(b.index) and list(a.columns) == list(b.columns)
    assert len(a.columns) > 10 and a["edge_auc"].notna().all()
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-6, equal_nan=True)


def _tiny(root: Path, explainer: str, marker: Path) -> object:
    from suite.matrix import parse_matrix

    return parse_matrix({
        "name": "tiny-ray", "seeds": [0], "max_instances": 5, "instances": "all",
        "datasets": {"ba-shapes": {"num_base": 40, "num_motifs": 8, "num_features": 4}},
        "models": {"gcn": {"hidden": 8, "num_layers": 2}},
        "trainings": {"standard": {"epochs": 30, "patience": 0}},
        "explainers": {"random": {}, "saliency": {}, explainer: {"marker": str(marker)}}})


def test_a_dead_worker_leaves_its_cell_pending_and_a_rerun_finishes_it(tmp_path, cluster,
                                                                        misbehaving):
    marker = tmp_path / "crash"
    marker.touch()
    config = _tiny(tmp_path, "test-crash", marker)
    options = {"plugins": [f"{PLUGIN}:CrashWhileMarked"]}
    summary, frame, runs = run_into(tmp_path, "s.sqlite", config, executor="ray",
                                executor_options=options)
    assert (summary.done, summary.failed, summary.pending) == (2, 0, 1)
    assert "still pending" in summary.text()
    assert sorted(frame["explainer"]) == ["random", "saliency"]  # the lost cell is not recorded
    assert runs["status"].tolist() == ["interrupted"]
    marker.unlink()
    summary, frame, runs = run_into(tmp_path, "s.sqlite", config, executor="ray",
                                executor_options=options)
    assert (summary.already_done, summary.done, summary.pending) == (2, 1, 0)
    assert (frame["status"] == "done").all() and len(frame) == 3
    assert runs["status"].tolist() == ["interrupted", "finished"]


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL],
                         ids=["ctrl-c", "sigterm", "kill-9"])
def test_a_driver_stopped_mid_run_loses_no_finished_cell(tmp_path, cluster, misbehaving, how):
    """Ctrl-C or SIGTERM (exit 130, the run marked interrupted: ``ray.init`` must not keep
    its own SIGTERM handler) or kill -9 of the driver while a cell is still running; a rerun
    on the same cluster finishes the matrix."""
    marker = tmp_path / "stall"
    marker.touch()
    config = _tiny(tmp_path, "test-stall", marker)
    matrix = tmp_path / "tiny.yaml"
    matrix.write_text(yaml.safe_dump(config.to_dict()))
    store = tmp_path / "s.sqlite"
    command = [sys.executable, "-m", "suite", "run", "--matrix", str(matrix), "--store",
               str(store), "--root", str(tmp_path), "--executor", "ray", "--address", cluster,
               "--plugin", f"{PLUGIN}:StallWhileMarked", "--no-progress", "--no-leaderboard"]
    code, _ = signal_driver_after(command, store, 2, how)
    with ResultsStore(store) as results:
        frame, runs = results.cells_frame(), results.runs_frame()
    if how in (signal.SIGINT, signal.SIGTERM):
        assert code == 130 and runs["status"].tolist() == ["interrupted"]
    assert sorted(frame["explainer"]) == ["random", "saliency"]
    assert (frame["status"] == "done").all()
    marker.unlink()
    summary, frame, _ = run_into(tmp_path, "s.sqlite", config, executor="ray",
                             executor_options={"plugins": [f"{PLUGIN}:StallWhileMarked"]})
    assert (summary.already_done, summary.done, summary.pending) == (2, 1, 0)
    assert sorted(frame["explainer"]) == ["random", "saliency", "test-stall"]


def test_tasks_ask_for_a_gpu_only_on_cuda_and_fix_torch_threads(cluster, misbehaving):
    from suite.execution.ray_executor import _resources, _worker_setup
    from suite.matrix import expand

    cell = expand(_tiny(Path("."), "test-crash", Path("unused")))[0][0]
    assert _resources(cell, 1.0) == {"num_cpus": 1, "max_retries": 0}
    cuda = type(cell)(**{**cell.to_dict(), "device": "cuda"})
    assert _resources(cuda, 0.25) == {"num_cpus": 1, "max_retries": 0, "num_gpus": 0.25}

    @ray.remote(num_cpus=1)
    def threads_after_setup(n):
        import torch

        _worker_setup(n, [])
        return torch.get_num_threads()

    assert ray.get([threads_after_setup.remote(1), threads_after_setup.remote(2)]) == [1, 2]
