"""``suite report graphmask``: scoring helpers against sklearn, and a tiny end-to-end run."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score
from suite_studies.graphmask.report import (
    GraphMaskReport,
    MethodResult,
    ReportConfig,
    best_threshold,
    kept_edges,
    precision_recall_f1,
    run_report,
    sufficient_threshold,
    write_report,
)

from suite.cli import main
from suite.core.paths import Paths
from suite.core.types import Explanation, TaskLevel
from suite.datasets import load_dataset
from suite.explainers.base import build_explainer
from suite.graph.subgraphs import graph_batch
from suite.metrics import attribution_scores
from suite.metrics.perturb import masked_log_probs
from suite.training import ModelCache, train_or_load


def test_precision_recall_f1_match_sklearn():
    gen = torch.Generator().manual_seed(0)
    kept = torch.rand(200, generator=gen) > 0.5
    truth = torch.rand(200, generator=gen) > 0.6
    p, r, f = precision_recall_f1(kept, truth)
    assert p == pytest.approx(precision_score(truth, kept))
    assert r == pytest.approx(recall_score(truth, kept))
    assert f == pytest.approx(f1_score(truth, kept))
    assert math.isnan(precision_recall_f1(torch.zeros(3, dtype=torch.bool), truth[:3])[0])


def test_best_threshold_maximises_f1_on_separable_scores():
    truth = torch.tensor([False, False, True, True, False, True])
    scores = torch.tensor([0.1, 0.2, 0.8, 0.9, 0.3, 0.7])
    t = best_threshold(scores, truth)
    assert 0.3 < t <= 0.7
    assert precision_recall_f1(scores >= t, truth)[2] == 1.0


def test_kept_edges_prefers_hard_gates_and_thresholds_soft_scores():
    expl = Explanation(TaskLevel.GRAPH, torch.tensor([0]), torch.arange(4), torch.tensor([0, 4]),
                       torch.tensor([0.9, -0.8, 0.1, 0.2]), signed=True)
    assert kept_edges(expl, 0.5).tolist() == [True, True, False, False]  # |score| for signed
    expl.meta["hard_gates"] = torch.tensor([[True, False, False, False], [False, False, True, False]])
    assert kept_edges(expl, None).tolist() == [True, False, True, False]  # open in any layer
    expl.meta.pop("hard_gates")
    with pytest.raises(ValueError, match="threshold"):
        kept_edges(expl, None)


def test_tiny_report_end_to_end(tmp_path):
    config = ReportConfig(
        seed=0, dataset_params={"num_train": 400, "num_val": 40, "num_test": 40},
        training={"lr": 0.01, "batch_size": 64, "epochs": 30, "patience": 0},
        explainers={"erasure-search": {}, "gnnexplainer": {"epochs": 30}, "no-such-method": {}},
        max_val=40, max_test=20)
    report = run_report(config, Paths(tmp_path))
    rows = {row.method: row for row in report.rows}
    assert set(rows) == {"erasure-search", "gnnexplainer", "no-such-method"}
    assert "unknown explainer" in rows["no-such-method"].error
    erasure = rows["erasure-search"]
    assert not erasure.error and erasure.agreement == 1.0  # drops only what keeps the prediction
    assert 0.0 < erasure.retained < 1.0
    assert rows["gnnexplainer"].threshold is not None and 0 <= rows["gnnexplainer"].f1 <= 1
    assert 0 <= rows["gnnexplainer"].auc <= 1 and 0 <= erasure.auc <= 1
    files = write_report(report, tmp_path / "out")
    text = files[0].read_text()
    assert "| erasure-search |" in text and "failed: UnknownNameError" in text
    assert files[1].read_bytes()[:4] == b"\x89PNG"


def test_cli_report_lists_and_refuses_unknown_names(capsys):
    assert main(["list", "reports"]) == 0
    assert "graphmask" in capsys.readouterr().out
    assert main(["report", "graphmsk"]) == 2
    assert "Did you mean 'graphmask'" in capsys.readouterr().err


def test_findings_name_what_each_method_drops():
    rows = [MethodResult("exact", 1.0, 1.0, 1.0, 0.35, 1.0, 1.0),
            MethodResult("hindsight", 0.5, 0.16, 0.24, 0.1, 0.70, 0.70),
            MethodResult("minimal", 1.0, 0.13, 0.23, 0.05, 1.0, 1.0),
            MethodResult("broken", error="boom")]
    report = GraphMaskReport(ReportConfig(), {"test": 1.0}, 1.0, 10, 0.35, rows)
    findings = report.findings()
    assert len(findings) == 3
    assert "drops 0.0%" in findings[0] and "falls" not in findings[0]
    assert "falls from 1.000 to 0.700" in findings[1] and "hindsight" in findings[1]
    assert "sufficient subset" in findings[2]
    assert "Reading (generated" in report.markdown()


def test_sufficient_threshold_keeps_the_fewest_edges_that_preserve_accuracy(tmp_path):
    """No ground truth read: the chosen threshold keeps the kept-only accuracy within the
    tolerance, and the next higher candidate (fewer edges) would not."""
    paths = Paths(tmp_path)
    dataset = load_dataset("graphmask-star", seed=0, cache_dir=paths.dataset_cache,
                           num_train=300, num_val=30, num_test=30)
    model, _result, _cached = train_or_load(
        "rgcn", {"hidden": 32, "num_layers": 1, "norm": "none"}, "standard",
        {"lr": 0.01, "batch_size": 64, "epochs": 30, "patience": 0}, dataset,
        dataset_params=dataset.params, seed=0, device="cpu", cache=ModelCache(paths.model_cache))
    model.eval()
    ids = dataset.explain_ids["val"][:30]
    explanation = build_explainer("saliency").explain(model, dataset, ids, 0)
    tolerance = 0.05
    t = sufficient_threshold(model, dataset, explanation, tolerance, torch.device("cpu"))
    scores = attribution_scores(explanation).double()
    batch = graph_batch(dataset, ids)
    labels = dataset.y[ids]

    def accuracy(kept):
        mask = None if kept is None else kept.float()
        return float((masked_log_probs(model, batch, mask).argmax(-1) == labels).float().mean())

    needed = (1 - tolerance) * accuracy(None)
    assert accuracy(scores >= t) >= needed
    candidates = torch.unique(torch.quantile(scores, torch.linspace(0, 1, 101, dtype=torch.float64)))
    higher = candidates[candidates > t]
    assert higher.numel() == 0 or accuracy(scores >= higher.min()) < needed
    assert bool((scores >= t).any()) and not bool((scores >= t).all())  # it did select
