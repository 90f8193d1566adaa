"""`suite compare`: an explainer beside the built-ins on one matrix."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from suite.board.compare import build_comparison, compare_matrix
from suite.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    PROG,
    add_executor_arguments,
    add_root_argument,
    add_threads_argument,
    check_device,
    executor_options,
    load_plugin_specs,
    matrix_from_arg,
    open_store,
    set_threads,
)
from suite.core.files import atomic_write, check_target
from suite.core.paths import Paths
from suite.execution.runner import run_matrix

COMPARE_EXAMPLES = """\
examples:
  suite compare --explainer toy-inverse-degree --plugin suite_toy_plugin --matrix smoke
  suite compare --explainer gnnexplainer --explainer saliency --matrix default --executor ray"""


def _cmd_compare(args: argparse.Namespace) -> int:
    check_device(args.device)
    set_threads(args.threads)
    load_plugin_specs(args.plugin)
    options = executor_options(args)

    config = compare_matrix(matrix_from_arg(args.matrix), args.explainer)
    paths = Paths.from_env(args.root)
    store_path = Path(args.store) if args.store else paths.default_store
    out = Path(args.out) if args.out else paths.results / "compare" / (
        "-".join(config.explainers) + ".md")
    check_target(out, reads=[store_path])  # before the run: never lose it to a bad output path
    store = open_store(store_path, must_exist=False)
    try:
        summary = run_matrix(config, store, paths, device=args.device,
                             progress=not args.no_progress, executor=args.executor,
                             executor_options=options)
        print(summary.text())
        frame, instances = store.cells_frame(), store.instance_records()
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; finished cells are kept in {store_path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        store.close()
    result = build_comparison(frame, tuple(config.explainers), matrix=args.matrix,
                              instances=instances)
    text = result.markdown()
    atomic_write(out, text)
    if not args.quiet:
        print(text)
    print(f"comparison written to {out}")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "compare", help="run named explainers over a matrix and compare them with the board",
        description="Run the named explainers (built-in or plug-in) over the matrix's datasets, "
                    "models, trainings and seeds into the store, then write a Markdown "
                    "side-by-side against the store's board: per dataset the score, the rank, "
                    "the best other explainer and the paired difference over seeds with a 95% "
                    "t interval (exceeds seed noise when it excludes 0).",
        epilog=COMPARE_EXAMPLES, formatter_class=fmt)
    p.add_argument("--explainer", action="append", required=True, metavar="NAME",
                   help="an explainer to compare (repeatable)")
    p.add_argument("--matrix", default="smoke", metavar="NAME_OR_FILE",
                   help="matrix whose datasets, models, trainings and seeds are used (default smoke)")
    p.add_argument("--store", metavar="PATH",
                   help="the store of the board compared against, the new cells are added to it "
                        "(default: ROOT/results/store.sqlite)")
    p.add_argument("--out", metavar="FILE.md",
                   help="output (default: ROOT/results/compare/NAMES.md)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default: the matrix's)")
    add_root_argument(p)
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--quiet", action="store_true", help="do not print the comparison")
    add_executor_arguments(p)
    p.set_defaults(handler=_cmd_compare)
