"""Per-instance records of a cell: what its headline scores need to be recomputed.

A cell's explanation is kept as the explained instance ids, each instance's
explained-edge scores (attribution scores: absolute values for signed methods) and
ground-truth labels, and per-instance values of instance-decomposable scores (e.g.
``fid_plus_acc``: 1 when the prediction changes). The board resamples instances from
these to put intervals on scores and ranks. Serialised as plain little-endian arrays
(never pickle), so reading a record runs no code.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class InstanceRecords:
    """The explained instances of one cell.

    Attributes:
        instance_ids: [B] int64 node or graph ids, in explanation order.
        edge_ptr: [B+1] int64 offsets: instance ``b`` owns edges ``edge_ptr[b]:edge_ptr[b+1]``.
        edge_scores: [M] float32 attribution scores of the explained edges.
        edge_labels: [M] bool ground-truth labels, or None without ground truth.
        values: score name -> [B] float64 per-instance values.
    """

    instance_ids: np.ndarray
    edge_ptr: np.ndarray
    edge_scores: np.ndarray
    edge_labels: np.ndarray | None = None
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.instance_ids = np.asarray(self.instance_ids, dtype="<i8").reshape(-1)
        self.edge_ptr = np.asarray(self.edge_ptr, dtype="<i8").reshape(-1)
        self.edge_scores = np.asarray(self.edge_scores, dtype="<f4").reshape(-1)
        if self.edge_labels is not None:
            self.edge_labels = np.asarray(self.edge_labels, dtype=bool).reshape(-1)
        self.values = {k: np.asarray(v, dtype="<f8").reshape(-1) for k, v in self.values.items()}
        b, m = self.instance_ids.size, self.edge_scores.size
        if self.edge_ptr.size != b + 1 or int(self.edge_ptr[-1]) != m:
            raise ValueError(f"edge_ptr must have {b + 1} entries ending at {m} "
                             f"(got {self.edge_ptr.size} ending at {int(self.edge_ptr[-1])})")
        if self.edge_labels is not None and self.edge_labels.size != m:
            raise ValueError(f"edge_labels must have {m} entries (got {self.edge_labels.size})")
        bad = [k for k, v in self.values.items() if v.size != b]
        if bad:
            raise ValueError(f"values[{bad[0]!r}] must have one entry per instance ({b})")

    @property
    def num_instances(self) -> int:
        return int(self.instance_ids.size)

    @property
    def edge_owner(self) -> np.ndarray:
        """[M] the instance position of each edge."""
        return np.repeat(np.arange(self.num_instances), np.diff(self.edge_ptr))

    def same_edges(self, other: "InstanceRecords") -> bool:
        """True when both records explain the same instances with identical edge scores."""
        return (np.array_equal(self.instance_ids, other.instance_ids)
                and np.array_equal(self.edge_ptr, other.edge_ptr)
                and np.array_equal(self.edge_scores, other.edge_scores))

    # ------------------------------------------------------------------ serialisation

    def to_blob(self) -> bytes:
        """A compressed byte string: a JSON header (shapes, value names) and the arrays."""
        arrays = [self.instance_ids, self.edge_ptr, self.edge_scores]
        if self.edge_labels is not None:
            arrays.append(self.edge_labels.astype(np.uint8))
        names = sorted(self.values)
        arrays += [self.values[k] for k in names]
        header = json.dumps({"b": self.num_instances, "m": int(self.edge_scores.size),
                             "labels": self.edge_labels is not None, "values": names}).encode()
        body = b"".join(a.tobytes() for a in arrays)
        return zlib.compress(len(header).to_bytes(4, "little") + header + body)

    @classmethod
    def from_blob(cls, blob: bytes) -> "InstanceRecords":
        """Inverse of :meth:`to_blob`; a malformed blob raises ``ValueError``."""
        try:
            raw = zlib.decompress(blob)
            size = int.from_bytes(raw[:4], "little")
            header = json.loads(raw[4:4 + size])
            b, m = int(header["b"]), int(header["m"])
            names = [str(n) for n in header["values"]]
            offset = 4 + size

            def take(dtype: str, count: int) -> np.ndarray:
                nonlocal offset
                width = np.dtype(dtype).itemsize * count
                out = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).copy()
                offset += width
                return out

            ids, ptr, scores = take("<i8", b), take("<i8", b + 1), take("<f4", m)
            labels = take("u1", m).astype(bool) if header["labels"] else None
            values = {name: take("<f8", b) for name in names}
        except (zlib.error, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"malformed instance records ({exc})") from None
        return cls(ids, ptr, scores, labels, values)


def records_to_text(records: InstanceRecords) -> str:
    """The records as ASCII text (base64 of :meth:`InstanceRecords.to_blob`), for CSV and
    Parquet exports."""
    return base64.b64encode(records.to_blob()).decode("ascii")


def records_from_text(text: str) -> InstanceRecords:
    """Inverse of :func:`records_to_text`; malformed text raises ``ValueError``."""
    try:
        blob = base64.b64decode(str(text).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"malformed instance records ({exc})") from None
    return InstanceRecords.from_blob(blob)
