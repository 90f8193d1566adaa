"""The suite's version (recorded with every result and every cached model)."""

__version__ = "0.1.0"
