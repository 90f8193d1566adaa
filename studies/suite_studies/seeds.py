"""Running a study seed by seed, each seed's numbers kept as plain data so nothing is lost.

:func:`run_seeds` records the study's configuration in the output folder (refusing a
changed one under the same version, :mod:`suite_studies.versioning`), then runs every seed
whose record ``OUT/seeds/seed-S.json`` is missing and writes it atomically; a rerun after
an interruption resumes at the first missing seed. The records are JSON (never pickle).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Callable, Sequence

from suite.core.files import atomic_write
from suite_studies.versioning import StudyVersion, record_configuration

#: Folder (under the output) of the per-seed records.
SEED_FOLDER = "seeds"


def finite(value: Any) -> float:
    """``value`` as a float, NaN for anything missing, non-numeric or infinite."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def configuration_record(per_seed: Any, seeds: Sequence[int]) -> dict[str, Any]:
    """What a seeded study's version record hashes: the per-seed configuration (a
    dataclass, its ``seed`` field left out) and the seed list."""
    fields = dataclasses.asdict(per_seed)
    fields.pop("seed", None)
    return {"seeds": list(seeds), "report": fields}


def run_seeds(study: str, version: int, record: dict[str, Any], seeds: Sequence[int],
              run_seed: Callable[[int, int], dict[str, Any]], out: str | Path | None,
              say: Callable[[str], None]) -> tuple[StudyVersion | None, list[dict[str, Any]]]:
    """Record ``record`` in ``out`` as ``study`` ``version``, then the per-seed records:
    read from ``out/seeds/seed-S.json`` where present, else ``run_seed(index, seed)`` and
    written there. Without ``out`` nothing is recorded or kept."""
    kept = record_configuration(out, study, version, record) if out else None
    records = []
    for index, seed in enumerate(seeds):
        file = Path(out) / SEED_FOLDER / f"seed-{seed}.json" if out else None
        if file is not None and file.is_file():
            say(f"seed {seed}: read from {file}")
            records.append(json.loads(file.read_text(encoding="utf-8")))
            continue
        say(f"seed {seed}")
        result = run_seed(index, seed)
        if file is not None:
            atomic_write(file, json.dumps(result, indent=1, sort_keys=True, default=str) + "\n")
        records.append(result)
    return kept, records


__all__ = ["SEED_FOLDER", "configuration_record", "finite", "run_seeds"]
