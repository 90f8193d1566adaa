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
import importlib
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from suite.board.compare import build_comparison, compare_matrix
from suite.board.write import write_leaderboard
from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.core.registry import Entry, Registry, UnknownNameError
from suite.core.version import __version__
from suite.execution import check as gate
from suite.execution.model_selection import choose, load_spec, run_selection, write_outputs
from suite.execution.process_executor import default_workers
from suite.execution.ray_executor import RayUnavailableError, require_ray
from suite.execution.runner import run_matrix
from suite.execution.tuning import load_grid, tune
from suite.matrix import load_matrix
from suite.perf import bench, scaling
from suite.plugins.contract import contract_cases, refusal, validate_explainer
from suite.plugins.loading import PluginError, load_plugins, split_spec
from suite.reports import REPORTS, ReportRequest
from suite.store.database import ResultsStore, StoreVersionError
from suite.store.diff import diff_stores
from suite.store.merge import export_frame, merge_stores
from suite.store.submissions import SubmissionError, submission_records, with_submissions

PROG = "suite"
EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130
EXIT_CHECK_FAILED = 1  # `suite check`: a score fell below its reference tolerance
EXIT_DIFFERENT = 1  # `suite diff`: the stores differ


class CliError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one-line ``CliError``s."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)")


# ----------------------------------------------------------------------------- suite list


def _yes(value: Any) -> str:
    return "yes" if value else "no"


def _levels(info: Any) -> str:
    levels = getattr(info, "task_levels", None)
    if levels is None:
        task = getattr(info, "task", None)
        return "any" if task is None else str(getattr(task, "value", task))
    names = {str(getattr(level, "value", level)) for level in levels}
    return ", ".join(sorted(names, key=lambda n: (n != "node", n)))


def _info(entry: Entry) -> Any:
    return entry.metadata.get("info")


def _text(info: Any, name: str) -> str:
    value = getattr(info, name, "")
    return str(value) if value not in (None, "") else "-"


@dataclass(frozen=True)
class Listing:
    """How ``suite list KIND`` shows one registry.

    Attributes:
        package: module whose import registers the built-in items.
        registry: ``module:ATTRIBUTE`` of the registry.
        headers: column names after ``name``.
        row: the columns of one entry (after its name), from its metadata.
    """

    package: str
    registry: str
    headers: tuple[str, ...]
    row: Callable[[Entry], tuple[str, ...]]

    def load(self) -> Registry:
        importlib.import_module(self.package)
        module, attribute = self.registry.split(":")
        return getattr(importlib.import_module(module), attribute)


LISTINGS: Registry[Listing] = Registry("list kind")
LISTINGS.add("datasets", Listing(
    "suite.datasets", "suite.datasets.base:DATASETS",
    ("task level", "ground truth", "family", "citation"),
    lambda e: (_levels(_info(e)), _yes(getattr(_info(e), "has_ground_truth", False)),
               _text(_info(e), "family"), _text(_info(e), "citation"))))
LISTINGS.add("models", Listing(
    "suite.models", "suite.models.base:MODELS", ("task levels", "citation"),
    lambda e: (_levels(_info(e)), _text(_info(e), "citation"))))
LISTINGS.add("trainings", Listing(
    "suite.training", "suite.training.base:TRAININGS", ("task levels", "citation"),
    lambda e: (_levels(_info(e)), _text(_info(e), "citation"))))
LISTINGS.add("explainers", Listing(
    "suite.explainers", "suite.explainers.base:EXPLAINERS",
    ("task levels", "source", "amortised", "citation"),
    lambda e: (_levels(_info(e)), _text(_info(e), "source"),
               _yes(getattr(_info(e), "amortised", False)), _text(_info(e), "citation"))))
