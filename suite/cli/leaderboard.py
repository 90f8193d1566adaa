"""`suite leaderboard`: the board from a results store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    CliError,
    add_root_argument,
    open_store,
    write_board,
)
from suite.core.paths import Paths

LEADERBOARD_EXAMPLES = """\
examples:
  suite leaderboard
  suite leaderboard --store results/gpu.sqlite --out results/gpu-board
  suite leaderboard --out results/reference      refresh the committed reference board"""


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    paths = Paths.from_env(args.root)
    store_path = Path(args.store) if args.store else paths.default_store
    out = Path(args.out) if args.out else paths.leaderboard_dir
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: is a file; give a directory for the board's files")
    store = open_store(store_path, must_exist=True)
    try:
        write_board(store, out, include=getattr(args, "include", None),
                    readme=getattr(args, "readme", None))
    finally:
        store.close()
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "leaderboard", help="write the leaderboard (Markdown, HTML, PNG plots) from a store",
        description="Derive the leaderboard from the results store only: leaderboard.md, a "
                    "self-contained leaderboard.html (sortable, works offline) and PNG plots.",
        epilog=LEADERBOARD_EXAMPLES, formatter_class=fmt)
    p.add_argument("--store", metavar="PATH",
                   help="results store to read (default: ROOT/results/store.sqlite)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/leaderboard)")
    add_root_argument(p)
    p.add_argument("--include", action="append", metavar="SUBMISSION",
                   help="add the rows of a submission file (suite export --format parquet "
                        "--plugin-ref REF), marked as submitted; repeatable")
    p.add_argument("--readme", metavar="FILE",
                   help="also fill the headline-board block of this Markdown file (the README)")
    p.set_defaults(handler=_cmd_leaderboard)
