"""Writing files without destroying data: guarded targets and atomic replacement.

Every command that writes a file (exports, references, tables) goes through
:func:`check_target`, which refuses to write over a file the command reads, over any
existing results store (an SQLite database), or, unless asked, over any existing file;
and through ``suite.core.paths.atomic_write`` (:func:`atomic_write` for text), which
writes a temporary file in the target's folder and renames it into place, so an
interrupted write leaves the old file whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from suite.core.paths import atomic_write as write_atomically

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"


class TargetError(ValueError):
    """A write that would destroy data; the message is one line naming the option."""


def is_sqlite(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an existing SQLite database (a results store)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_target(path: str | os.PathLike, *, option: str = "--out",
                 reads: Iterable[str | os.PathLike] = (), overwrite: bool = True) -> Path:
    """``path`` as a ``Path`` when writing it destroys nothing; ``TargetError`` otherwise.

    Refused: a file the command reads (``reads``), an existing results store (SQLite),
    a directory, and, with ``overwrite=False``, any existing file.
    """
    path = Path(path)
    for source in reads:
        if _same_file(path, Path(source)):
            raise TargetError(f"{option} {path}: is the file this command reads; write to "
                              "another path")
    if path.is_dir():
        raise TargetError(f"{option} {path}: is a directory; give a file path")
    if is_sqlite(path):
        raise TargetError(f"{option} {path}: is a results store; refusing to overwrite it")
    if path.exists() and not overwrite:
        raise TargetError(f"{option} {path}: exists; pass --overwrite to replace it")
    return path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through
    ``suite.core.paths.atomic_write`` (a temporary file renamed into place), creating the
    folder; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    write_atomically(path, lambda handle: handle.write(payload))
    return path


__all__ = ["SQLITE_HEADER", "TargetError", "atomic_write", "check_target", "is_sqlite"]
