"""Registered scorers on hand-built explanations (fidelity vs PyG is in test_fidelity.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from sklearn.metrics import roc_auc_score

from suite.core.registry import UnknownNameError
from suite.core.types import Explanation
from suite.graph.subgraphs import instance_batch
from suite.metrics import COLUMNS, METRICS, metric_info, score_all
from suite.metrics.base import MetricContext


@pytest.fixture(params=["node", "graph"])
def cell(request):
    """(dataset, model, batch) for a few explained instances of each task level."""
    if request.param == "node":
        dataset = request.getfixturevalue("tiny_node_dataset")
        model = request.getfixturevalue("tiny_gcn")
    else:
        dataset = request.getfixturevalue("tiny_graph_dataset")
        model = request.getfixturevalue("tiny_gin_graph")
    ids = dataset.explain_ids["test"]
    return dataset, model, instance_batch(dataset, ids, model.num_layers)


def _explanation(dataset, batch, scores, **extra) -> Explanation:
    return Explanation(dataset.task, batch.instance_ids, batch.edge_ids[batch.explainable],
                       batch.explained_edge_ptr(), scores, **extra)


def _max_incident_scores(dataset, edge_ids, scores) -> dict[int, float]:
    """Independent reference: node -> the largest score of its incident explained edges."""
    best: dict[int, float] = {}
    for e, value in zip(edge_ids.tolist(), scores.tolist()):
        for v in dataset.data.edge_index[:, e].tolist():
            best[v] = max(best.get(v, -math.inf), value)
    return best


def _ctx(cell_, scores, options=None, dataset=None, **extra) -> MetricContext:
    ds, model, batch = cell_
    ds = dataset or ds
    return MetricContext(model, ds, _explanation(ds, batch, scores, **extra), batch,
                         torch.device("cpu"), options or {})


def _gt(cell_) -> torch.Tensor:
    dataset, _, batch = cell_
    return dataset.gt_edge_mask[batch.edge_ids[batch.explainable]].float()


def test_every_scorer_writes_exactly_its_declared_columns(cell):
    """Every scorer, the opt-in ones switched on."""
    ctx = _ctx(cell, torch.rand(_gt(cell).numel(), generator=torch.Generator().manual_seed(0)),
               seconds=2.0, fit_seconds=0.5, options={"removal_curves": True})
    for name in METRICS.names():
        info = metric_info(name)
        out = METRICS.get(name)(ctx)
        assert tuple(out) == info.columns, name
        assert all(isinstance(v, float) for v in out.values())
        assert all(COLUMNS[c].metric == name for c in info.columns)
    assert set(score_all(ctx)) == set(COLUMNS)


def test_ground_truth_as_scores_gives_perfect_auc_and_its_negation_zero(cell):
    gt = _gt(cell)
    perfect = METRICS.get("ground-truth-auc")(_ctx(cell, gt))
    assert perfect["edge_auc"] == 1.0 and perfect["edge_auc_instance"] == 1.0
    assert perfect["edge_pr_auc"] == 1.0
    worst = METRICS.get("ground-truth-auc")(_ctx(cell, -gt))
    assert worst["edge_auc"] == 0.0 and worst["edge_auc_instance"] == 0.0
    # signed methods are scored on |score|: the negated ground truth is perfect again
    signed = METRICS.get("ground-truth-auc")(_ctx(cell, -gt, signed=True))
    assert signed["edge_auc"] == 1.0


def test_headline_auc_is_pooled_and_matches_sklearn(cell):
    gt = _gt(cell)
    scores = gt * 0.3 + torch.rand(gt.numel(), generator=torch.Generator().manual_seed(1))
    out = METRICS.get("ground-truth-auc")(_ctx(cell, scores))
    assert out["edge_auc"] == pytest.approx(roc_auc_score(gt.numpy(), scores.numpy()))
    assert 0.5 < out["edge_auc"] < 1.0


def test_node_auc_uses_node_scores_or_the_max_of_incident_edges(cell):
    dataset, _, batch = cell
    gt = _gt(cell)
    scores = gt * 0.5 + torch.rand(gt.numel(), generator=torch.Generator().manual_seed(2))
    derived = METRICS.get("ground-truth-auc")(_ctx(cell, scores))["node_auc"]
    # independent derivation: per instance, each endpoint's max incident edge score
    expl = _explanation(dataset, batch, scores)
    node_scores, node_labels = [], []
    for b in range(expl.num_instances):
        ids, s = expl.instance(b)
        best = _max_incident_scores(dataset, ids, s)
        node_scores += list(best.values())
        node_labels += [bool(dataset.gt_node_mask[v]) for v in best]
    assert derived == pytest.approx(roc_auc_score(node_labels, node_scores))
    # explicit node scores take precedence
    node_ids = batch.node_ids
    explicit = METRICS.get("ground-truth-auc")(_ctx(
        cell, scores, node_ids=node_ids, node_ptr=batch.explained_node_ptr(),
        node_scores=dataset.gt_node_mask[node_ids].float()))["node_auc"]
    assert explicit == 1.0


def test_without_ground_truth_auc_is_skipped_and_fidelity_uses_topk_share(cell):
    dataset, _, batch = cell
    bare = dataclasses.replace(dataset, gt_edge_mask=None, gt_node_mask=None)
    scores = torch.rand(batch.num_explainable, generator=torch.Generator().manual_seed(3))
    assert METRICS.get("ground-truth-auc")(_ctx(cell, scores, dataset=bare)) == {}
    out = score_all(_ctx(cell, scores, dataset=bare, seconds=1.0))
    assert "edge_auc" not in out and "fid_plus_acc" in out
    # keeping every edge is the full model: fid- is exactly 0
    everything = METRICS.get("fidelity")(_ctx(cell, scores, {"topk_share": 1.0}, dataset=bare))
    assert everything["fid_minus_acc"] == 0.0
    assert everything["fid_minus_prob"] == pytest.approx(0.0, abs=1e-6)
    fixed = METRICS.get("fidelity")(_ctx(cell, scores, {"topk": 10 ** 6}, dataset=bare))
    assert fixed["fid_minus_acc"] == 0.0


def test_uniform_soft_mask_keeps_the_model_intact(cell):
    out = METRICS.get("fidelity")(_ctx(cell, torch.full((_gt(cell).numel(),), 0.3)))
    assert out["fid_minus_acc_soft"] == 0.0
    assert out["fid_minus_prob_soft"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 <= out["characterization"] <= 1.0


def test_bad_options_and_misaligned_explanations_raise(cell):
    scores = _gt(cell)
    with pytest.raises(ValueError, match="metrics.topk_share"):
        METRICS.get("fidelity")(_ctx(cell, scores, {"topk_share": "many"}))
    with pytest.raises(ValueError, match="metrics.topk"):
        METRICS.get("fidelity")(_ctx(cell, scores, {"topk": -1}))
    dataset, model, batch = cell
    ptr = batch.explained_edge_ptr().clone()
    ptr[1:] -= 1  # the first instance lost an edge
    bad = Explanation(dataset.task, batch.instance_ids, batch.edge_ids[batch.explainable][1:], ptr,
                      scores[1:])
    with pytest.raises(ValueError, match="explainable edges"):
        METRICS.get("fidelity")(MetricContext(model, dataset, bad, batch, torch.device("cpu")))


def test_sparsity_and_throughput(cell):
    dataset, _, batch = cell
    gt = _gt(cell)
    out = score_all(_ctx(cell, gt, seconds=4.0, fit_seconds=1.5), names=["sparsity", "throughput"])
    ptr = batch.explained_edge_ptr()
    shares = [float(gt[ptr[b]:ptr[b + 1]].mean()) for b in range(batch.num_instances)]
    assert out["sparsity"] == pytest.approx(1 - sum(shares) / len(shares))
    assert out["explanations_per_s"] == pytest.approx(batch.num_instances / 4.0)
    assert out["explain_seconds"] == 4.0 and out["fit_seconds"] == 1.5
    assert math.isnan(METRICS.get("throughput")(_ctx(cell, gt))["explanations_per_s"])


def test_score_all_validates_and_resolves_names(cell):
    gt = _gt(cell)
    bad = gt.clone()
    bad[0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        score_all(_ctx(cell, bad))
    with pytest.raises(UnknownNameError, match="fidelity"):
        score_all(_ctx(cell, gt), names=["fidelty"])
    assert set(score_all(_ctx(cell, gt), names=["Ground_Truth_AUC"])) == set(
        metric_info("ground-truth-auc").columns)


def test_column_metadata_is_complete():
    for name in METRICS.names():
        for column in metric_info(name).columns:
            assert COLUMNS[column].description
    assert COLUMNS["edge_auc"].higher_is_better and not COLUMNS["fid_minus_acc"].higher_is_better
