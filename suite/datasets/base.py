"""The dataset plug-in kind: a registry of builders returning ``BenchmarkDataset``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from suite.core.config import stable_hash
from suite.core.extras import missing_extra, missing_requirement
from suite.core.paths import atomic_write
from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset, DatasetInfo
from suite.datasets import cache
from suite.datasets.cache import CacheError

log = logging.getLogger(__name__)

#: A builder makes the dataset from a seed and keyword parameters.
DatasetBuilder = Callable[..., BenchmarkDataset]

DATASETS: Registry[DatasetBuilder] = Registry("dataset", entry_point_group="suite.datasets")

#: Bump when generated data changes, so caches built by older code are not reused.
#: 2: the checksummed plain-data cache format (``suite.datasets.cache``).
DATASET_FORMAT_VERSION = 2


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded here (no network and no mirror); the message is one line."""


def register_dataset(info: DatasetInfo) -> Callable[[DatasetBuilder], DatasetBuilder]:
    """Register a builder ``fn(seed: int, **params) -> BenchmarkDataset`` with its metadata."""
    return DATASETS.register(info.name, info=info)


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS.entry(name).metadata["info"]


def load_dataset(name: str, seed: int = 0, cache_dir: Path | None = None,
                 **params: Any) -> BenchmarkDataset:
    """Build dataset ``name`` (or read it from ``cache_dir``), deterministic in ``seed``."""
    entry = DATASETS.entry(name)
    key = stable_hash({"name": entry.name, "seed": seed, "params": params,
                       "format": DATASET_FORMAT_VERSION})
    path = None if cache_dir is None else Path(cache_dir) / f"{entry.name}-{key}.pt"
    if path is not None and path.exists():
        try:
            return cache.read(path)
        except (CacheError, OSError) as exc:  # tampered, torn or stale: rebuilt, never run
            log.warning("rebuilding unreadable dataset cache %s (%s)", path, exc)
    missing = missing_requirement(entry.metadata["info"].requires, f"dataset {entry.name}")
    if missing is not None:  # before the builder runs: before any download is tried
        raise DatasetUnavailable(missing)
    try:
        dataset = entry.factory(seed=seed, **params)
    except ModuleNotFoundError as exc:  # an optional family whose extra is not installed
        hint = missing_extra(exc, f"dataset {entry.name}")
        if hint is None:
            raise
        raise DatasetUnavailable(hint) from None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # atomic, through a unique temporary file: an interrupted write never leaves a torn
        # cache, and two processes building the same dataset never write one file together
        blob = cache.encode(dataset)
        atomic_write(path, lambda handle: handle.write(blob))
    return dataset