LISTINGS.add("metrics", Listing(
    "suite.metrics", "suite.metrics.base:METRICS",
    ("task levels", "needs ground truth", "citation", "columns"),
    lambda e: (_levels(_info(e)), _yes(getattr(_info(e), "needs_ground_truth", False)),
               _text(_info(e), "citation"), ", ".join(getattr(_info(e), "columns", ())) or "-")))
LISTINGS.add("reports", Listing(
    "suite.reports", "suite.reports:REPORTS", ("citation", "description"),
    lambda e: (str(e.metadata.get("citation") or "-"), str(e.metadata.get("description") or "-"))))


def _resolve_kind(kind: str) -> str:
    if kind not in LISTINGS and f"{kind}s" in LISTINGS:  # forgive the singular
        kind = f"{kind}s"
    return LISTINGS.resolve(kind)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned text columns under a header and a rule."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def _cmd_list(args: argparse.Namespace) -> int:
    kind = _resolve_kind(args.kind)
    listing = LISTINGS.get(kind)
    registry = listing.load()
    rows = [(entry.name, *listing.row(entry)) for entry in registry.entries()]
    if not rows:
        print(f"no {kind} registered")
        return EXIT_OK
    print(format_table(("name", *listing.headers), rows))
    return EXIT_OK


# ----------------------------------------------------------------------------- suite run


def _check_device(device: str | None) -> None:
    if device is None or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        raise CliError(f"--device {device}: CUDA is not available on this machine ({why}, "
                       f"torch {torch.__version__}); use --device cpu")


def _store_errors() -> tuple[type[BaseException], ...]:

    return (StoreVersionError, sqlite3.DatabaseError, OSError)


def _load_matrix(name_or_path: str) -> Any:

    try:
        return load_matrix(name_or_path)
    except (UnknownNameError, ConfigError, OSError) as exc:
        message = str(exc)
        prefix = "" if str(name_or_path) in message else f"--matrix {name_or_path}: "
        raise CliError(prefix + message) from None


def _open_store(path: Path, must_exist: bool) -> Any:

    if must_exist and not path.is_file():
        raise CliError(f"no results store at {path}: run `suite run --matrix smoke` first, "
                       "or pass --store PATH")
    try:
        return ResultsStore(path)
    except _store_errors() as exc:
        raise CliError(f"cannot open the results store {path}: {exc}") from None


def _write_board(store: Any, out: Path, include: Sequence[str] | None = None,
                 readme: str | None = None) -> None:
    frame, instances = store.cells_frame(), store.instance_records()
    if include:

        try:
            frame = with_submissions(frame, list(include))
        except SubmissionError as exc:
            raise CliError(str(exc)) from None
        instances.update(submission_records(frame))
    if readme is not None and not Path(readme).is_file():
        raise CliError(f"--readme: no file {readme}")
    try:
        written = write_leaderboard(frame, out, instances, readme=readme)
    except ValueError as exc:
        raise CliError(f"--readme {readme}: {exc}") from None
    print(f"leaderboard written to {out}:")
    for path in written:
        print(f"  {path}")


def _set_threads(threads: int) -> None:
    """Fix torch's CPU threads (recorded with every run by the environment record)."""
    if threads < 1:
        raise CliError(f"--threads: expected a positive integer (got {threads})")
    import torch

    torch.set_num_threads(threads)


def _load_plugins(specs: Sequence[str] | None) -> list[Any]:
    """Load ``--plugin`` specs (one-line ``CliError`` when one cannot be loaded)."""

    try:
        return load_plugins(specs)
    except (PluginError, ValueError) as exc:
        raise CliError(str(exc)) from None


