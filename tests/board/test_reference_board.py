"""The committed reference board is what the code derives from the committed reference store.

A change to the board's code that moves a number or a word fails here; refresh the board
with ``make reference`` (or ``suite leaderboard --store results/reference/store.sqlite
--out results/reference``) when the change is meant.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suite.board.markdown import headline_markdown, to_markdown, with_headline
from suite.board.table import build_leaderboard
from suite.store.database import ResultsStore

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference"


@pytest.fixture(scope="module")
def board():
    if not (REFERENCE / "store.sqlite").is_file():
        pytest.skip("no committed reference store")
    store = ResultsStore(REFERENCE / "store.sqlite")
    try:
        return build_leaderboard(store.cells_frame(), store.instance_records())
    finally:
        store.close()


def test_the_reference_board_is_derived_from_the_reference_store(board):
    assert to_markdown(board) == (REFERENCE / "leaderboard.md").read_text()


def test_the_readme_headline_is_derived_from_the_reference_store(board):
    readme = (REFERENCE.parents[1] / "README.md").read_text()
    assert with_headline(readme, headline_markdown(board)) == readme


def test_the_headline_block_needs_its_markers():
    with pytest.raises(ValueError, match="headline-board"):
        with_headline("# a README without the block\n", "| table |\n")
    text = "intro\n<!-- headline-board -->\nold\n<!-- /headline-board -->\nrest\n"
    assert with_headline(text, "new\n") == ("intro\n<!-- headline-board -->\nnew\n"
                                            "<!-- /headline-board -->\nrest\n")
