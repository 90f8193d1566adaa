"""A study's configuration, fixed before its seeds run: its hash is recorded with the results.

``record_configuration(out, study, version, config)`` writes ``study-version.json`` into the
study's output folder. Running again with the same version needs the same configuration
(same hash); a changed configuration needs a new version, and a new version needs a new
output folder, so results of two configurations never mix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from suite.core.config import stable_hash

#: The record's file name in a study's output folder.
VERSION_FILE = "study-version.json"


class StudyVersionError(RuntimeError):
    """A study asked to run a configuration its output folder's record does not allow."""


@dataclass(frozen=True)
class StudyVersion:
    """What a study's results were produced with."""

    study: str
    version: int
    config_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study, "version": self.version, "config_hash": self.config_hash}


def record_configuration(out: str | Path, study: str, version: int,
                         config: Mapping[str, Any]) -> StudyVersion:
    """Record (or check) ``study``'s configuration in ``out``; raise StudyVersionError when
    the folder holds another configuration under the same version, or another version."""
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"version: expected a positive integer (got {version!r})")
    current = StudyVersion(study, version, stable_hash(dict(config)))
    path = Path(out) / VERSION_FILE
    if path.is_file():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if recorded.get("study") != study:
            raise StudyVersionError(f"{path}: results of study {recorded.get('study')!r}, "
                                    f"not {study!r}")
        if recorded.get("version") != version:
            raise StudyVersionError(f"{path}: results of {study} version {recorded.get('version')};"
                                    f" version {version} needs its own output folder")
        if recorded.get("config_hash") != current.config_hash:
            raise StudyVersionError(
                f"{path}: {study} version {version} was run with configuration "
                f"{recorded.get('config_hash')}, now {current.config_hash}: a changed "
                "configuration is a new version of the study (bump it and say why in the "
                "study's README)")
        return current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**current.to_dict(), "config": dict(config)}, indent=1,
                               sort_keys=True, default=str) + "\n", encoding="utf-8")
    return current
