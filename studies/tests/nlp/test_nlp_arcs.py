"""Arc-level scoring of ``suite report nlp``: both directions of an arc pooled per instance."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from suite_studies.nlp.report import _both_directions, arc_view

from suite.core.types import Explanation, TaskLevel


def _setup(seed: int):
    """A random 'dataset' of arcs (each as two directed edges) plus self-loops, and an
    explanation of 3 instances over random overlapping edge subsets."""
    g = torch.Generator().manual_seed(seed)
    num_arcs, num_loops = 12, 5
    arc = torch.cat([torch.arange(num_arcs).repeat_interleave(2), torch.full((num_loops,), -1)])
    truth_arcs = torch.rand(num_arcs, generator=g) < 0.4
    gt = torch.cat([truth_arcs.repeat_interleave(2), torch.zeros(num_loops, dtype=torch.bool)])
    dataset = SimpleNamespace(data=SimpleNamespace(arc=arc), gt_edge_mask=gt)
    ids, ptr = [], [0]
    for _ in range(3):
        pick = torch.randperm(arc.numel(), generator=g)[:15].sort().values
        ids.append(pick)
        ptr.append(ptr[-1] + pick.numel())
    edge_ids = torch.cat(ids)
    scores = torch.rand(edge_ids.numel(), generator=g)
    expl = Explanation(task=TaskLevel.GRAPH, instance_ids=torch.arange(3), edge_ids=edge_ids,
                       edge_ptr=torch.tensor(ptr), edge_scores=scores)
    kept = torch.rand(edge_ids.numel(), generator=g) < 0.3
    return dataset, expl, scores, kept


def _brute_force(dataset, expl, scores, kept):
    """(instance, arc) -> (max score, any kept, truth), by plain loops."""
    out: dict[tuple[int, int], list] = {}
    for b in range(expl.num_instances):
        for m in range(int(expl.edge_ptr[b]), int(expl.edge_ptr[b + 1])):
            e = int(expl.edge_ids[m])
            a = int(dataset.data.arc[e])
            if a < 0:
                continue
            entry = out.setdefault((b, a), [-math.inf, False, False])
            entry[0] = max(entry[0], float(scores[m]))
            entry[1] = entry[1] or bool(kept[m])
            entry[2] = entry[2] or bool(dataset.gt_edge_mask[e])
    return [out[k] for k in sorted(out)]


def test_arc_view_matches_brute_force():
    for seed in range(5):
        dataset, expl, scores, kept = _setup(seed)
        view = arc_view(expl, dataset, scores, kept)
        expected = _brute_force(dataset, expl, scores, kept)
        assert view.scores.numel() == len(expected)
        assert torch.allclose(view.scores, torch.tensor([e[0] for e in expected]))
        assert view.kept.tolist() == [e[1] for e in expected]
        assert view.truth.tolist() == [e[2] for e in expected]


def test_both_directions_keeps_whole_arcs_per_instance():
    for seed in range(5):
        dataset, expl, scores, kept = _setup(seed)
        wide = _both_directions(expl, dataset, kept)
        assert bool((wide >= kept).all())  # only adds
        inst = expl.edge_instance
        for m in range(expl.edge_ids.numel()):
            a = int(dataset.data.arc[expl.edge_ids[m]])
            if a < 0:
                assert bool(wide[m]) == bool(kept[m])  # self-loops unchanged
                continue
            same = (inst == inst[m]) & (dataset.data.arc[expl.edge_ids] == a)
            assert bool(wide[m]) == bool(kept[same].any())
