"""`suite tune`: an explainer's settings on validation instances."""

from __future__ import annotations

import argparse
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    CliError,
    add_root_argument,
    add_threads_argument,
    matrix_from_arg,
    set_threads,
)
from suite.core.files import atomic_write, check_target
from suite.core.paths import Paths
from suite.execution.tuning import CRITERIA, TRIALS, load_grid, tune

TUNE_EXAMPLES = """\
examples:
  suite tune --explainer gnnexplainer --task node
  suite tune --explainer gnnexplainer --task graph --out results/reference/tuning-gnnexplainer-graph.md
  suite tune --explainer gnnexplainer --task node --grid my_grid.yaml --seeds 0

Only validation instances are explained; grids: suite/presets/tuning.yaml."""


def _cmd_tune(args: argparse.Namespace) -> int:
    set_threads(args.threads)

    config = matrix_from_arg(args.matrix)
    try:
        grid = load_grid(args.explainer, args.task, args.grid)
    except OSError as exc:
        raise CliError(f"--grid {args.grid}: {exc}") from None
    report = None if args.quiet else (lambda line: print(line, flush=True))
    # before the tuning: never lose a long run to a bad output path (a refusal is one line)
    out = check_target(args.out) if args.out else None
    result = tune(args.explainer, args.task, grid, config, Paths.from_env(args.root),
                  datasets=args.datasets, seeds=args.seeds, max_instances=args.max_instances,
                  criterion=args.criterion, trials=args.trials, progress=report)
    table = result.markdown()
    print(table)
    if out is not None:
        atomic_write(out, table)
        print(f"table written to {out}")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "tune", help="choose an explainer's hyper-parameters on validation instances",
        description="Score a grid of hyper-parameter settings of one explainer on the "
                    "validation explain instances of every dataset of one task level in a "
                    "matrix (never on test instances, never against the ground truth: the "
                    "criterion is faithfulness by real edge removal) and print the table and "
                    "the best setting.",
        epilog=TUNE_EXAMPLES, formatter_class=fmt)
    p.add_argument("--explainer", required=True, metavar="NAME", help="a registered explainer")
    p.add_argument("--task", required=True, choices=("node", "graph"), help="task level")
    p.add_argument("--matrix", default="default", metavar="NAME_OR_FILE",
                   help="matrix whose datasets, models, trainings and seeds are used "
                        "(default: default)")
    p.add_argument("--grid", metavar="FILE",
                   help="YAML grid file (default: suite/presets/tuning.yaml)")
    p.add_argument("--criterion", default="removal", metavar="NAME",
                   help="ground-truth-free criterion: " + ", ".join(CRITERIA)
                        + " (default: removal; ground-truth scores are refused)")
    p.add_argument("--trials", type=int, default=TRIALS, metavar="N",
                   help=f"the budget: the grid must hold exactly N settings (default {TRIALS}, "
                        "the same for every explainer)")
    p.add_argument("--out", metavar="FILE.md", help="also write the table to this file")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="only these datasets of the matrix")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="override the matrix's seeds")
    p.add_argument("--max-instances", type=int, metavar="N",
                   help="validation instances per cell (default: the matrix's max_instances)")
    add_root_argument(p, "caches")
    add_threads_argument(p)
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(handler=_cmd_tune)
