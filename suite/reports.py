"""The report plug-in kind: ``suite report NAME`` runs a registered study and writes files.

A report reproduces one experiment end to end (train or load its models, explain,
score) and writes Markdown and PNG files into one directory. Reports register a
function ``fn(request: ReportRequest) -> list[Path]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from suite.core.paths import Paths
from suite.core.registry import Registry


@dataclass
class ReportRequest:
    """What ``suite report`` passes to a report.

    Attributes:
        out: directory to write into (created when missing).
        paths: dataset and model caches.
        device: ``cpu`` or ``cuda``.
        seed: the seed of everything the report draws.
        quick: a small configuration (tests, a first look) instead of the full study.
        progress: called with one line per step.
    """

    out: Path
    paths: Paths
    device: str = "cpu"
    seed: int = 0
    quick: bool = False
    progress: Callable[[str], None] = lambda _line: None


Report = Callable[[ReportRequest], list[Path]]

REPORTS: Registry[Report] = Registry("report", entry_point_group="suite.reports")
