"""Tests of ``suite.board.html``: self-contained, well-formed, escaped, sortable."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from suite.board.html import render_html
from suite.board.table import build_leaderboard
from tests.board import EXPLAINERS, GT_DATASET, make_cells_frame

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Checker(HTMLParser):
    """Collects tags, URL attributes and nesting errors."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.body_rows = 0
        self.in_tbody = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        for name in ("src", "href", "action", "srcset", "poster"):
            if attrs.get(name) is not None:
                self.urls.append((tag, name, attrs[name]))
        if tag == "tbody":
            self.in_tbody += 1
        if tag == "tr" and self.in_tbody:
            self.body_rows += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_tbody -= 1
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def _parse(text: str) -> _Checker:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    return checker


@pytest.fixture(scope="module")
def board():
    return build_leaderboard(make_cells_frame())


@pytest.fixture(scope="module")
def page(board) -> str:
    return render_html(board, images={"plot.png": b"\x89PNG\r\n\x1a\nfake"})


def test_page_is_well_formed(page):
    checker = _parse(page)
    assert checker.errors == []
    assert checker.stack == []
    assert page.startswith("<!DOCTYPE html>")


def test_page_has_no_external_assets(page):
    checker = _parse(page)
    for tag, attr, url in checker.urls:
        assert url.startswith(("data:", "#")), f"<{tag} {attr}={url!r}> is not self-contained"
    assert not [t for t, _ in checker.tags if t in ("link", "iframe", "object", "embed")]
    assert all("src" not in attrs for tag, attrs in checker.tags if tag == "script")
    assert "http" not in page.lower()
    assert "url(" not in page and "@import" not in page


def test_every_row_is_in_the_page_and_plots_are_embedded(board, page):
    checker = _parse(page)
    assert checker.body_rows == len(board.table) + len(board.problems) + len(board.cards)
    for explainer in (*EXPLAINERS, "pgexplainer"):
        assert f"<td>{explainer}</td>" in page
    encoded = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    assert f'src="data:image/png;base64,{encoded}"' in page


def test_numeric_columns_carry_sortable_values(board, page):
    checker = _parse(page)
    headers = [attrs.get("data-type") for tag, attrs in checker.tags if tag == "th"]
    assert "number" in headers and "text" in headers
    assert "suiteSort" in page and "suiteFilter" in page and 'id="filter"' in page
    row = board.table[(board.table["dataset"] == GT_DATASET)].iloc[0]
    assert f'data-sort="{float(row["edge_auc_mean"])!r}"' in page


def test_store_strings_are_escaped():
    evil = "<img src=x onerror=alert(1)>"
    frame = make_cells_frame(explainer_names=("saliency", evil))
    frame.loc[frame["status"] == "skipped", "error"] = "<script>alert('x')</script>"
    page = render_html(build_leaderboard(frame))
    assert evil not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert _parse(page).errors == []


def _script(page: str) -> str:
    return re.search(r"<script>(.*?)</script>", page, re.S).group(1)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_sort_comparison_is_numeric_with_missing_values_last(page):
    probe = """
    const values = ["10", "9", "", "0.5", "-1"];
    const words = ["b", "", "a"];
    console.log(JSON.stringify([
      values.slice().sort((x, y) => suiteCompare(x, y, true, true)),
      values.slice().sort((x, y) => suiteCompare(x, y, true, false)),
      words.slice().sort((x, y) => suiteCompare(x, y, false, true)),
    ]));
    """
    result = subprocess.run(["node", "-e", _script(page) + probe], capture_output=True,
                            text=True, timeout=30, check=True)
    ascending, descending, text = json.loads(result.stdout)
    assert ascending == ["-1", "0.5", "9", "10", ""]
    assert descending == ["10", "9", "0.5", "-1", ""]
    assert text == ["a", "b", ""]
