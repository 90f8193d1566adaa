"""`suite verify-submission FILE`: rerun a seeded sample of a submission's cells."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    PROG,
    CliError,
    add_root_argument,
    add_threads_argument,
    set_threads,
)
from suite.core.paths import Paths
from suite.execution.verify import DEFAULT_SAMPLE, SubmissionRejected, verify_submission
from suite.store.submissions import SubmissionError

#: Exit status of a submission whose rows or scores do not hold up.
EXIT_REJECTED = 1

VERIFY_EXAMPLES = """\
examples:
  suite verify-submission submission.parquet
  suite verify-submission submission.parquet --sample 10 --seed 1"""


def _cmd_verify_submission(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    paths = Paths.from_env(args.root)
    try:
        result = verify_submission(Path(args.file), paths, sample=args.sample, seed=args.seed,
                                   progress=print)
    except SubmissionError as exc:
        raise CliError(str(exc)) from None
    except SubmissionRejected as exc:
        print(f"{PROG}: submission rejected: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    print(result.text())
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "verify-submission", help="rerun a sample of a submission's cells; accept it only when "
                                  "its scores reproduce",
        description="Check every row of a submission against its configuration, load the "
                    "plug-in it names (installing nothing: install its package first), rerun "
                    "a seeded sample of its finished cells on this machine and compare every "
                    "gated score within the quality gate's tolerance. Exit 0: accepted; 1: "
                    "rejected, with the first disagreeing cell; 2: unreadable.",
        epilog=VERIFY_EXAMPLES, formatter_class=fmt)
    p.add_argument("file", metavar="FILE", help="the submission (Parquet or CSV)")
    p.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, metavar="N",
                   help=f"cells to rerun (default {DEFAULT_SAMPLE})")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    add_root_argument(p, "caches")
    add_threads_argument(p)
    p.set_defaults(handler=_cmd_verify_submission)
