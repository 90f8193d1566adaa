"""Slow tier: the default matrix under Ray equals the local executor, cell by cell."""

from __future__ import annotations

import json

import numpy as np
import pytest

from suite.core.paths import Paths
from suite.store.frame import TIMING_COLUMNS
from tests.execution.executor_helpers import run_into

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def test_default_matrix_under_ray_matches_the_local_executor_cell_by_cell(tmp_path, cluster):
    """The default matrix (240 cells) under Ray; then 12 seeded-random cells rerun locally
    with run_cell on the same caches must give the same scores within 1e-6."""
    from suite.execution.cell import run_cell
    from suite.matrix import Cell, expand, load_matrix

    summary, frame, _ = run_into(tmp_path, "ray.sqlite", "default", executor="ray")
    assert summary.failed == 0 and summary.pending == 0, summary.text()
    cells, _ = expand(load_matrix("default"))
    done = frame[frame["status"] == "done"].set_index("cell_key")
    assert len(done) > 0.8 * len(cells)
    rng = np.random.default_rng(0)
    for key in rng.choice(done.index.to_numpy(), size=12, replace=False):
        cell = Cell.from_dict(json.loads(done.loc[key, "config"]))
        local = run_cell(cell, Paths(tmp_path))
        for metric, value in local.scores.items():
            if metric in TIMING_COLUMNS:
                continue
            assert np.isclose(done.loc[key, metric], value, rtol=0, atol=1e-6, equal_nan=True), \
                (cell.label, metric)