def _executor_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--executor`` options of ``suite run``/``suite compare``; checks Ray is there."""
    executor = getattr(args, "executor", "local") or "local"
    plugins = [str(_plugin_path(spec)) for spec in (getattr(args, "plugin", None) or ())]
    if executor != "processes" and getattr(args, "workers", None) is not None:
        raise CliError("--workers: only used with --executor processes")
    if executor != "ray" and getattr(args, "address", None):
        raise CliError("--address: only used with --executor ray")
    if executor == "processes":
        if args.workers is not None and args.workers < 1:
            raise CliError(f"--workers: expected a positive number (got {args.workers})")

        return {"workers": args.workers or default_workers(), "threads": args.threads,
                "plugins": plugins}
    if executor != "ray":
        return {}

    try:
        require_ray()
    except RayUnavailableError as exc:
        raise CliError(str(exc)) from None
    if args.gpus_per_cell <= 0:
        raise CliError(f"--gpus-per-cell: expected a positive number (got {args.gpus_per_cell})")
    return {"address": args.address, "num_cpus": args.num_cpus, "threads": args.threads,
            "gpus_per_cell": args.gpus_per_cell, "plugins": plugins}


def _plugin_path(spec: str) -> str:
    """A file spec made absolute (workers may start in another directory)."""

    target, attribute = split_spec(spec)
    if target.endswith(".py") or Path(target).is_file():
        target = str(Path(target).resolve())
    return f"{target}:{attribute}" if attribute else target


def _cmd_run(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads(args.threads)
    _load_plugins(args.plugin)
    options = _executor_options(args)
    config = _load_matrix(args.matrix)
    paths = Paths.from_env(args.root, args.model_cache)
    store_path = Path(args.store) if args.store else paths.default_store
    out = Path(args.out) if args.out else paths.leaderboard_dir

    store = _open_store(store_path, must_exist=False)
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
            _write_board(store, out)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; every finished cell is kept in {store_path}; "
              "rerun the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        store.close()
    return EXIT_OK


# ----------------------------------------------------------------------------- suite leaderboard


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    paths = Paths.from_env(args.root)
    store_path = Path(args.store) if args.store else paths.default_store
    out = Path(args.out) if args.out else paths.leaderboard_dir
    store = _open_store(store_path, must_exist=True)
    try:
        _write_board(store, out, include=getattr(args, "include", None),
                     readme=getattr(args, "readme", None))
    finally:
        store.close()
    return EXIT_OK


# ----------------------------------------------------------------------------- suite tune


def _cmd_tune(args: argparse.Namespace) -> int:
    _set_threads(args.threads)

    config = _load_matrix(args.matrix)
    try:
        grid = load_grid(args.explainer, args.task, args.grid)
    except OSError as exc:
        raise CliError(f"--grid {args.grid}: {exc}") from None
    report = None if args.quiet else (lambda line: print(line, flush=True))
    result = tune(args.explainer, args.task, grid, config, Paths.from_env(args.root),
                  datasets=args.datasets, seeds=args.seeds, max_instances=args.max_instances,
                  progress=report)
    table = result.markdown()
    print(table)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
        print(f"table written to {out}")
    return EXIT_OK


# ----------------------------------------------------------------------------- parser

_DESCRIPTION = """\
A benchmark suite for explaining graph neural networks: datasets x models x
training modes x explainers, scored against ground truth, with a leaderboard.
Files go under one root directory: --root, else $SUITE_HOME, else the current
directory (store: results/store.sqlite, board: results/leaderboard/)."""

_EXAMPLES = {
    "main": """\
examples:
  suite list explainers
  suite run --matrix smoke
  suite leaderboard --out results/leaderboard""",
    "list": """\
examples:
  suite list datasets      name, task level, ground truth yes/no, family, citation
  suite list explainers    name, task levels, source (suite/pyg/baseline), citation
  suite list metrics       name, whether it needs ground truth, the columns it writes""",
    "run": """\
examples:
  suite run --matrix smoke                      seconds: one small dataset, a few explainers
  suite run --matrix default                    every synthetic dataset (minutes on CPU)
  suite run --matrix default --executor processes            one worker per core (make run)
  suite run --matrix my_matrix.yaml --device cuda --store results/gpu.sqlite
  suite run --matrix default --executor ray                  a local Ray cluster, all CPUs
  suite run --matrix default --executor ray --address auto   the cluster of `ray start --head`
  suite run --matrix smoke --plugin my_pkg.explainers:MyExplainer

