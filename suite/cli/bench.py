"""`suite bench`: ours beside PyG, scaling and overhead."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from suite.cli.common import (
    EXIT_OK,
    CliError,
    add_root_argument,
    add_threads_argument,
    check_device,
    set_threads,
)
from suite.core.paths import Paths
from suite.perf import bench, scaling

BENCH_EXAMPLES = """\
examples:
  suite bench                                   BA-Shapes (GCN, 80 nodes) and BA-2Motifs (GIN, 100 graphs)
  suite bench --tasks ba-shapes --explainers gnnexplainer integrated-gradients
  suite bench --out results/reference/bench     refresh the committed reference table
  suite bench --quick                           tiny data: checks the whole path in seconds
  suite bench --overhead                        overhead ratios only (no PyG), explainer x task
  suite bench --scaling --out results/reference/bench   scaling curves (PNG + table)"""


def _cmd_bench(args: argparse.Namespace) -> int:
    check_device(args.device)
    set_threads(args.threads)

    paths = Paths.from_env(args.root)
    out = Path(args.out) if args.out else paths.results / "bench"
    say = (lambda _line: None) if args.quiet else (lambda line: print(line, flush=True))
    if args.scaling:

        result = scaling.run(quick=args.quick, device=args.device or "cpu", progress=say)
        print(result.markdown())
        for path in scaling.write(result, out):
            print(f"written: {path}")
        return EXIT_OK
    pairs = [bench.PAIRS.resolve(name) for name in (args.explainers or bench.PAIRS.names())]
    known = bench.QUICK_TASKS if args.quick else bench.TASKS
    default = known if args.overhead or args.quick else bench.SIDE_BY_SIDE_TASKS
    tasks = args.tasks or list(default)
    for task in tasks:
        if task not in known:
            raise CliError(f"--tasks {task}: unknown bench task (known: {', '.join(known)})")
    if args.repeats < 1:
        raise CliError(f"--repeats: must be >= 1 (got {args.repeats})")
    name = "overhead.md" if args.overhead else "bench.md"
    report = bench.compare(tasks, pairs, paths, device=args.device or "cpu", quick=args.quick,
                           progress=say, on_row=lambda partial: bench.write_report(partial, out, name),
                           with_pyg=not args.overhead, repeats=args.repeats)
    if not args.overhead:
        print(report.markdown())
    print(report.overhead_markdown())
    print(f"table written to {bench.write_report(report, out, name)}")
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "bench", help="our explainers vs torch_geometric.explain side by side: explanations/s, "
        "ratios, AUC, overhead ratio",
        description="Explain the same instances with the same model, epochs and lr with our "
                    "explainers and PyG's, in one run; print and write a Markdown table "
                    "(explanations/s, ratios, AUC under the same metric code, overhead = "
                    "explain time / (steps x one forward+backward over the batch)).",
        epilog=BENCH_EXAMPLES, formatter_class=fmt)
    p.add_argument("--tasks", nargs="+", metavar="TASK",
                   help="bench tasks (default: ba-shapes ba-2motifs; with --overhead: also "
                        "ba-community tree-cycles tree-grid, the default matrix's synthetic datasets)")
    p.add_argument("--explainers", nargs="+", metavar="NAME",
                   help="pairs to run (default: gnnexplainer pgexplainer integrated-gradients "
                        "saliency graphmask graphmask-instance)")
    p.add_argument("--quick", action="store_true",
                   help="tiny data and a few epochs: a smoke test of the whole path, not a measurement")
    p.add_argument("--scaling", action="store_true",
                   help="instead: scaling curves (explanations/s vs targets 1..10k and vs graph "
                        "size 700..140k nodes, memory), scaling.md + scaling.png")
    p.add_argument("--overhead", action="store_true",
                   help="ours and the floors only, no PyG: the overhead-ratio table "
                        "(explainer x task), overhead.md")
    p.add_argument("--repeats", type=int, default=3, metavar="N",
                   help="explain runs of ours per row; the overhead uses the fastest (default 3)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: ROOT/results/bench)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default cpu)")
    add_root_argument(p, "caches")
    add_threads_argument(p)
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(handler=_cmd_bench)
