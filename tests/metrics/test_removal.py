"""Deletion and insertion curves: equal to removing the edges from the data and rerunning
the model; ties broken by the pairs' endpoints, not their storage order."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Data

from suite.explainers import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.metrics import METRICS, MetricContext
from suite.metrics.removal import REMOVAL_GRID, removal_curves


def _independent(model, dataset, batch, scores, b: int, share: float, insertion: bool) -> float:
    """Instance b at one share, from the dataset's own edge list: drop the chosen pairs'
    global edges, rerun the model on the whole graph, read the original prediction."""
    mine = torch.nonzero(batch.explainable & (batch.edge_instance == b)).reshape(-1)
    pos = {int(p): i for i, p in enumerate(torch.nonzero(batch.explainable).reshape(-1))}
    pairs: dict[tuple[int, int], list[int]] = {}
    for p in mine.tolist():
        u, v = (int(batch.node_ids[batch.edge_index[k, p]]) for k in (0, 1))
        pairs.setdefault((min(u, v), max(u, v)), []).append(p)
    ranked = sorted(pairs, key=lambda k: -max(float(scores[pos[p]]) for p in pairs[k]))
    chosen = ranked[: math.floor(share * len(ranked) + 1e-9)]
    dropped = [k for k in ranked if (k in chosen) != insertion]
    gone = {int(batch.edge_ids[p]) for k in dropped for p in pairs[k]}
    keep = torch.tensor([e not in gone for e in range(dataset.data.edge_index.size(1))])
    with torch.no_grad():
        full = model(dataset.data.x, dataset.data.edge_index).softmax(-1)
        cut = model(dataset.data.x, dataset.data.edge_index[:, keep]).softmax(-1)
    target = int(batch.instance_ids[b])
    return float(cut[target, full[target].argmax()])


def test_curves_equal_removing_the_edges_from_the_data(tiny_gcn, tiny_node_dataset):
    dataset, model = tiny_node_dataset, tiny_gcn.eval()
    ids = dataset.explain_ids["test"][:4]
    batch = instance_batch(dataset, ids, model.num_layers)
    scores = torch.rand(batch.num_explainable, generator=torch.Generator().manual_seed(0))
    curves = removal_curves(model, batch, scores)
    assert curves.deletion.shape == (4, len(REMOVAL_GRID))
    for b in range(4):
        for g in (0, 5, 10, 15, 20):
            for insertion, curve in ((False, curves.deletion), (True, curves.insertion)):
                expected = _independent(model, dataset, batch, scores, b, REMOVAL_GRID[g], insertion)
                assert float(curve[b, g]) == pytest.approx(expected, abs=1e-5)
    # nothing removed keeps the original prediction's probability; areas lie in [0, 1]
    torch.testing.assert_close(curves.deletion[:, 0], curves.insertion[:, -1])
    assert bool(((curves.deletion_area >= 0) & (curves.deletion_area <= 1)).all())


def test_the_scorer_is_registered_and_leaves_per_instance_areas(tiny_gcn, tiny_node_dataset):
    dataset, ids = tiny_node_dataset, tiny_node_dataset.explain_ids["test"][:3]
    explanation = build_explainer("random").explain(tiny_gcn, dataset, ids, 0)
    batch = instance_batch(dataset, ids, tiny_gcn.num_layers)
    ctx = MetricContext(model=tiny_gcn, dataset=dataset, explanation=explanation, batch=batch,
                        device=torch.device("cpu"))
    out = METRICS.get("removal-curves")(ctx)  # on by default
    assert set(out) == {"deletion_area", "insertion_area"}
    assert ctx.per_instance["deletion_area"].shape == (3,)
    ctx.options["removal_curves"] = "yes"
    with pytest.raises(ValueError, match="metrics.removal_curves"):
        METRICS.get("removal-curves")(ctx)
    ctx.options["removal_curves"] = False
    assert METRICS.get("removal-curves")(ctx) == {}


class _LinearInKeptEdges(nn.Module):
    """Graph classifier whose class-0 probability is linear in the kept edges:
    ``p0 = 1/2 + 1/2 * sum_e w_e / C`` with ``w_e = x[src, 0] + x[dst, 0]`` (so both
    directions of a pair weigh the same) and ``C`` the largest graph's total weight."""

    num_layers = 1

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                **_: torch.Tensor) -> torch.Tensor:
        weight = x[edge_index[0], 0] + x[edge_index[1], 0]
        per_graph = torch.zeros(int(batch.max()) + 1, dtype=x.dtype).index_add_(
            0, batch[edge_index[0]], weight)
        p0 = 0.5 + 0.5 * per_graph / self.scale
        return torch.stack([p0, 1.0 - p0], dim=1).clamp_min(1e-12).log()


