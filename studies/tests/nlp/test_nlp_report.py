"""``suite report nlp --quick``: renders Markdown and both PNGs from real EWT sentences.

To keep the fast tier fast, every EWT split is served from the first dev sentences
(the report's mechanics are under test here, not its numbers: those are in
tests/test_quality_nlp.py, slow tier).
"""

from __future__ import annotations

import pytest

from suite.core.paths import Paths
from suite.datasets.nlp import ewt
from suite.reports import REPORTS, ReportRequest


@pytest.fixture()
def small_ewt(monkeypatch, mirror, suite_home):
    dev, _note = ewt.read_split("dev")
    monkeypatch.setattr(ewt, "load_split", lambda split: dev[:400])
    return dev


def test_quick_nlp_report_renders(small_ewt, suite_home):
    out = suite_home / "report"
    request = ReportRequest(out=out, paths=Paths.from_env(suite_home), quick=True)
    files = REPORTS.get("nlp")(request)
    names = sorted(p.name for p in files)
    assert names == ["nlp.md", "nlp_f1.png", "nlp_sentences.png"]
    out = out / "quick"  # the quick configuration's own folder, two seeds
    assert (out / "seeds" / "seed-1.json").is_file() and (out / "study-version.json").is_file()
    text = (out / "nlp.md").read_text()
    assert "## dep-count" in text and "## dep-role" in text and "## ewt-genre" in text
    assert "## Claims" in text and "ewt-genre: dropping the edges GraphMask drops" in text
    for method in ("graphmask", "graphmask-instance", "saliency", "random"):
        assert f"| {method} |" in text
    assert "failed" not in text
    assert "layer 1" in text and "| self |" in text  # per layer x relation shares, self-loops included
    for png in ("nlp_f1.png", "nlp_sentences.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / png).stat().st_size > 5000
