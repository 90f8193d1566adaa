"""Deletion and insertion curves: equal to removing the edges from the data and rerunning
the model; ties broken by the pairs' endpoints, not their storage order."""

from __future__ import annotations

import math

import pytest
import torch

from suite.graph.subgraphs import instance_batch
from suite.metrics import METRICS
from suite.metrics.removal import (
    REMOVAL_GRID,
    rank_within_instances,
    removal_curves,
    tie_break_keys,
)


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


def test_tie_breaking_ignores_the_storage_order():
    """Equal scores: the order comes from keys of (seed, instance, endpoints), so permuting the
    pairs selects the same pairs."""
    gen = torch.Generator().manual_seed(1)
    first, second = torch.randint(0, 50, (40,), generator=gen), torch.randint(0, 50, (40,), generator=gen)
    inst, score = torch.arange(40) % 3, torch.ones(40)
    def chosen(perm):
        f, s, i = first[perm], second[perm], inst[perm]
        rank = rank_within_instances(i, score[perm], tie_break_keys(f, s, i, seed=7))
        return {(int(i[k]), min(int(f[k]), int(s[k])), max(int(f[k]), int(s[k])))
                for k in range(40) if rank[k] < 5}
    assert chosen(torch.arange(40)) == chosen(torch.randperm(40, generator=gen))
    assert tie_break_keys(first, second, inst).tolist() == tie_break_keys(second, first, inst).tolist()


def test_the_scorer_is_registered_and_leaves_per_instance_areas(tiny_gcn, tiny_node_dataset):
    from suite.explainers import build_explainer
    from suite.metrics import MetricContext

    dataset, ids = tiny_node_dataset, tiny_node_dataset.explain_ids["test"][:3]
    explanation = build_explainer("random").explain(tiny_gcn, dataset, ids, 0)
    batch = instance_batch(dataset, ids, tiny_gcn.num_layers)
    ctx = MetricContext(model=tiny_gcn, dataset=dataset, explanation=explanation, batch=batch,
                        device=torch.device("cpu"))
    assert METRICS.get("removal-curves")(ctx) == {}  # opt-in
    ctx.options["removal_curves"] = "yes"
    with pytest.raises(ValueError, match="metrics.removal_curves"):
        METRICS.get("removal-curves")(ctx)
    ctx.options["removal_curves"] = True
    out = METRICS.get("removal-curves")(ctx)
    assert set(out) == {"deletion_area", "insertion_area"}
    assert ctx.per_instance["deletion_area"].shape == (3,)