def test_random_areas_match_their_closed_form_on_a_model_linear_in_the_kept_edges(
        tiny_graph_dataset, tiny_gin_graph):
    """Removing a uniformly random c of P pairs keeps (1 - c/P) of a graph's weight in
    expectation, so random's expected deletion point is 1/2 + 1/2 W (1 - c/P) / C and its
    insertion point 1/2 + 1/2 W (c/P) / C; at seed 0 the areas are within 0.02 of them."""
    data = tiny_graph_dataset.data
    x = torch.rand(data.num_nodes, 4, generator=torch.Generator().manual_seed(0)) ** 4  # skewed
    dataset = dataclasses.replace(tiny_graph_dataset, data=Data(x=x, edge_index=data.edge_index,
                                                                batch=data.batch))
    weight = x[data.edge_index[0], 0] + x[data.edge_index[1], 0]
    totals = torch.zeros(40).index_add_(0, data.batch[data.edge_index[0]], weight)
    model = _LinearInKeptEdges(float(totals.max()))
    ids = torch.arange(40)
    batch = instance_batch(dataset, ids, 1)
    # random's scores do not read the model; a GNN is what the explainer accepts
    scores = build_explainer("random").explain(tiny_gin_graph, dataset, ids, 0).edge_scores
    curves = removal_curves(model, batch, scores, seed=0)
    pairs = torch.tensor([data.edge_index[:, data.batch[data.edge_index[0]] == g].size(1) // 2
                          for g in range(40)]).double()
    grid = torch.tensor(REMOVAL_GRID, dtype=torch.float64)
    removed = torch.floor(grid.view(1, -1) * pairs.view(-1, 1) + 1e-9) / pairs.view(-1, 1)
    share = (totals.double() / model.scale).view(-1, 1)
    expected_deletion = torch.trapezoid(0.5 + 0.5 * share * (1 - removed), grid, dim=1).mean()
    expected_insertion = torch.trapezoid(0.5 + 0.5 * share * removed, grid, dim=1).mean()
    assert float(curves.deletion_area.mean()) == pytest.approx(float(expected_deletion), abs=0.02)
    assert float(curves.insertion_area.mean()) == pytest.approx(float(expected_insertion), abs=0.02)
    # the check can fail: an explanation that orders the heavy pairs first is far from it
    heavy = weight[batch.edge_ids[batch.explainable]]
    ordered = removal_curves(model, batch, heavy, seed=0)
    gap = float(expected_deletion - ordered.deletion_area.mean())
    assert gap > 0.02


def test_message_scaling_and_the_grid_are_options_and_bad_values_name_the_field(
        tiny_gcn, tiny_node_dataset):
    dataset, ids = tiny_node_dataset, tiny_node_dataset.explain_ids["test"][:3]
    explanation = build_explainer("random").explain(tiny_gcn, dataset, ids, 0)
    batch = instance_batch(dataset, ids, tiny_gcn.num_layers)
    ctx = MetricContext(model=tiny_gcn, dataset=dataset, explanation=explanation, batch=batch,
                        device=torch.device("cpu"))
    removed = METRICS.get("removal-curves")(ctx)
    ctx.options.update(removal_semantics="scale", removal_steps=10)
    scaled = METRICS.get("removal-curves")(ctx)
    assert scaled != removed  # a GCN's normalisation sees the difference
    scores = explanation.edge_scores
    by_hand = removal_curves(tiny_gcn, batch, scores, grid=tuple(i / 10 for i in range(11)),
                             semantics="scale")
    assert scaled["deletion_area"] == pytest.approx(float(by_hand.deletion_area.mean()))
    for option, value, message in (("removal_semantics", "drop", "remove, scale"),
                                   ("removal_steps", 1, "integer >= 2")):
        ctx.options = {option: value}
        with pytest.raises(ValueError, match=f"metrics.{option}: expected .*{message}"):
            METRICS.get("removal-curves")(ctx)
