"""The ``ray`` executor: cells as Ray tasks, on a local or a remote Ray cluster.

How a run goes:

- one *prepare* task per distinct trained model (``Cell.model_key``) builds the
  dataset and trains the model into the on-disk caches (``Paths.dataset_cache``,
  ``Paths.model_cache``); every cell of that model is a task that depends on it,
  so it starts only once the model is cached and loads it instead of training
  it again (on a multi-node cluster the root directory must be on a shared
  filesystem, e.g. NFS; otherwise each node trains its own copy once);
- each cell task calls the same pure :func:`suite.execution.cell.run_cell` as the
  ``local`` executor, after fixing torch's CPU threads and loading the run's
  ``--plugin`` specs in the worker;
- outcomes are yielded to the driver as they arrive (``ray.wait``); only the
  driver writes the results store, one transaction per cell;
- a task whose worker dies (``WorkerCrashedError``, a lost node) is not recorded:
  the cell stays pending and a rerun of the same command runs it; a task that
  raises (a plug-in that cannot be imported on the worker) is recorded as failed;
- Ctrl-C or a lost cluster raises in the driver after every finished cell was
  committed; the pending tasks are cancelled.

Resources per task: ``num_cpus=1``; with a CUDA device also ``num_gpus`` (default
1, fractional values pack several cells on one GPU). Ray is the optional extra
``ray``; without it this executor fails with one line saying how to install it.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator, Sequence

from suite.core.lifecycle import sigterm_handler_kept
from suite.core.paths import Paths
from suite.core.seeding import seed_everything
from suite.datasets import load_dataset
from suite.execution.cell import RunMemo, error_text, run_cell, trained_model
from suite.execution.executors import EXECUTORS
from suite.matrix import Cell, CellOutcome, CellStatus, cell_labels
from suite.plugins.loading import load_plugins
from suite.store.database import utc_now

log = logging.getLogger(__name__)

#: The one-line error when Ray is not installed.
INSTALL_HINT = ('--executor ray needs Ray, which is not installed: pip install ".[ray]" '
                '(or pip install "ray[default]")')


class RayUnavailableError(RuntimeError):
    """Ray is not installed (the message says how to install it)."""


#: How long the driver blocks in one ``ray.wait`` before it checks for Ctrl-C again (s).
WAIT_SECONDS = 1.0


def require_ray() -> Any:
    """The ``ray`` module, or :class:`RayUnavailableError` with :data:`INSTALL_HINT`."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(INSTALL_HINT) from None
    return ray


# --------------------------------------------------------------------------- worker side


def _worker_setup(threads: int, plugins: Sequence[str]) -> None:
    """Fix torch's CPU threads and load the run's plug-ins (idempotent) in a worker."""
    import torch


    torch.set_num_threads(int(threads))
    load_plugins(plugins)


def prepare_model(cell: Cell, paths: Paths, threads: int, plugins: Sequence[str]) -> str:
    """Build ``cell``'s dataset and train its model into the caches; '' or the error text.

    Never raises: a failure here is met again (and recorded) by the cell itself.
    """

    try:
        _worker_setup(threads, plugins)
        seed_everything(cell.seed)
        # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
        dataset = load_dataset(cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache,  # nosec B615
                               **cell.dataset_params)
        trained_model(cell, dataset, paths, cell.device, RunMemo())
        return ""
    except Exception as exc:  # recorded by the cell task, which fails the same way
        return error_text(exc)


def run_cell_task(cell: Cell, paths: Paths, threads: int, plugins: Sequence[str],
                  prepared: str = "") -> CellOutcome:
    """One cell in a worker: set up, then :func:`suite.execution.cell.run_cell` (``prepared`` only orders it)."""
    _worker_setup(threads, plugins)
    return run_cell(cell, paths)


# --------------------------------------------------------------------------- driver side


def connect(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to Ray unless already connected; True when this call started the connection.

    ``address``: a running cluster (``ray start --head`` prints it; ``"auto"`` finds a
    local one); None starts a local cluster with ``num_cpus`` CPUs (default: all).
    """
    ray = require_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline machines: no phone-home
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True,
                              "logging_level": logging.WARNING}
    if address:
        kwargs["address"] = address
    elif num_cpus is not None:
        kwargs["num_cpus"] = int(num_cpus)
    # ray.init replaces the SIGTERM handler with one that calls sys.exit, which would skip
    # the run's interrupt handling (the driver then aborts in Ray's shutdown): keep ours
    with sigterm_handler_kept():
        ray.init(**kwargs)
    return True


def _resources(cell: Cell, gpus_per_cell: float) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
    if str(cell.device).startswith("cuda"):
        options["num_gpus"] = float(gpus_per_cell)
    return options


def _failed(cell: Cell, error: str) -> CellOutcome:
    labels: dict[str, str] = {}
    try:
        labels = cell_labels(cell)
    except Exception:  # an unknown plug-in name on the driver: labels stay empty
        pass
    now = utc_now()
    return CellOutcome(cell=cell, status=CellStatus.FAILED, error=error, started_at=now,
                       finished_at=now, **labels)


@EXECUTORS.register("ray", description="cells as Ray tasks on a local or remote cluster "
                                       "(pip install \".[ray]\")")
def ray_executor(cells: Sequence[Cell], paths: Paths, on_start: Callable[[Cell], None], *,
                 address: str | None = None, num_cpus: int | None = None, threads: int = 1,
                 plugins: Sequence[str] = (), gpus_per_cell: float = 1.0,
                 ) -> Iterator[CellOutcome]:
    """Run ``cells`` as Ray tasks and yield their outcomes as they finish (see the module docstring).

    A cell whose worker died is not yielded (it stays pending in the store).
    """
    ray = require_ray()
    if not cells:
        return
    started = connect(address, num_cpus)
    prepare = ray.remote(prepare_model)
    task = ray.remote(run_cell_task)
    pending: dict[Any, Cell] = {}
    try:
        models: dict[str, Any] = {}
        for cell in cells:
            options = _resources(cell, gpus_per_cell)
            if cell.model_key not in models:
                models[cell.model_key] = prepare.options(**options).remote(
                    cell, paths, threads, list(plugins))
            ref = task.options(**options).remote(cell, paths, threads, list(plugins),
                                                  models[cell.model_key])
            pending[ref] = cell
        while pending:
            # a short timeout returns control to Python every second, so a Ctrl-C reaches
            # the driver promptly instead of waiting for the next cell to finish
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
            if not ready:
                continue
            cell = pending.pop(ready[0])
            on_start(cell)
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # raised inside the task: recorded
                outcome = _failed(cell, _task_error(exc))
            except ray.exceptions.RayError as exc:  # the worker or its node died: left pending
                log.warning("cell %s lost (%s): left pending; rerun to finish it", cell.label,
                            type(exc).__name__)
                continue
            yield outcome
    finally:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # the cluster may already be gone
                pass
        if started:
            ray.shutdown()


def _task_error(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        message = str(cause).strip().splitlines()
        return f"{type(cause).__name__}: {message[0]}" if message else type(cause).__name__
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
