"""`suite list` from the shipped metadata index, without importing torch.

The index (``listing_index.json`` beside this module) holds what ``suite list`` prints for
the built-in items of each registry; ``suite list --write-index`` regenerates it from the
registries and a fast-tier test asserts the shipped file equals them. It stands in for the
registries only when it can be exact:

- it was written by this version of the suite;
- no plug-in is installed in the kind's entry-point group (its items are known only by
  importing it);
- the registry has not been imported in this process (then items registered in-process are
  listed from the registry itself);
- the command line is a plain ``list KIND [--format table|json] [--params]``; anything
  else (``--help``, an unknown kind, a usage error) goes to the full command line, whose
  messages it keeps.

This module imports only the standard library and :mod:`suite.core.version`.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

from suite.core.version import __version__

#: The generated index (package data).
INDEX_PATH = Path(__file__).with_name("listing_index.json")

#: kind -> (module that holds its registry, entry-point group of its plug-ins)
KINDS: dict[str, tuple[str, str]] = {
    "datasets": ("suite.datasets.base", "suite.datasets"),
    "models": ("suite.models.base", "suite.models"),
    "trainings": ("suite.training.base", "suite.trainings"),
    "explainers": ("suite.explainers.base", "suite.explainers"),
    "metrics": ("suite.metrics.base", "suite.metrics"),
    "reports": ("suite.reports", "suite.reports"),
}

#: ``--format`` values of ``suite list``.
FORMATS = ("table", "json")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned text columns under a header and a rule."""
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def render(kind: str, listing: dict[str, Any], output_format: str, params: bool) -> str:
    """What ``suite list KIND`` prints for one index entry (or the same built from a registry).

    ``listing`` is ``{"headers": [...], "items": [{"name", "columns", "parameters",
    "parameters_text"}]}``; ``parameters`` only for explainers.
    """
    headers, items = listing["headers"], listing["items"]
    if output_format == "json":
        records = []
        for item in items:
            record = {"name": item["name"],
                      **{h.replace(" ", "_"): v for h, v in zip(headers, item["columns"])}}
            if params:
                record["parameters"] = item["parameters"]
            records.append(record)
        return json.dumps({"kind": kind, "items": records}, indent=1, default=str)
    if not items:
        return f"no {kind} registered"
    all_headers = ("name", *headers, *(("parameters",) if params else ()))
    rows = [(item["name"], *item["columns"], *((item["parameters_text"],) if params else ()))
            for item in items]
    return format_table(all_headers, rows)


def _plain_arguments(argv: Sequence[str]) -> tuple[str, str, bool] | None:
    """``list KIND [--format F] [--params]`` -> (kind, format, params); else None."""
    if not argv or argv[0] != "list":
        return None
    kinds, output_format, params = [], "table", False
    rest = list(argv[1:])
    while rest:
        token = rest.pop(0)
        if token == "--params":
            params = True
        elif token == "--format" and rest:
            output_format = rest.pop(0)
        elif token.startswith("--format="):
            output_format = token.partition("=")[2]
        elif token.startswith("-"):
            return None
        else:
            kinds.append(token)
    if len(kinds) != 1 or output_format not in FORMATS:
        return None
    kind = kinds[0]
    if kind not in KINDS and f"{kind}s" in KINDS:  # the singular, as the full path forgives it
        kind = f"{kind}s"
    if kind not in KINDS or (params and kind != "explainers"):
        return None
    return kind, output_format, params


def read_index(path: Path = INDEX_PATH) -> dict[str, Any] | None:
    """The index, or None when it is missing, unreadable or from another version."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(index, dict) or index.get("version") != __version__:
        return None
    return index


def list_from_index(argv: Sequence[str], path: Path = INDEX_PATH) -> int | None:
    """Print ``suite list ...`` from the index and return 0, or None when it cannot stand in."""
    parsed = _plain_arguments(argv)
    if parsed is None:
        return None
    kind, output_format, params = parsed
    module, group = KINDS[kind]
    if module in sys.modules or any(True for _ in metadata.entry_points(group=group)):
        return None
    index = read_index(path)
    if index is None or kind not in index.get("kinds", {}):
        return None
    print(render(kind, index["kinds"][kind], output_format, params))
    return 0