A rerun of the same matrix resumes: finished cells are kept and skipped.""",
    "leaderboard": """\
examples:
  suite leaderboard
  suite leaderboard --store results/gpu.sqlite --out results/gpu-board
  suite leaderboard --out results/reference      refresh the committed reference board""",
    "tune": """\
examples:
  suite tune --explainer gnnexplainer --task node
  suite tune --explainer gnnexplainer --task graph --out results/reference/tuning-gnnexplainer-graph.md
  suite tune --explainer gnnexplainer --task node --grid my_grid.yaml --seeds 0

Only validation instances are explained; grids: suite/presets/tuning.yaml.""",
    "validate-plugin": """\
examples:
  suite validate-plugin my_pkg.explainers:MyExplainer
  suite validate-plugin tests/plugin_pkg/suite_toy_plugin/__init__.py:InverseDegreeExplainer
  suite validate-plugin my_pkg --levels node""",
    "merge": """\
examples:
  suite merge results/machine-a.sqlite results/machine-b.sqlite --out results/store.sqlite""",
    "diff": """\
examples:
  suite diff /tmp/before/results/store.sqlite /tmp/after/results/store.sqlite""",
    "export": """\
examples:
  suite export --format csv --out results/cells.csv
  suite export --format parquet --explainer toy-inverse-degree \\
      --plugin-ref "suite-toy-plugin==0.1.0 suite_toy_plugin:InverseDegreeExplainer" \\
      --out submission.parquet""",
    "compare": """\
examples:
  suite compare --explainer toy-inverse-degree --plugin suite_toy_plugin --matrix smoke
  suite compare --explainer gnnexplainer --explainer saliency --matrix default --executor ray""",
    "select-models": """\
examples:
  suite select-models suite/presets/models/default.yaml --out results/model-selection

Trains every candidate on every dataset and seed (the model cache is reused), chooses per
dataset and family the candidate with the best mean validation accuracy and writes
selection.md (every trial, the choices, each model against its floor) and models.yaml.""",
    "check": """\
examples:
  suite check --reference results/reference/check-smoke.json
  suite check --write-reference results/reference/check-smoke.json --matrix smoke --seeds 0 1 2

Exit status 0 when every gated score is within its tolerance, 1 when one is not
(each failing cell and metric is printed), 2 on bad input.""",
    "bench": """\
examples:
  suite bench                                   BA-Shapes (GCN, 80 nodes) and BA-2Motifs (GIN, 100 graphs)
  suite bench --tasks ba-shapes --explainers gnnexplainer integrated-gradients
  suite bench --out results/reference/bench     refresh the committed reference table
  suite bench --quick                           tiny data: checks the whole path in seconds
  suite bench --overhead                        overhead ratios only (no PyG), explainer x task
  suite bench --scaling --out results/reference/bench   scaling curves (PNG + table)""",
    "report": """\
examples:
  suite report graphmask --quick
  suite report graphmask --out results/reference/graphmask

