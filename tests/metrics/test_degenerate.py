"""Degenerate explanations: constant scores over an instance, gates with one decision."""

from __future__ import annotations

import math

import torch

from suite.explainers import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.metrics import METRICS, MetricContext
from suite.metrics.degenerate import (
    CONSTANT_SHARE,
    constant_instances,
    degenerate_reason,
    uniform_layers,
)


def test_constant_instances_use_a_relative_span():
    ptr = torch.tensor([0, 3, 6, 9, 9])
    scores = torch.tensor([0.5, 0.5, 0.5,  # constant
                           1e6, 1e6 + 0.5, 1e6,  # span 0.5 <= 1e-6 * 1e6: constant
                           0.2, 0.2 + 1e-3, 0.2])  # varies; the last instance has no edges
    assert constant_instances(scores, ptr).tolist() == [True, True, False, False]


def test_gates_with_one_decision_in_a_scored_layer_are_found():
    hard = torch.tensor([[True, False, True], [False, False, False], [True, True, True]])
    assert uniform_layers(hard) == uniform_layers(hard, (0, 1, 2))
    layers = uniform_layers(hard)
    assert layers.all_closed == (1,) and layers.all_open == (2,)
    assert uniform_layers(hard, (0,)).all_closed == ()  # only scored layers count


def test_the_reason_names_what_happened_and_is_empty_otherwise():
    assert degenerate_reason(0.0, 0.0, 0.0) == ""
    assert degenerate_reason(math.nan, math.nan, math.nan) == ""
    assert degenerate_reason(CONSTANT_SHARE - 0.01) == ""
    assert "constant on 100%" in degenerate_reason(1.0)
    assert "keep every edge in 1" in degenerate_reason(0.0, 1.0, 0.0)


def test_a_constant_explanation_is_flagged_by_the_scorer(tiny_node_dataset, tiny_gcn):
    """Through a real cell: the constant explainer's cell is degenerate; random's is not."""
    ids = tiny_node_dataset.explain_ids["test"][:6]
    batch = instance_batch(tiny_node_dataset, ids, tiny_gcn.num_layers)
    shares = {}
    for name in ("random", "constant"):
        expl = build_explainer("random").explain(tiny_gcn, tiny_node_dataset, ids, 0)
        if name == "constant":
            expl.edge_scores = torch.full_like(expl.edge_scores, 0.7)
        ctx = MetricContext(tiny_gcn, tiny_node_dataset, expl, batch, torch.device("cpu"))
        out = METRICS.get("degenerate")(ctx)
        shares[name] = out["constant_share"]
        assert math.isnan(out["gates_closed_layers"])  # not a layer-wise explainer
    assert shares == {"random": 0.0, "constant": 1.0}
    assert degenerate_reason(shares["constant"]) and not degenerate_reason(shares["random"])
