"""PNG plots of a leaderboard: the edges-dropped curves."""

from __future__ import annotations

from suite.board.plots import plot_edges_dropped
from suite.board.table import build_leaderboard
from suite.metrics.drop_curve import DROP_GRID, curve_column
from tests.board import make_cells_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_edges_dropped_plot_draws_curves_when_the_store_has_them(tmp_path):
    frame = make_cells_frame()
    without = plot_edges_dropped(build_leaderboard(frame), tmp_path / "empty.png")
    for q in DROP_GRID:
        frame[curve_column(q)] = 1.0 - q * frame["seed"].astype(float) / 3
    board = build_leaderboard(frame)
    with_curves = plot_edges_dropped(board, tmp_path / "curves.png")
    assert with_curves.read_bytes()[:8] == PNG_MAGIC == without.read_bytes()[:8]
    assert with_curves.stat().st_size > 2 * without.stat().st_size  # panels, not the notice
    # curve points are aggregated for the plot but never shown as table columns
    shown = {c.key for d in board.datasets for c in board.columns(d)}
    assert not any(key.startswith("curve_") for key in shown)
    assert f"{curve_column(0.5)}_mean" in board.table.columns
