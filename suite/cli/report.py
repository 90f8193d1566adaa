"""`suite report NAME`: a registered study end to end."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    add_root_argument,
    add_threads_argument,
    check_device,
    set_threads,
)
from suite.core.paths import Paths
from suite.reports import REPORTS, ReportRequest

REPORT_EXAMPLES = """\
examples:
  suite report graphmask --quick
  suite report graphmask --out results/reference/graphmask

The full graphmask study trains an R-GCN on 10,000 star graphs (cached) and takes
several minutes on 2 CPU cores."""


def _cmd_report(args: argparse.Namespace) -> int:
    check_device(args.device)
    set_threads(args.threads)

    name = REPORTS.resolve(args.name)
    paths = Paths.from_env(args.root)
    out = Path(args.out) if args.out else paths.results / "reports" / name
    say = (lambda _line: None) if args.quiet else (lambda line: print(line, flush=True))
    written = REPORTS.get(name)(ReportRequest(out=out, paths=paths, device=args.device or "cpu",
                                              seed=args.seed, quick=args.quick, progress=say))
    print(f"report {name} written to {out}:")
    for path in written:
        print(f"  {path}")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "report", help="reproduce a study (e.g. GraphMask's synthetic experiment)",
        description="Run a registered study end to end (train or load its models, explain, "
                    "score) and write its Markdown table and PNG plot.",
        epilog=REPORT_EXAMPLES, formatter_class=fmt)
    p.add_argument("name", metavar="NAME", help="a registered report (suite list reports)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/reports/NAME)")
    p.add_argument("--quick", action="store_true",
                   help="a small configuration (about a minute) instead of the full study")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default cpu)")
    add_root_argument(p, "caches")
    add_threads_argument(p)
    p.add_argument("--quiet", action="store_true", help="print only the written files")
    p.set_defaults(handler=_cmd_report)
