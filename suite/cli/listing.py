"""`suite list KIND`: the registered items of one registry."""

from __future__ import annotations

import argparse
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from suite.cli.common import EXIT_OK, CliError
from suite.cli.quick_list import FORMATS, INDEX_PATH, KINDS, render
from suite.core.registry import Entry, Registry
from suite.core.version import __version__

LIST_EXAMPLES = """\
examples:
  suite list datasets      name, task level, ground truth yes/no, family, citation
  suite list explainers    name, task levels, source (suite/pyg/baseline), citation
  suite list metrics       name, whether it needs ground truth, the columns it writes
  suite list explainers --params          every hyper-parameter with its default
  suite list explainers --format json     the same, machine-readable
  suite list --write-index                regenerate the index that lists without torch"""


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


def _built_in(entry: Entry) -> bool:
    return str(getattr(entry.factory, "__module__", "")).startswith("suite.")


def listing_of(kind: str, built_in_only: bool = False,
               with_parameters: bool = True) -> dict[str, Any]:
    """What ``suite list KIND`` shows, from the registry: headers and one record per item.

    Each item: ``name``, ``columns`` (strings, after the name), and for explainers
    ``parameters`` (JSON values) and ``parameters_text`` (the table's cell).
    ``built_in_only``: only the items the suite package defines (no plug-in's);
    ``with_parameters``: False leaves the explainers' parameters out (their configs unbuilt).
    """
    listing = LISTINGS.get(kind)
    items = []
    for entry in listing.load().entries():
        if built_in_only and not _built_in(entry):
            continue
        item: dict[str, Any] = {"name": entry.name, "columns": list(listing.row(entry))}
        if kind == "explainers" and with_parameters:
            params = explainer_parameters(entry)
            item["parameters"] = json.loads(json.dumps(params, default=str))
            item["parameters_text"] = ", ".join(f"{k}={v}" for k, v in params.items()) or "-"
        items.append(item)
    return {"headers": list(listing.headers), "items": items}


def built_in_index() -> dict[str, Any]:
    """The metadata index of every kind: the items the suite package defines, no plug-in's."""
    return {"version": __version__,
            "kinds": {kind: listing_of(kind, built_in_only=True) for kind in KINDS}}


def write_index(path: Path = INDEX_PATH) -> Path:
    """Write :func:`built_in_index` to ``path`` (the shipped index by default)."""
    path.write_text(json.dumps(built_in_index(), indent=1) + "\n",
                    encoding="utf-8")
    return path


def _cmd_list(args: argparse.Namespace) -> int:
    if args.write_index:
        if args.kind is not None:
            raise CliError("--write-index: give no KIND (the index holds every kind)")
        print(f"wrote {write_index()}")
        return EXIT_OK
    if args.kind is None:
        raise CliError(f"list: give a KIND, one of: {', '.join(LISTINGS.names())}")
    kind = _resolve_kind(args.kind)
    if args.params and kind != "explainers":
        raise CliError(f"--params: only `suite list explainers` lists hyper-parameters (got {kind})")
    print(render(kind, listing_of(kind, with_parameters=args.params), args.format, args.params))
    return EXIT_OK


def register(commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the command(s) of this module to the ``suite`` parser."""
    p = commands.add_parser(
        "list", help="list the registered datasets, models, trainings, explainers or metrics",
        description="Print a registry with each entry's metadata.", epilog=LIST_EXAMPLES,
        formatter_class=fmt)
    p.add_argument("kind", metavar="KIND", nargs="?",
                   help=f"one of: {', '.join(LISTINGS.names())}")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default) or json (machine-readable)")
    p.add_argument("--params", action="store_true",
                   help="explainers: every hyper-parameter with its default")
    p.add_argument("--write-index", action="store_true",
                   help="maintainers: regenerate the metadata index `suite list` reads "
                        "instead of importing the registries (built-in items only)")
    p.set_defaults(handler=_cmd_list)
