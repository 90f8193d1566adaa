"""`suite list KIND`: the registered items of one registry."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from typing import Any, Callable

from suite.cli.common import (
    EXIT_OK,
    CliError,
    format_table,
)
from suite.core.registry import Entry, Registry

LIST_EXAMPLES = """\
examples:
  suite list datasets      name, task level, ground truth yes/no, family, citation
  suite list explainers    name, task levels, source (suite/pyg/baseline), citation
  suite list metrics       name, whether it needs ground truth, the columns it writes
  suite list explainers --params          every hyper-parameter with its default
  suite list explainers --format json     the same, machine-readable"""

#: Output formats of ``suite list``.
FORMATS = ("table", "json")


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


def explainer_parameters(entry: Entry) -> dict[str, Any]:
    """An explainer's hyper-parameters with their defaults (its config, built with none given)."""
    return dict(entry.factory().hparams())


def _key(header: str) -> str:
    return header.replace(" ", "_")


def _cmd_list(args: argparse.Namespace) -> int:
    kind = _resolve_kind(args.kind)
    if args.params and kind != "explainers":
        raise CliError(f"--params: only `suite list explainers` lists hyper-parameters (got {kind})")
    listing = LISTINGS.get(kind)
    registry = listing.load()
    entries = list(registry.entries())
    params = {e.name: explainer_parameters(e) for e in entries} if args.params else {}
    if args.format == "json":
        records = []
        for entry in entries:
            record = {"name": entry.name, **{_key(h): v for h, v in
                                             zip(listing.headers, listing.row(entry))}}
            if args.params:
                record["parameters"] = params[entry.name]
            records.append(record)
        print(json.dumps({"kind": kind, "items": records}, indent=1, default=str))
        return EXIT_OK
    if not entries:
        print(f"no {kind} registered")
        return EXIT_OK
    headers = ("name", *listing.headers, *(("parameters",) if args.params else ()))
    rows = [(e.name, *listing.row(e),
             *((", ".join(f"{k}={v}" for k, v in params[e.name].items()) or "-",)
               if args.params else ())) for e in entries]
    print(format_table(headers, rows))
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "list", help="list the registered datasets, models, trainings, explainers or metrics",
        description="Print a registry with each entry's metadata.", epilog=LIST_EXAMPLES,
        formatter_class=fmt)
    p.add_argument("kind", metavar="KIND", help=f"one of: {', '.join(LISTINGS.names())}")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default) or json (machine-readable)")
    p.add_argument("--params", action="store_true",
                   help="explainers: every hyper-parameter with its default")
    p.set_defaults(handler=_cmd_list)
