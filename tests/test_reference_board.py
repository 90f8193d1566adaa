"""The committed reference board is what the code derives from the committed reference store.

A change to the board's code that moves a number or a word fails here; refresh the board
with ``make reference`` (or ``suite leaderboard --store results/reference/store.sqlite
--out results/reference``) when the change is meant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suite.board.markdown import to_markdown
from suite.board.table import build_leaderboard
from suite.store.database import ResultsStore

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"


def test_the_reference_board_is_derived_from_the_reference_store():
    if not (REFERENCE / "store.sqlite").is_file():
        pytest.skip("no committed reference store")
    store = ResultsStore(REFERENCE / "store.sqlite")
    try:
        board = build_leaderboard(store.cells_frame(), store.instance_records())
    finally:
        store.close()
    assert to_markdown(board) == (REFERENCE / "leaderboard.md").read_text()
