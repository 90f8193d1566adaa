"""`suite run`: a matrix into the results store, then the leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_CELLS_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    CliError,
    add_executor_arguments,
    add_root_argument,
    add_threads_argument,
    check_device,
    executor_options,
    load_plugin_specs,
    matrix_from_arg,
    open_store,
    set_threads,
    write_board,
)
from suite.core.paths import Paths
from suite.execution.runner import run_matrix

RUN_EXAMPLES = """\
examples:
  suite run --matrix smoke                      seconds: one small dataset, a few explainers
  suite run --matrix default                    every synthetic dataset (minutes on CPU)
  suite run --matrix default --executor processes            one worker per core (make run)
  suite run --matrix my_matrix.yaml --device cuda --store results/gpu.sqlite
  suite run --matrix default --executor ray                  a local Ray cluster, all CPUs
  suite run --matrix default --executor ray --address auto   the cluster of `ray start --head`
  suite run --matrix smoke --plugin my_pkg.explainers:MyExplainer
  suite run --datasets ba-shapes --models gcn-sum --explainers random saliency --seeds 0
                                                the default preset cut down, no YAML file

A rerun of the same matrix resumes: finished cells are kept and skipped."""


def _cmd_run(args: argparse.Namespace) -> int:
    check_device(args.device)
    set_threads(args.threads)
    load_plugin_specs(args.plugin)
    options = executor_options(args)
    cut = {"datasets": args.datasets, "models": args.models, "trainings": args.trainings,
           "explainers": args.explainers}
    if args.matrix is None and args.seeds is None and all(v is None for v in cut.values()):
        raise CliError("--matrix NAME_OR_FILE is required (or cut the default preset down with "
                       "--datasets/--models/--trainings/--explainers/--seeds)")
    config = matrix_from_arg(args.matrix or "default", seeds=args.seeds, **cut)
    paths = Paths.from_env(args.root, args.model_cache)
    store_path = Path(args.store) if args.store else paths.default_store
    out = Path(args.out) if args.out else paths.leaderboard_dir

    store = open_store(store_path, must_exist=False)
    try:
        summary = run_matrix(config, store, paths, device=args.device,
                             progress=not args.no_progress, executor=args.executor,
                             executor_options=options)
        if hasattr(summary, "text"):
            print(summary.text())
        else:
            counts = ", ".join(f"{getattr(summary, k, 0)} {k}"
                               for k in ("done", "failed", "skipped"))
            print(f"matrix {getattr(config, 'name', args.matrix)}: {counts}")
        print(f"results in {store_path}")
        if getattr(summary, "failed", 0):
            print("failed cells are listed with their errors at the end of the leaderboard")
        if not args.no_leaderboard:
            write_board(store, out)
        failed = int(getattr(summary, "failed", 0) or 0)
        pending = int(getattr(summary, "pending", 0) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every finished cell is kept in {store_path}; "
              "rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        store.close()
    if failed:
        print(f"{PROG}: {failed} cell(s) failed; finished cells are kept, and the failures are "
              "listed at the end of the leaderboard", file=sys.stderr)
        return EXIT_CELLS_FAILED
    if pending:  # a worker died: the run is interrupted, not finished (as the store says)
        print(f"{PROG}: {pending} cell(s) lost by the executor are still pending; rerun the "
              "same command to finish them", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "run", help="run a benchmark matrix into the results store, then write the leaderboard",
        description="Run every cell of a matrix (datasets x models x trainings x explainers x "
                    "seeds), record each finished cell in the results store and write the "
                    "leaderboard.", epilog=RUN_EXAMPLES, formatter_class=fmt)
    p.add_argument("--matrix", metavar="NAME_OR_FILE",
                   help="a preset name (smoke, default, ...) or the path of a YAML matrix file "
                        "(with --datasets/--models/--trainings/--explainers/--seeds: default)")
    for section in ("datasets", "models", "trainings", "explainers"):
        p.add_argument(f"--{section}", nargs="+", metavar="NAME",
                       help=f"only these {section} of the matrix, with its settings")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="these seeds instead of the matrix's")
    p.add_argument("--store", metavar="PATH",
                   help="results store (SQLite; default: ROOT/results/store.sqlite)")
    p.add_argument("--device", choices=("cpu", "cuda"),
                   help="device to train and explain on (default: the matrix's device)")
    add_root_argument(p)
    p.add_argument("--out", metavar="DIR",
                   help="leaderboard directory (default: ROOT/results/leaderboard)")
    add_threads_argument(p, help="torch CPU threads (default 1: the benchmark's graphs are "
                                 "small, so threads mostly add synchronisation, and one thread "
                                 "keeps throughput comparable across machines; recorded with "
                                 "the results)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--model-cache", metavar="DIR",
                   help="trained-model cache (default: ROOT/results/cache/models; the committed "
                        "reference models are read after it; `make reference` trains into them)")
    p.add_argument("--no-leaderboard", action="store_true",
                   help="do not write the leaderboard after the run")
    add_executor_arguments(p)
    p.set_defaults(handler=_cmd_run)
