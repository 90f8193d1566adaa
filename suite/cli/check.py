"""`suite check`: the CI quality gate."""

from __future__ import annotations

import argparse
from typing import Any

from suite.cli.common import (
    EXIT_CHECK_FAILED,
    EXIT_OK,
    CliError,
    add_root_argument,
    add_threads_argument,
    check_device,
    matrix_from_arg,
    set_threads,
)
from suite.core.files import TargetError
from suite.core.paths import Paths
from suite.execution import check as gate

CHECK_EXAMPLES = """\
examples:
  suite check                              the shipped smoke reference (as --reference smoke)
  suite check --reference my-reference.json
  suite check --write-reference my-reference.json --matrix smoke --seeds 0 1 2

Exit status 0 when every gated score is within its tolerance, 1 when one is not
(each failing cell and metric is printed), 2 on bad input."""


#: The shipped reference ``suite check`` uses when given none.
DEFAULT_REFERENCE = "smoke"


def _cmd_check(args: argparse.Namespace) -> int:
    check_device(args.device)
    set_threads(args.threads)

    if args.reference and args.write_reference:
        raise CliError("give one of --reference FILE (check) and --write-reference FILE "
                       "(write a reference), not both")
    paths = Paths.from_env(args.root)
    progress = not args.no_progress
    if args.write_reference:
        config = matrix_from_arg(args.matrix or "smoke")
        try:
            reference = gate.write_reference(config, args.seeds, paths, args.write_reference,
                                             device=args.device, sigmas=args.sigmas,
                                             min_tolerance=args.min_tolerance, progress=progress,
                                             overwrite=args.overwrite)
        except TargetError as exc:
            raise CliError(str(exc)) from None
        except ValueError as exc:
            raise CliError(str(exc)) from None
        count = sum(len(m) for m in reference.scores.values())
        print(f"reference written to {args.write_reference}: {len(reference.scores)} cells, "
              f"{count} scores, seeds {reference.seeds}")
        return EXIT_OK
    args.reference = args.reference or DEFAULT_REFERENCE
    try:
        reference = gate.Reference.load(args.reference)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"--reference {args.reference}: {exc}") from None
    config = matrix_from_arg(args.matrix) if args.matrix else None
    try:
        report = gate.check(reference, paths, config=config, device=args.device,
                            progress=progress, store_path=args.store)
    except FileExistsError as exc:
        raise CliError(str(exc)) from None
    print(report.text(verbose=args.verbose))
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "check", help="quality gate: rerun a small matrix, fail when a score drops below its reference",
        description="Rerun the reference's matrix (or --matrix) in a fresh store and compare "
                    "every gated score with the reference: a score worse than the reference "
                    "mean by more than its tolerance (max(sigmas x seed std, min-tolerance)) "
                    "fails the check. --write-reference runs the matrix on several seeds and "
                    "writes the reference instead.", epilog=CHECK_EXAMPLES, formatter_class=fmt)
    p.add_argument("--reference", metavar="FILE_OR_NAME",
                   help="reference JSON to check against, or the name of a shipped one "
                        f"(default: {DEFAULT_REFERENCE}, the CI gate's)")
    p.add_argument("--write-reference", metavar="FILE",
                   help="write a reference (JSON) from a run of --matrix on --seeds")
    p.add_argument("--overwrite", action="store_true",
                   help="with --write-reference: replace an existing reference file (a results "
                        "store is never overwritten)")
    p.add_argument("--matrix", metavar="NAME_OR_FILE",
                   help="matrix to run (check: default the reference's own; write: default smoke)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED",
                   help="seeds whose variance sets the tolerances (write only; default 0 1 2)")
    p.add_argument("--sigmas", type=float, default=gate.SIGMAS,
                   help=f"tolerance in seed standard deviations (write only; default "
                        f"{gate.SIGMAS:g})")
    p.add_argument("--min-tolerance", type=float, default=gate.MIN_TOLERANCE,
                   help=f"smallest tolerance, in score units (write only; default "
                        f"{gate.MIN_TOLERANCE:g})")
    p.add_argument("--store", metavar="PATH",
                   help="keep the check's results store here (must not exist; default: a "
                        "temporary file)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default: the matrix's)")
    add_root_argument(p, "caches")
    add_threads_argument(p)
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--verbose", action="store_true", help="print every compared score")
    p.set_defaults(handler=_cmd_check)