The full graphmask study trains an R-GCN on 10,000 star graphs (cached) and takes
several minutes on 2 CPU cores.""",
}


# ----------------------------------------------------------------------------- suite report


def _cmd_report(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads(args.threads)

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


def _add_plugin_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", action="append", metavar="SPEC",
                   help="load a plug-in first: module, module:Class, file.py or file.py:Class "
                        "(repeatable; installed packages register through the entry-point "
                        "group suite.explainers instead)")


def _add_executor_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", choices=("local", "processes", "ray"),
                   help="local: cells one after another in this process (default); processes: "
                        "cells in worker processes on this machine, one per core (--workers); "
                        "ray: cells as Ray tasks (pip install \".[ray]\")")
    p.add_argument("--workers", type=int, metavar="N",
                   help="--executor processes: worker processes (default: one per core)")
    p.add_argument("--address", metavar="ADDR",
                   help="--executor ray: a running cluster (`ray start --head` prints it; "
                        "auto: the local one); default: start a local cluster")
    p.add_argument("--num-cpus", type=int, metavar="N",
                   help="--executor ray without --address: CPUs of the local cluster "
                        "(default: all)")
    p.add_argument("--gpus-per-cell", type=float, default=1.0, metavar="G",
                   help="--executor ray --device cuda: GPUs each cell asks Ray for (default 1; "
                        "0.25 runs four cells per GPU)")
    _add_plugin_argument(p)


# ----------------------------------------------------------------------------- suite validate-plugin


def _cmd_validate_plugin(args: argparse.Namespace) -> int:
    _set_threads(args.threads)

    names: list[str] = []
    for loaded in _load_plugins(args.spec):
        if not loaded.explainers:
            raise CliError(f"plugin {loaded.spec}: module {loaded.module} registers no explainer "
                           "(name its class: module:Class)")
        names += [n for n in loaded.explainers if n not in names]
    cases = contract_cases(seed=args.seed, levels=args.levels)
    refused = []
    for name in names:
        results = validate_explainer(name, cases)
        for r in results:
            print(f"{name:24s} {r.level:6s} {r.check:18s} {r.status}"
                  + (f" ({r.message})" if r.status == "skipped" else ""))
        message = refusal(results)
        if message is not None:
            refused.append(f"{name}: {message}")
    if refused:
        raise CliError("plugin refused by the explainer contract: " + "; ".join(refused))
    print(f"plugin accepted: {', '.join(names)} passed the explainer contract")
    return EXIT_OK


# ----------------------------------------------------------------------------- suite merge / export


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
    store = _open_store(store_path, must_exist=True)
    try:
        frame, instances = store.cells_frame(), store.instance_records()
    finally:
        store.close()
    out = Path(args.out) if args.out else paths.results / f"export.{args.format}"
    try:
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


# ----------------------------------------------------------------------------- suite compare


def _cmd_compare(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads(args.threads)
    _load_plugins(args.plugin)
    options = _executor_options(args)

    config = compare_matrix(_load_matrix(args.matrix), args.explainer)
    paths = Paths.from_env(args.root)
    store_path = Path(args.store) if args.store else paths.default_store
    store = _open_store(store_path, must_exist=False)
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
    out = Path(args.out) if args.out else paths.results / "compare" / (
        "-".join(config.explainers) + ".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if not args.quiet:
        print(text)
    print(f"comparison written to {out}")
    return EXIT_OK


# ----------------------------------------------------------------------------- suite check


def _cmd_select_models(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    paths = Paths.from_env(args.root)
    try:
        spec = load_spec(args.spec)
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    out = Path(args.out) if args.out else paths.results / "model-selection"
    trials = run_selection(spec, paths, progress=lambda line: print(line, flush=True))
    choices = choose(spec, trials)
    for path in write_outputs(spec, trials, choices, out):
        print(f"written {path}")
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads(args.threads)

    if bool(args.reference) == bool(args.write_reference):
        raise CliError("give exactly one of --reference FILE (check) and "
                       "--write-reference FILE (write a reference)")
    paths = Paths.from_env(args.root)
    progress = not args.no_progress
    if args.write_reference:
        config = _load_matrix(args.matrix or "smoke")
        try:
            reference = gate.write_reference(config, args.seeds, paths, args.write_reference,
                                             device=args.device, sigmas=args.sigmas,
                                             min_tolerance=args.min_tolerance, progress=progress)
        except ValueError as exc:
            raise CliError(f"--seeds: {exc}") from None
        count = sum(len(m) for m in reference.scores.values())
        print(f"reference written to {args.write_reference}: {len(reference.scores)} cells, "
              f"{count} scores, seeds {reference.seeds}")
        return EXIT_OK
    try:
        reference = gate.Reference.load(args.reference)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CliError(f"--reference {args.reference}: {exc}") from None
    config = _load_matrix(args.matrix) if args.matrix else None
    try:
        report = gate.check(reference, paths, config=config, device=args.device,
                            progress=progress, store_path=args.store)
    except FileExistsError as exc:
        raise CliError(str(exc)) from None
    print(report.text(verbose=args.verbose))
    return EXIT_OK if report.passed else EXIT_CHECK_FAILED


# ----------------------------------------------------------------------------- suite bench


def _cmd_bench(args: argparse.Namespace) -> int:
    _check_device(args.device)
    _set_threads(args.threads)

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


def build_parser() -> argparse.ArgumentParser:
    """The ``suite`` argument parser (subcommands list, run, leaderboard)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, description=_DESCRIPTION, epilog=_EXAMPLES["main"],
                     formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser(
        "list", help="list the registered datasets, models, trainings, explainers or metrics",
        description="Print a registry with each entry's metadata.", epilog=_EXAMPLES["list"],
        formatter_class=fmt)
    p.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(LISTINGS.names())}")
    p.set_defaults(handler=_cmd_list)

    p = commands.add_parser(
        "run", help="run a benchmark matrix into the results store, then write the leaderboard",
        description="Run every cell of a matrix (datasets x models x trainings x explainers x "
                    "seeds), record each finished cell in the results store and write the "
                    "leaderboard.", epilog=_EXAMPLES["run"], formatter_class=fmt)
    p.add_argument("--matrix", required=True, metavar="NAME_OR_FILE",
                   help="a preset name (smoke, default, ...) or the path of a YAML matrix file")
    p.add_argument("--store", metavar="PATH",
                   help="results store (SQLite; default: ROOT/results/store.sqlite)")
    p.add_argument("--device", choices=("cpu", "cuda"),
                   help="device to train and explain on (default: the matrix's device)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches and results (default: $SUITE_HOME or .)")
    p.add_argument("--out", metavar="DIR",
                   help="leaderboard directory (default: ROOT/results/leaderboard)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="torch CPU threads (default 1: the benchmark's graphs are small, so "
                        "threads mostly add synchronisation, and one thread keeps throughput "
                        "comparable across machines; recorded with the results)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--model-cache", metavar="DIR",
                   help="trained-model cache (default: ROOT/results/cache/models; the committed "
                        "reference models are read after it; `make reference` trains into them)")
    p.add_argument("--no-leaderboard", action="store_true",
                   help="do not write the leaderboard after the run")
    _add_executor_arguments(p)
    p.set_defaults(handler=_cmd_run)

    p = commands.add_parser(
        "leaderboard", help="write the leaderboard (Markdown, HTML, PNG plots) from a store",
        description="Derive the leaderboard from the results store only: leaderboard.md, a "
                    "self-contained leaderboard.html (sortable, works offline) and PNG plots.",
        epilog=_EXAMPLES["leaderboard"], formatter_class=fmt)
    p.add_argument("--store", metavar="PATH",
                   help="results store to read (default: ROOT/results/store.sqlite)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/leaderboard)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory (default: $SUITE_HOME or the current directory)")
    p.add_argument("--include", action="append", metavar="SUBMISSION",
                   help="add the rows of a submission file (suite export --format parquet "
                        "--plugin REF), marked as submitted; repeatable")
    p.add_argument("--readme", metavar="FILE",
                   help="also fill the headline-board block of this Markdown file (the README)")
    p.set_defaults(handler=_cmd_leaderboard)

    p = commands.add_parser(
        "tune", help="choose an explainer's hyper-parameters on validation instances",
        description="Score a grid of hyper-parameter settings of one explainer on the "
                    "validation explain instances of every dataset of one task level in a "
                    "matrix (never on test instances) and print the table and the best setting.",
        epilog=_EXAMPLES["tune"], formatter_class=fmt)
    p.add_argument("--explainer", required=True, metavar="NAME", help="a registered explainer")
    p.add_argument("--task", required=True, choices=("node", "graph"), help="task level")
    p.add_argument("--matrix", default="default", metavar="NAME_OR_FILE",
                   help="matrix whose datasets, models, trainings and seeds are used "
                        "(default: default)")
    p.add_argument("--grid", metavar="FILE",
                   help="YAML grid file (default: suite/presets/tuning.yaml)")
    p.add_argument("--out", metavar="FILE.md", help="also write the table to this file")
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help="only these datasets of the matrix")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                   help="override the matrix's seeds")
    p.add_argument("--max-instances", type=int, metavar="N",
                   help="validation instances per cell (default: the matrix's max_instances)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(handler=_cmd_tune)

    p = commands.add_parser(
        "report", help="reproduce a study (e.g. GraphMask's synthetic experiment)",
        description="Run a registered study end to end (train or load its models, explain, "
                    "score) and write its Markdown table and PNG plot.",
        epilog=_EXAMPLES["report"], formatter_class=fmt)
    p.add_argument("name", metavar="NAME", help="a registered report (suite list reports)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/reports/NAME)")
    p.add_argument("--quick", action="store_true",
                   help="a small configuration (about a minute) instead of the full study")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default cpu)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="print only the written files")
    p.set_defaults(handler=_cmd_report)

    p = commands.add_parser(
        "validate-plugin", help="run the explainer contract checks on a plug-in explainer",
        description="Load plug-in explainer(s) and run the contract every built-in explainer "
                    "passes (suite/plugins/contract.py): metadata, shapes, finite scores, ranges, "
                    "determinism under a seed, model unchanged, no leftover hooks, errors of "
                    "the model propagated without leftover state; on small trained node- and "
                    "graph-level cases. A failing check refuses the plug-in (exit 2) with its "
                    "message.", epilog=_EXAMPLES["validate-plugin"], formatter_class=fmt)
    p.add_argument("spec", nargs="+", metavar="SPEC",
                   help="module, module:Class, file.py or file.py:Class")
    p.add_argument("--levels", nargs="+", default=["node", "graph"], choices=("node", "graph"),
                   help="task levels to check (default: both)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cases (default 0)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.set_defaults(handler=_cmd_validate_plugin)

    p = commands.add_parser(
        "merge", help="merge results stores (runs made on different machines) into one",
        description="Copy the runs and cells of several stores into one. The same cell (equal "
                    "config hash) in several stores is kept once: done over skipped over failed, "
                    "then the most recent. Older schema versions are upgraded on a copy; a newer "
                    "one is refused with the reason.", epilog=_EXAMPLES["merge"],
        formatter_class=fmt)
    p.add_argument("stores", nargs="+", metavar="STORE", help="input stores (SQLite)")
    p.add_argument("--out", required=True, metavar="PATH",
                   help="merged store (created, or extended when it exists)")
    p.set_defaults(handler=_cmd_merge)

    p = commands.add_parser(
        "diff", help="compare the scores of two results stores exactly (exit 1 when they differ)",
        description="Match the done cells of two stores by their key and compare every score "
                    "and the per-instance records bitwise; timings, run ids and versions are "
                    "left out. Shows that a change moved no number.",
        epilog=_EXAMPLES["diff"], formatter_class=fmt)
    p.add_argument("first", metavar="STORE_A", help="a results store (SQLite)")
    p.add_argument("second", metavar="STORE_B", help="another results store")
    p.add_argument("--limit", type=int, default=20, metavar="N",
                   help="differences listed (default 20)")
    p.set_defaults(handler=_cmd_diff)

    p = commands.add_parser(
        "export", help="export a store's cells (configs, versions, scores) to CSV or Parquet",
        description="Write one row per cell: names, seed, status, the cell's config JSON, the "
                    "run's versions and one column per score. With --plugin-ref the file is a "
                    "leaderboard submission (suite leaderboard --include FILE).",
        epilog=_EXAMPLES["export"], formatter_class=fmt)
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
    p.add_argument("--root", metavar="DIR",
                   help="root directory (default: $SUITE_HOME or the current directory)")
    p.set_defaults(handler=_cmd_export)

    p = commands.add_parser(
        "compare", help="run named explainers over a matrix and compare them with the board",
        description="Run the named explainers (built-in or plug-in) over the matrix's datasets, "
                    "models, trainings and seeds into the store, then write a Markdown "
                    "side-by-side against the store's board: per dataset the score, the rank, "
                    "the best other explainer and the paired difference over seeds with a 95% "
                    "t interval (exceeds seed noise when it excludes 0).",
        epilog=_EXAMPLES["compare"], formatter_class=fmt)
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
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches and results (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--quiet", action="store_true", help="do not print the comparison")
    _add_executor_arguments(p)
    p.set_defaults(handler=_cmd_compare)

    p = commands.add_parser(
        "select-models", help="choose each dataset's models on validation accuracy alone",
        description="Train the candidate models of a selection spec on every dataset and "
                    "seed and choose, per dataset and model family, the best mean validation "
                    "accuracy; no explanation score is read.",
        epilog=_EXAMPLES["select-models"], formatter_class=fmt)
    p.add_argument("spec", metavar="SPEC", help="a selection spec (YAML)")
    p.add_argument("--out", metavar="DIR",
                   help="output directory (default: ROOT/results/model-selection)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches and results (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads")
    p.set_defaults(handler=_cmd_select_models)

    p = commands.add_parser(
        "check", help="quality gate: rerun a small matrix, fail when a score drops below its reference",
        description="Rerun the reference's matrix (or --matrix) in a fresh store and compare "
                    "every gated score with the reference: a score worse than the reference "
                    "mean by more than its tolerance (max(sigmas x seed std, min-tolerance)) "
                    "fails the check. --write-reference runs the matrix on several seeds and "
                    "writes the reference instead.", epilog=_EXAMPLES["check"], formatter_class=fmt)
    p.add_argument("--reference", metavar="FILE", help="reference JSON to check against")
    p.add_argument("--write-reference", metavar="FILE",
                   help="write a reference (JSON) from a run of --matrix on --seeds")
    p.add_argument("--matrix", metavar="NAME_OR_FILE",
                   help="matrix to run (check: default the reference's own; write: default smoke)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED",
                   help="seeds whose variance sets the tolerances (write only; default 0 1 2)")
    p.add_argument("--sigmas", type=float, default=3.0,
                   help="tolerance in seed standard deviations (write only; default 3)")
    p.add_argument("--min-tolerance", type=float, default=0.02,
                   help="smallest tolerance, in score units (write only; default 0.02)")
    p.add_argument("--store", metavar="PATH",
                   help="keep the check's results store here (must not exist; default: a "
                        "temporary file)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="device (default: the matrix's)")
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    p.add_argument("--verbose", action="store_true", help="print every compared score")
    p.set_defaults(handler=_cmd_check)

    p = commands.add_parser(
        "bench", help="our explainers vs torch_geometric.explain side by side: explanations/s, "
        "ratios, AUC, overhead ratio",
        description="Explain the same instances with the same model, epochs and lr with our "
                    "explainers and PyG's, in one run; print and write a Markdown table "
                    "(explanations/s, ratios, AUC under the same metric code, overhead = "
                    "explain time / (steps x one forward+backward over the batch)).",
        epilog=_EXAMPLES["bench"], formatter_class=fmt)
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
    p.add_argument("--root", metavar="DIR",
                   help="root directory for caches (default: $SUITE_HOME or .)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="torch CPU threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="print only the table")
    p.set_defaults(handler=_cmd_bench)
    return parser


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``suite`` command line; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except (CliError, UnknownNameError, ConfigError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
