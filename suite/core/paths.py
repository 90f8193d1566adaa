"""Where the suite reads and writes: one root directory, from an argument or ``SUITE_HOME``."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable


@dataclass(frozen=True)
class Paths:
    """The suite's directories under one root (default: ``$SUITE_HOME`` or the current directory).

    - ``datasets/cache``: generated and downloaded datasets (git-ignored).
    - ``results/cache/models``: trained models, keyed by config hash (git-ignored).
    - ``results/``: the results store and generated leaderboards (git-ignored).
    - ``results/reference``: small committed reference outputs.

    ``models`` replaces ``results/cache/models`` (``suite run --model-cache DIR``: the
    reference refresh trains into the committed reference models).
    """

    root: Path
    models: Path | None = None
    #: read-only folders of trained models searched after ``model_cache`` (None: the
    #: committed reference models of a source checkout; ``()``: none, so every model
    #: missing from ``model_cache`` is trained)
    model_references: tuple[Path, ...] | None = None

    @classmethod
    def from_env(cls, root: str | os.PathLike | None = None,
                 models: str | os.PathLike | None = None) -> "Paths":
        return cls(Path(root or os.environ.get("SUITE_HOME") or Path.cwd()).resolve(),
                   None if models is None else Path(models).resolve())

    @property
    def dataset_cache(self) -> Path:
        return self.root / "datasets" / "cache"

    @property
    def model_cache(self) -> Path:
        return self.models or self.root / "results" / "cache" / "models"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def default_store(self) -> Path:
        return self.results / "store.sqlite"

    @property
    def leaderboard_dir(self) -> Path:
        return self.results / "leaderboard"

    @property
    def reference(self) -> Path:
        return self.results / "reference"


#: The committed reference models of a source checkout (weights only, keyed by config hash).
REFERENCE_MODELS = Path(__file__).resolve().parents[2] / "results" / "reference" / "models"


def reference_models() -> Path | None:
    """The committed reference models' folder when this is a source checkout that has it."""
    return REFERENCE_MODELS if REFERENCE_MODELS.is_dir() else None


def data_mirror() -> Path | None:
    """The local data mirror from ``SUITE_DATA_MIRROR``, when set and present."""
    value = os.environ.get("SUITE_DATA_MIRROR")
    if value and Path(value).is_dir():
        return Path(value)
    return None


def atomic_write(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` through ``write(handle)`` into a unique temporary file, then rename it.

    A reader sees either the complete file or none; concurrent writers of the same
    path (two worker processes building one dataset) never share a temporary file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
