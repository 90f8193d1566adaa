"""The ``suite`` command line: parsing and printing only; the work lives in the modules.

Commands::

    suite list datasets|models|trainings|explainers|metrics
    suite run --matrix NAME_OR_FILE [--store PATH] [--device cpu|cuda] [--root DIR]
    suite leaderboard [--store PATH] [--out DIR] [--root DIR]
    suite tune --explainer NAME --task node|graph [--matrix default] [--grid FILE] [--out FILE.md]
    suite report NAME [--out DIR] [--quick] [--seed N] [--device cpu|cuda]
    suite run ... [--executor local|processes|ray] [--workers N] [--address ADDR] [--plugin SPEC]
    suite validate-plugin SPEC [--levels node graph]
    suite compare --explainer NAME [--plugin SPEC] [--matrix M] [--store PATH]
    suite merge A.sqlite B.sqlite ... --out C.sqlite
    suite export --format csv|parquet [--store PATH] [--out FILE] [--plugin-ref REF]
    suite leaderboard ... [--include SUBMISSION]
    suite check --reference FILE [--matrix NAME_OR_FILE] | --write-reference FILE [--seeds ...]
    suite bench [--quick] [--scaling] [--overhead] [--tasks ...] [--explainers ...] [--out DIR] [--device cpu|cuda]

A user error (unknown name, malformed matrix, missing store, no CUDA) prints one
line to stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from suite.cli import (
    bench,
    check,
    compare,
    leaderboard,
    listing,
    new_explainer,
    report,
    run,
    select_models,
    stores,
    tune,
    validate_plugin,
    verify_submission,
)
from suite.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CliError,
    Parser,
    rooted,
)
from suite.core.config import ConfigError
from suite.core.files import TargetError
from suite.core.lifecycle import sigterm_as_interrupt
from suite.core.registry import UnknownNameError
from suite.core.version import __version__
from suite.datasets.base import DatasetUnavailable

DESCRIPTION = """\
A benchmark suite for explaining graph neural networks: datasets x models x
training modes x explainers, scored against ground truth, with a leaderboard.
Files go under one root directory: --root, else $SUITE_HOME, else the current
directory (store: results/store.sqlite, board: results/leaderboard/)."""

EXAMPLES = """\
examples:
  suite list explainers
  suite run --matrix smoke
  suite leaderboard --out results/leaderboard"""

#: The commands, in the order `suite --help` lists them.
COMMAND_MODULES = (listing, run, leaderboard, tune, report, validate_plugin, new_explainer, stores,
                   verify_submission, compare, select_models, check, bench)


def build_parser() -> argparse.ArgumentParser:
    """The ``suite`` argument parser: one subcommand per command module."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog=PROG, description=DESCRIPTION, epilog=EXAMPLES, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands, fmt)
    return parser


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``suite`` command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        with rooted(getattr(args, "root", None)), sigterm_as_interrupt():
            return args.handler(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except (CliError, UnknownNameError, ConfigError, TargetError, DatasetUnavailable) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
