"""Slow tier: the GraphMask study reproduces the paper's synthetic task (``-m slow``)."""

from __future__ import annotations

import pytest
from suite_studies.graphmask.report import ReportConfig, run_report, write_report

from suite.core.paths import Paths

pytestmark = [pytest.mark.slow, pytest.mark.graphmask]


def test_graphmask_report_reproduces_the_paper(tmp_path):
    report = run_report(ReportConfig(), Paths(tmp_path))
    print("\n" + report.markdown())
    write_report(report, tmp_path / "report")
    rows = {row.method: row for row in report.rows}
    assert all(not row.error for row in rows.values()), {m: r.error for m, r in rows.items()}
    graphmask = rows["graphmask"]
    assert graphmask.f1 >= 0.95
    assert abs(graphmask.acc_masked - report.acc_unmasked) <= 0.05 * report.acc_unmasked
    assert rows["erasure-search"].agreement == 1.0
