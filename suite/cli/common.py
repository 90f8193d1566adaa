"""What the ``suite`` commands share: exit codes, one-line errors, argument helpers."""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterator, Sequence

from suite.board.write import write_leaderboard
from suite.core.config import ConfigError
from suite.core.lifecycle import INTERRUPTED_EXIT
from suite.core.registry import UnknownNameError
from suite.execution.process_executor import default_workers
from suite.execution.ray_executor import RayUnavailableError, require_ray
from suite.matrix import load_matrix, matrix_document, parse_matrix, restrict_document
from suite.plugins.loading import PluginError, load_plugins, split_spec
from suite.store.database import ResultsStore, StoreVersionError
from suite.store.submissions import SubmissionError, submission_records, with_submissions

PROG = "suite"
EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, INTERRUPTED_EXIT
EXIT_CHECK_FAILED = 1  # `suite check`: a score fell below its reference tolerance
EXIT_CELLS_FAILED = 1  # `suite run`: some cell failed (a cell skipped with its reason is not)
EXIT_DIFFERENT = 1  # `suite diff`: the stores differ


class CliError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one-line ``CliError``s."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)")


def check_device(device: str | None) -> None:
    if device is None or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise CliError(f"--device {device}: CUDA is not available on this machine ({why}, "
                       f"torch {torch.__version__}); use --device cpu")


def store_errors() -> tuple[type[BaseException], ...]:
    return (StoreVersionError, sqlite3.DatabaseError, OSError)


def matrix_from_arg(name_or_path: str, seeds: Sequence[int] | None = None,
                    **keep: Sequence[str] | None) -> Any:
    """The matrix ``--matrix`` names, cut to the ``--datasets``/``--models``/``--trainings``/
    ``--explainers`` given (``keep``, None: all) and to ``--seeds`` (:func:`restrict_document`)."""
    try:
        if seeds is None and all(v is None for v in keep.values()):
            return load_matrix(name_or_path)
        name, source, raw = matrix_document(name_or_path)
        cut = restrict_document(raw, seeds=seeds, **keep)
        return parse_matrix(cut, source=f"{source} (restricted)", default_name=name)
    except (UnknownNameError, ConfigError, OSError) as exc:
        message = str(exc)
        prefix = "" if str(name_or_path) in message else f"--matrix {name_or_path}: "
        raise CliError(prefix + message) from None


def open_store(path: Path, must_exist: bool) -> Any:
    if must_exist and not path.is_file():
        raise CliError(f"no results store at {path}: run `suite run --matrix smoke` first, "
                       "or pass --store PATH")
    try:
        return ResultsStore(path)
    except store_errors() as exc:
        raise CliError(f"cannot open the results store {path}: {exc}") from None


def write_board(store: Any, out: Path, include: Sequence[str] | None = None,
                 readme: str | None = None) -> None:
    frame, instances = store.cells_frame(), store.instance_records()
    if include:

        try:
            frame = with_submissions(frame, list(include))
        except SubmissionError as exc:
            raise CliError(str(exc)) from None
        instances.update(submission_records(frame))
    if readme is not None and not Path(readme).is_file():
        raise CliError(f"--readme: no file {readme}")
    try:
        written = write_leaderboard(frame, out, instances, readme=readme)
    except ValueError as exc:
        raise CliError(f"--readme {readme}: {exc}") from None
    print(f"leaderboard written to {out}:")
    for path in written:
        print(f"  {path}")


def set_threads(threads: int) -> None:
    """Fix torch's CPU threads (recorded with every run by the environment record)."""
    if threads < 1:
        raise CliError(f"--threads: expected a positive integer (got {threads})")
    import torch

    torch.set_num_threads(threads)


def load_plugin_specs(specs: Sequence[str] | None) -> list[Any]:
    """Load ``--plugin`` specs (one-line ``CliError`` when one cannot be loaded)."""

    try:
        return load_plugins(specs)
    except (PluginError, ValueError) as exc:
        raise CliError(str(exc)) from None


def executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--executor`` options of ``suite run``/``suite compare``; checks Ray is there."""
    executor = getattr(args, "executor", "local") or "local"
    plugins = [str(plugin_path(spec)) for spec in (getattr(args, "plugin", None) or ())]
    if executor != "processes" and getattr(args, "workers", None) is not None:
        raise CliError("--workers: only used with --executor processes")
    if executor != "ray" and getattr(args, "address", None):
        raise CliError("--address: only used with --executor ray")
    if executor == "processes":
        if args.workers is not None and args.workers < 1:
            raise CliError(f"--workers: expected a positive number (got {args.workers})")

        return {"workers": args.workers or default_workers(), "threads": args.threads,
                "plugins": plugins}
    if executor != "ray":
        return {}

    try:
        require_ray()
    except RayUnavailableError as exc:
        raise CliError(str(exc)) from None
    if args.gpus_per_cell <= 0:
        raise CliError(f"--gpus-per-cell: expected a positive number (got {args.gpus_per_cell})")
    if args.num_cpus is not None and args.num_cpus < 1:  # 0 CPUs: Ray would queue every cell forever
        raise CliError(f"--num-cpus: expected a positive number (got {args.num_cpus})")
    if args.num_cpus is not None and args.address:
        raise CliError("--num-cpus: only for a local cluster (an --address cluster has its own CPUs)")
    return {"address": args.address, "num_cpus": args.num_cpus, "threads": args.threads,
            "gpus_per_cell": args.gpus_per_cell, "plugins": plugins}


def plugin_path(spec: str) -> str:
    """A file spec made absolute (workers may start in another directory)."""

    target, attribute = split_spec(spec)
    if target.endswith(".py") or Path(target).is_file():
        target = str(Path(target).resolve())
    return f"{target}:{attribute}" if attribute else target


def add_root_argument(p: argparse.ArgumentParser, holds: str = "caches and results") -> None:
    """``--root``: the directory ``Paths.from_env`` puts ``holds`` under."""
    p.add_argument("--root", metavar="DIR",
                   help=f"root directory for {holds} (default: $SUITE_HOME or the current "
                        "directory)")


#: Environment variables ``--root`` sets for the duration of a command (``SUITE_HOME`` is read
#: by every ``Paths.from_env``, worker processes included; matplotlib keeps its font cache
#: under ``MPLCONFIGDIR``, else under ``$HOME``).
ROOT_ENVIRONMENT = ("SUITE_HOME", "MPLCONFIGDIR")


@contextlib.contextmanager
def rooted(root: str | os.PathLike | None) -> Iterator[None]:
    """While the body runs, every file the suite writes goes under ``root`` (when given):
    ``SUITE_HOME=root`` and, unless the user set it, ``MPLCONFIGDIR=root/.cache/matplotlib``.
    The environment is restored afterwards (a command run in-process leaves nothing behind)."""
    if root is None:
        yield
        return
    resolved = Path(root).expanduser().resolve()
    saved = {name: os.environ.get(name) for name in ROOT_ENVIRONMENT}
    os.environ["SUITE_HOME"] = str(resolved)
    if saved["MPLCONFIGDIR"] is None:
        os.environ["MPLCONFIGDIR"] = str(resolved / ".cache" / "matplotlib")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def add_threads_argument(p: argparse.ArgumentParser, help: str = "torch CPU threads (default 1)"
                         ) -> None:
    """``--threads`` (default 1; applied with :func:`set_threads`)."""
    p.add_argument("--threads", type=int, default=1, metavar="N", help=help)


def add_plugin_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", action="append", metavar="SPEC",
                   help="load a plug-in first: module, module:Class, file.py or file.py:Class "
                        "(repeatable; installed packages register through the entry-point "
                        "group suite.explainers instead)")


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", choices=("local", "processes", "ray"),
                   help="local: cells one after another in this process (default); processes: "
                        "cells in worker processes on this machine, one per core (--workers); "
                        "ray: cells as Ray tasks (pip install \".[ray]\")")
    p.add_argument("--workers", type=int, metavar="N",
                   help="--executor processes: worker processes (default: one per core)")
    p.add_argument("--address", metavar="ADDR",
                   help="--executor ray: a running cluster (`ray start --head` prints it; "
                        "auto: the local one); default: start a local cluster")
    p.add_argument("--num-cpus", type=int, metavar="N",
                   help="--executor ray without --address: CPUs of the local cluster "
                        "(default: all)")
    p.add_argument("--gpus-per-cell", type=float, default=1.0, metavar="G",
                   help="--executor ray --device cuda: GPUs each cell asks Ray for (default 1; "
                        "0.25 runs four cells per GPU)")
    add_plugin_argument(p)
