"""The HTML board for submissions: filters by family, task, training and metric; per-row
configs and versions; external rows marked."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from suite.board.html import render_html
from suite.board.table import build_leaderboard, row_details
from suite.store.frame import KEY
from tests.board import make_cells_frame


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.options: dict[str, list[str]] = {}
        self.details: dict[str, str] = {}
        self.links: list[str] = []
        self._select = self._detail = None
        self._in_body = self._in_pre = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body:
            self.rows.append(a)
        if tag == "select":
            self._select = a["id"]
            self.options[self._select] = []
        if tag == "option" and self._select:
            self.options[self._select].append(a["value"])
        if tag == "details" and a.get("id"):
            self._detail = a["id"]
            self.details[self._detail] = ""
        if tag == "pre":
            self._in_pre = True
        if tag == "a" and (a.get("href") or "").startswith("#row-"):
            self.links.append(a["href"][1:])

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        if tag == "select":
            self._select = None
        if tag == "details":
            self._detail = None
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data):
        if self._detail and self._in_pre:
            self.details[self._detail] += data


@pytest.fixture(scope="module")
def frame():
    frame = make_cells_frame()
    # a second family, task level and training mode
    frame.loc[frame["dataset"] == "tox-free", "dataset_family"] = "molecules"
    frame.loc[frame["explainer"] == "random", "training"] = "adv-features"
    frame["torch_version"] = "2.13.0"
    return frame


@pytest.fixture(scope="module")
def page(frame) -> str:
    return render_html(build_leaderboard(frame), details=row_details(frame))


def test_filters_offer_every_family_task_training_and_shown_metric(page):
    parsed = _Collect()
    parsed.feed(page)
    assert parsed.options["f-family"] == ["", "molecules", "synthetic"]
    assert parsed.options["f-task"] == ["", "graph", "node"]
    assert parsed.options["f-training"] == ["", "adv-features", "standard"]
    assert {"edge_auc", "fid_plus_acc", "model_acc_test"} <= set(parsed.options["f-metric"])
    board_rows = [r for r in parsed.rows if "data-family" in r]
    assert len(board_rows) == len(build_leaderboard(make_cells_frame()).table)
    assert {r["data-family"] for r in board_rows} == {"molecules", "synthetic"}
    assert {r["data-training"] for r in board_rows} == {"adv-features", "standard"}


def test_the_page_stays_self_contained(page):
    parsed = _Collect()
    parsed.feed(page)
    assert "<link" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert all(link.startswith("row-") for link in parsed.links)


def test_every_row_links_to_its_configs_and_versions(page, frame):
    parsed = _Collect()
    parsed.feed(page)
    board = build_leaderboard(frame)
    assert len(parsed.links) == len(board.table) and set(parsed.links) <= set(parsed.details)
    details = row_details(frame)
    for key, value in details.items():
        seeds = frame[(frame[list(KEY)] == list(key)).all(axis=1) & (frame["status"] == "done")]
        assert sorted(c["seed"] for c in value["cells"]) == sorted(seeds["seed"])
        for cell in value["cells"]:
            assert cell["config"] == {"seed": cell["seed"]}  # the parsed config JSON
            assert cell["versions"] == {"torch": "2.13.0"}
            assert cell["git_commit"] == "abc123def"
    block = json.loads(next(iter(parsed.details.values())))
    assert {"cell_key", "config", "versions", "run_id"} <= set(block["cells"][0])


def _script(page: str) -> str:
    return re.search(r"<script>(.*?)</script>", page, re.S).group(1)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_row_visibility_combines_words_and_every_drop_down(page):
    probe = """
    function row(text, attrs) { return {textContent: text, getAttribute: (k) => attrs[k.slice(5)]}; }
    const r = row("gcn saliency 0.9", {family: "synthetic", task: "node", training: "standard"});
    console.log(JSON.stringify([
      suiteRowVisible(r, [], {}),
      suiteRowVisible(r, ["saliency"], {family: "synthetic"}),
      suiteRowVisible(r, [], {family: "molecules"}),
      suiteRowVisible(r, [], {task: "graph"}),
      suiteRowVisible(r, ["gin"], {}),
      suiteRowVisible(r, [], {training: "standard", task: "node", family: "synthetic"}),
    ]));
    """
    out = subprocess.run(["node", "-e", _script(page) + probe], capture_output=True, text=True,
                         timeout=30, check=True)
    assert json.loads(out.stdout) == [True, True, False, False, False, True]
