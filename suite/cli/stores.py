"""`suite merge`, `suite export`, `suite diff`: results stores as a whole."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_DIFFERENT,
    EXIT_OK,
    CliError,
    add_root_argument,
    open_store,
)
from suite.core.files import check_target
from suite.core.paths import Paths
from suite.store.database import StoreVersionError
from suite.store.diff import diff_stores
from suite.store.merge import export_frame, merge_stores

MERGE_EXAMPLES = """\
examples:
  suite merge results/machine-a.sqlite results/machine-b.sqlite --out results/store.sqlite"""
EXPORT_EXAMPLES = """\
examples:
  suite export --format csv --out results/cells.csv
  suite export --format parquet --explainer toy-inverse-degree \\
      --plugin-ref "suite-toy-plugin==0.1.0 suite_toy_plugin:InverseDegreeExplainer" \\
      --out submission.parquet"""
DIFF_EXAMPLES = """\
examples:
  suite diff /tmp/before/results/store.sqlite /tmp/after/results/store.sqlite"""


def _cmd_merge(args: argparse.Namespace) -> int:
    for path in args.stores:
        if not Path(path).is_file():
            raise CliError(f"no results store at {path}")
    try:
        summary = merge_stores(args.stores, args.out)
    except (StoreVersionError, ValueError, sqlite3.DatabaseError) as exc:
        raise CliError(str(exc)) from None
    print(summary.text())
    print(f"merged store: {args.out}")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    paths = Paths.from_env(args.root)
    store_path = Path(args.store) if args.store else paths.default_store
    store = open_store(store_path, must_exist=True)
    try:
        frame, instances = store.cells_frame(), store.instance_records()
    finally:
        store.close()
    out = Path(args.out) if args.out else paths.results / f"export.{args.format}"
    try:
        check_target(out, reads=[store_path])
        written = export_frame(frame, out, args.format, explainers=args.explainer,
                               plugin=args.plugin_ref, instances=instances)
    except (ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from None
    kept = len(frame) if not args.explainer else int(frame["explainer"].isin(args.explainer).sum())
    print(f"{kept} cells written to {written}")
    return EXIT_OK


def _cmd_diff(args: argparse.Namespace) -> int:
    try:
        result = diff_stores(args.first, args.second)
    except (FileNotFoundError, StoreVersionError, sqlite3.DatabaseError) as exc:
        raise CliError(str(exc)) from None
    print(result.text(limit=args.limit))
    return EXIT_OK if result.identical else EXIT_DIFFERENT


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "merge", help="merge results stores (runs made on different machines) into one",
        description="Copy the runs and cells of several stores into one. The same cell (equal "
                    "config hash) in several stores is kept once: done over skipped over failed, "
                    "then the most recent. Older schema versions are upgraded on a copy; a newer "
                    "one is refused with the reason.", epilog=MERGE_EXAMPLES,
        formatter_class=fmt)
    p.add_argument("stores", nargs="+", metavar="STORE", help="input stores (SQLite)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="merged store (created, or extended when it exists)")
    p.set_defaults(handler=_cmd_merge)

    p = commands.add_parser(
        "export", help="export a store's cells (configs, versions, scores) to CSV or Parquet",
        description="Write one row per cell: names, seed, status, the cell's config JSON, the "
                    "run's versions and one column per score. With --plugin-ref the file is a "
                    "leaderboard submission (suite leaderboard --include FILE).",
        epilog=EXPORT_EXAMPLES, formatter_class=fmt)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv",
                   help="file format (default csv; parquet needs pyarrow)")
    p.add_argument("--store", metavar="PATH",
                   help="results store (default: ROOT/results/store.sqlite)")
    p.add_argument("--out", metavar="FILE", help="output file (default: ROOT/results/export.FORMAT)")
    p.add_argument("--explainer", action="append", metavar="NAME",
                   help="only this explainer's cells (repeatable)")
    p.add_argument("--plugin-ref", metavar="REF",
                   help="how to get the explainer, e.g. \"my-pkg==1.0 my_pkg:MyExplainer\" "
                        "(adds the plugin column of a submission)")
    add_root_argument(p)
    p.set_defaults(handler=_cmd_export)

    p = commands.add_parser(
        "diff", help="compare the scores of two results stores exactly (exit 1 when they differ)",
        description="Match the done cells of two stores by their key and compare every score "
                    "and the per-instance records bitwise; timings, run ids and versions are "
                    "left out. Shows that a change moved no number.",
        epilog=DIFF_EXAMPLES, formatter_class=fmt)
    p.add_argument("first", metavar="STORE_A", help="a results store (SQLite)")
    p.add_argument("second", metavar="STORE_B", help="another results store")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="differences listed (default 20)")
    p.set_defaults(handler=_cmd_diff)
