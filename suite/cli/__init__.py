"""The ``suite`` command line: parsing and printing only; the work lives in the package.

One module per command (``register`` adds it to the parser); :mod:`suite.cli.app` builds
the parser and runs it. ``suite list`` is answered from a shipped metadata index when it
can be (:mod:`suite.cli.quick_list`), so it starts without importing torch.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from suite.cli.quick_list import list_from_index
from suite.core.lifecycle import INTERRUPTED_EXIT, sigterm_deferred


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``suite`` command line; returns the exit status.

    Ctrl-C or SIGTERM while it starts (importing torch takes seconds) is one line and exit
    status 130, as it is later. SIGTERM is noted during the imports and acted on once they
    are done (raised inside them, CPython may swallow it).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        with sigterm_deferred() as stopped:
            listed = list_from_index(arguments)
            if listed is not None:
                return listed
            # the full command line imports torch (the registries, the board): only when needed
            app = importlib.import_module("suite.cli.app")
        if stopped:
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("suite: interrupted", file=sys.stderr)
        if argv is None:  # run as the program: exit now, with this status
            # a Ctrl-C inside an extension's start-up code (torch's) leaves CPython marking
            # it unhandled even once caught, and the interpreter would then end itself by
            # SIGINT (status -2) instead of returning 130; nothing has started to lose
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED_EXIT)
        return INTERRUPTED_EXIT
    return app.main(arguments)


__all__ = ["main"]
