"""The ``suite`` command line: parsing and printing only; the work lives in the package.

One module per command (``register`` adds it to the parser); :mod:`suite.cli.app` builds
the parser and runs it.
"""

from suite.cli.app import main

__all__ = ["main"]
