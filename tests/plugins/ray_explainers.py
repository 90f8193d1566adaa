"""Explainer plug-ins that misbehave on purpose, for the Ray and processes executors' failure tests.

Both behave like the built-in ``random`` baseline unless the file named by their
``marker`` hyper-parameter exists: then ``test-crash`` kills its own worker
process (``os._exit``) and ``test-stall`` waits (up to ``stall_seconds``) for the
marker to disappear. Loaded with ``--plugin tests/plugins/ray_explainers.py:Class``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from suite.explainers import ExplainerInfo
from suite.explainers.random import RandomConfig, RandomExplainer


@dataclass
class MarkerConfig(RandomConfig):
    """``marker``: a file path; ``stall_seconds``: the longest ``test-stall`` waits (s)."""

    marker: str = ""
    stall_seconds: float = 120.0


class CrashWhileMarked(RandomExplainer):
    """Kills its worker process while the marker file exists."""

    info = ExplainerInfo(name="test-crash", citation="test", source="plugin",
                         description="kills its worker while a marker file exists")
    Config = MarkerConfig

    def explain(self, model, dataset, ids, seed):
        if self.config.marker and os.path.exists(self.config.marker):
            os._exit(1)
        return super().explain(model, dataset, ids, seed)


class StallWhileMarked(RandomExplainer):
    """Waits while the marker file exists (so a test can kill the run meanwhile)."""

    info = ExplainerInfo(name="test-stall", citation="test", source="plugin",
                         description="waits while a marker file exists")
    Config = MarkerConfig

    def explain(self, model, dataset, ids, seed):
        deadline = time.monotonic() + self.config.stall_seconds
        while self.config.marker and os.path.exists(self.config.marker) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        return super().explain(model, dataset, ids, seed)
