"""Edges-dropped curves: ranks, masks, the 5% rule, and the scorer against a hand loop."""

from __future__ import annotations

import math

import pytest
import torch

from suite.core.types import Explanation
from suite.graph.masking import edge_mask
from suite.graph.subgraphs import instance_batch
from suite.metrics.base import MetricContext
from suite.metrics.drop_curve import (
    DROP_GRID,
    curve_area,
    curve_column,
    drop_mask,
    dropped_within_tolerance,
    rank_within_instance,
)
from suite.metrics.scorers import edges_dropped


def test_rank_within_instance_orders_each_instance_and_breaks_ties_by_position():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.3, 0.2])
    ptr = torch.tensor([0, 3, 6])
    assert rank_within_instance(scores, ptr).tolist() == [1, 0, 2, 1, 2, 0]


def test_drop_mask_removes_the_floor_of_the_share_lowest_edges_per_instance():
    scores = torch.tensor([0.5, 0.1, 0.9, 0.3, 0.4, 0.2, 0.8])
    ptr = torch.tensor([0, 3, 7])
    assert drop_mask(scores, ptr, 0.0).tolist() == [1.0] * 7
    # instance 0: floor(0.5 * 3) = 1 dropped (0.1); instance 1: floor(0.5 * 4) = 2 (0.2, 0.3)
    assert drop_mask(scores, ptr, 0.5).tolist() == [1, 0, 1, 0, 1, 0, 1]
    assert drop_mask(scores, ptr, 1.0).tolist() == [0.0] * 7
    with pytest.raises(ValueError, match="share"):
        drop_mask(scores, ptr, 1.5)


def test_dropped_within_tolerance_is_a_prefix_rule():
    grid = (0.0, 0.25, 0.5, 0.75, 1.0)
    assert dropped_within_tolerance([1.0, 0.97, 0.96, 0.5, 0.5], grid) == 0.5
    # a later recovery does not count once the score has left the band
    assert dropped_within_tolerance([1.0, 0.9, 1.0, 1.0, 1.0], grid) == 0.0
    assert dropped_within_tolerance([0.8, 0.8, 0.8, 0.8, 0.8], grid) == 1.0
    assert math.isnan(dropped_within_tolerance([0.0] * 5, grid))
    with pytest.raises(ValueError, match="grid"):
        dropped_within_tolerance([1.0, 1.0], grid)


def test_curve_area_is_the_mean_height_over_the_unit_grid():
    assert curve_area([1.0] * len(DROP_GRID)) == pytest.approx(1.0)
    assert curve_area(list(DROP_GRID)) == pytest.approx(0.5)
    assert curve_column(0.05) == "curve_drop_acc_005" and curve_column(1.0) == "curve_drop_acc_100"


@pytest.mark.parametrize("level", ["node", "graph"])
def test_scorer_matches_a_hand_loop_over_the_grid(level, request):
    if level == "node":
        dataset, model = request.getfixturevalue("tiny_node_dataset"), request.getfixturevalue("tiny_gcn")
    else:
        dataset, model = (request.getfixturevalue("tiny_graph_dataset"),
                          request.getfixturevalue("tiny_gin_graph"))
    ids = dataset.explain_ids["test"]
    batch = instance_batch(dataset, ids, model.num_layers)
    scores = torch.rand(batch.num_explainable, generator=torch.Generator().manual_seed(3))
    ptr = batch.explained_edge_ptr()
    expl = Explanation(dataset.task, batch.instance_ids, batch.edge_ids[batch.explainable], ptr,
                       scores)
    out = edges_dropped(MetricContext(model, dataset, expl, batch, torch.device("cpu")))

    labels = dataset.y[ids]
    expected = []
    for share in DROP_GRID:
        # independent mask: sort each instance's edges by (score, position) by hand
        keep = torch.ones(batch.num_explainable)
        for b in range(ids.numel()):
            lo, hi = int(ptr[b]), int(ptr[b + 1])
            order = sorted(range(lo, hi), key=lambda e: (float(scores[e]), e))
            for e in order[: int(math.floor(share * (hi - lo) + 1e-9))]:
                keep[e] = 0.0
        model.eval()
        with torch.no_grad(), edge_mask(model, batch.full_mask(keep)):
            logits = model(batch.x, batch.edge_index, **batch.model_kwargs())
        pred = batch.select_outputs(logits).argmax(-1)
        expected.append(float((pred == labels).double().mean()))
    assert [out[curve_column(q)] for q in DROP_GRID] == pytest.approx(expected)
    assert out["edges_dropped_5pct"] == dropped_within_tolerance(expected)
    assert out["drop_curve_area"] == pytest.approx(curve_area(expected))
