"""The ``suite`` command line: parsing and printing only; the work lives in the package.

One module per command (``register`` adds it to the parser); :mod:`suite.cli.app` builds
the parser and runs it. ``suite list`` is answered from a shipped metadata index when it
can be (:mod:`suite.cli.quick_list`), so it starts without importing torch.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

from suite.cli.quick_list import list_from_index


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``suite`` command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    listed = list_from_index(arguments)
    if listed is not None:
        return listed
    # the full command line imports torch (the registries, the board): only when needed
    return importlib.import_module("suite.cli.app").main(arguments)


__all__ = ["main"]
