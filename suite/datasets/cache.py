"""The dataset cache's file format: tensors and plain values only, checksummed.

A cache file is a header line, the SHA-256 of the payload in hex, and the payload: a
``torch.save`` of a dict holding only tensors, numbers, strings, lists and dicts
(:func:`dataset_state`). It is read with ``torch.load(weights_only=True)``, which refuses
anything else, after the checksum matched, so a tampered, truncated or foreign file is
refused (and rebuilt by the caller) instead of running code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel

#: The first line of every cache file (bump the number when the state's layout changes).
MAGIC = b"SUITE-DATASET 2\n"

#: ``BenchmarkDataset`` fields saved as they are (tensors, dicts of tensors or ints).
_FIELDS = ("y", "num_classes", "splits", "explain_ids", "gt_edge_mask", "gt_node_mask",
           "node_ptr", "edge_ptr", "num_edge_types")


class CacheError(ValueError):
    """A cache file that cannot be trusted or read; the message is one line."""


def dataset_state(dataset: BenchmarkDataset) -> dict[str, Any]:
    """``dataset`` as plain data: the ``Data`` attributes, the fields, the info and the
    parameters (the last two as JSON text)."""
    info = dataclasses.asdict(dataset.info)
    info["task"] = dataset.info.task.value
    return {"data": dict(dataset.data.to_dict()),
            **{name: getattr(dataset, name) for name in _FIELDS},
            "info": json.dumps(info), "params": json.dumps(dataset.params)}


def dataset_from_state(state: dict[str, Any]) -> BenchmarkDataset:
    """The inverse of :func:`dataset_state`."""
    info = json.loads(state["info"])
    info["task"] = TaskLevel(info["task"])
    info["requires"] = tuple(info.get("requires", ()))  # JSON keeps a list; older caches: none
    return BenchmarkDataset(info=DatasetInfo(**info), data=Data(**state["data"]),
                            params=json.loads(state["params"]),
                            **{name: state[name] for name in _FIELDS})


def encode(dataset: BenchmarkDataset) -> bytes:
    """The bytes of a cache file for ``dataset``."""
    buffer = io.BytesIO()
    torch.save(dataset_state(dataset), buffer)
    payload = buffer.getvalue()
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def decode(blob: bytes, source: str = "cache file") -> BenchmarkDataset:
    """The dataset of a cache file's bytes; ``CacheError`` when the header or checksum does
    not match or the payload holds anything but plain data."""
    if not blob.startswith(MAGIC):
        raise CacheError(f"{source}: not a dataset cache of this format")
    digest, _, payload = blob[len(MAGIC):].partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != digest:
        raise CacheError(f"{source}: checksum mismatch (tampered or truncated)")
    try:
        state = torch.load(io.BytesIO(payload), weights_only=True)
        return dataset_from_state(state)
    except Exception as exc:  # weights_only refuses code; a malformed state is refused too
        raise CacheError(f"{source}: unreadable payload ({type(exc).__name__})") from None


def read(path: Path) -> BenchmarkDataset:
    """:func:`decode` of the file at ``path``."""
    return decode(Path(path).read_bytes(), str(path))


__all__ = ["CacheError", "MAGIC", "dataset_from_state", "dataset_state", "decode", "encode",
           "read"]
