"""A copy of the checkout as a wheel's source tree (shared by the packaging tests)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the checkout's own folders a wheel's source tree leaves out (top level only:
#: ``suite/datasets`` is package code)
LOCAL = {".git", ".venv", ".asv", "results", "datasets", "build", "site"}


def checkout_only(folder: str, names: list[str]) -> set[str]:
    """``shutil.copytree`` ignore: the local folders at the top, caches everywhere."""
    top = Path(folder).resolve() == ROOT
    return {n for n in names if (top and n in LOCAL) or n == "__pycache__"
            or n.endswith(".egg-info")}
