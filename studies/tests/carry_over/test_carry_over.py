"""The carry-over check: a plain-PyG model, ours and PyG's explainers, one scorer."""

from __future__ import annotations

import math

from suite_studies.carry_over.report import (
    CarryOverConfig,
    CarryOverResult,
    run_carry_over,
)

from suite.cli import main


def test_the_table_reports_intervals_and_the_target():
    config = CarryOverConfig(pairs=(("saliency", "pyg-saliency"), ("gnnexplainer", "pyg-gnnexplainer")))
    result = CarryOverResult(config, auc={
        "saliency": {0: 0.99, 1: 0.98, 2: 0.97}, "pyg-saliency": {0: 0.99, 1: 0.99, 2: 0.99},
        "gnnexplainer": {0: 0.80, 1: 0.82, 2: 0.84}, "pyg-gnnexplainer": {0: 0.90, 1: 0.91, 2: 0.92}},
        accuracy={0: 0.95, 1: 0.96, 2: 0.97}, targets={0: 80, 1: 81, 2: 79})
    low, high = result.interval("saliency").low, result.interval("saliency").high
    assert low < 0.98 < high
    table = result.markdown()
    assert "| saliency | 0.980 [" in table and table.count("| met |") == 1
    assert "| gnnexplainer |" in table and "not met" in table


def test_a_tiny_run_end_to_end_and_through_suite_report(tmp_path):
    config = CarryOverConfig(seeds=(0,), epochs=20, pairs=(("saliency", "pyg-saliency"),),
                             max_targets=3)
    result = run_carry_over(config)
    assert result.targets == {0: 3}
    assert all(0.0 <= result.auc[name][0] <= 1.0 for name in ("saliency", "pyg-saliency"))
    assert not math.isnan(result.accuracy[0])


def test_the_report_is_listed(capsys):
    assert main(["list", "reports"]) == 0
    assert "carry-over" in capsys.readouterr().out
