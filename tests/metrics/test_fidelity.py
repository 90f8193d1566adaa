"""Fidelity: pure functions, and agreement with ``torch_geometric.explain.metric``.

The PyG reference explains one instance at a time on the *full* graph (or the
standalone graph) with ``Explainer`` + a fixed-mask algorithm and scores it with
``torch_geometric.explain.metric.fidelity``; ours runs every instance at once on
the batch union. On the same masks they must agree.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.explain import Explainer
from torch_geometric.explain import Explanation as PygExplanation
from torch_geometric.explain.algorithm import ExplainerAlgorithm
from torch_geometric.explain.metric import characterization_score
from torch_geometric.explain.metric import fidelity as pyg_fidelity

from suite.core.types import TaskLevel
from suite.graph.subgraphs import instance_batch
from suite.metrics.fidelity import (
    characterization,
    fidelity_minus_acc,
    fidelity_minus_prob,
    fidelity_plus_acc,
    fidelity_plus_prob,
    topk_mask,
    topk_sizes,
)
from suite.metrics.perturb import masked_log_probs
from suite.metrics.sparsity import soft_mask

# ---------------------------------------------------------------- pure functions


def test_probability_forms_follow_their_formula():
    gen = torch.Generator().manual_seed(0)
    p_full = torch.rand(6, 3, generator=gen).softmax(-1)
    p_masked = torch.rand(6, 3, generator=gen).softmax(-1)
    target = torch.randint(0, 3, (6,), generator=gen)
    expected = sum(float(p_full[b, target[b]] - p_masked[b, target[b]]) for b in range(6)) / 6
    assert fidelity_plus_prob(p_full, p_masked, target) == pytest.approx(expected)
    assert fidelity_minus_prob(p_full, p_masked, target) == pytest.approx(expected)
    assert fidelity_plus_prob(p_full, p_full, target) == 0.0
    with pytest.raises(ValueError, match="one target per row"):
        fidelity_plus_prob(p_full, p_masked, target[:3])


def test_accuracy_forms_count_changed_predictions():
    full = torch.tensor([0, 1, 2, 1])
    masked = torch.tensor([0, 2, 2, 0])
    assert fidelity_plus_acc(full, masked) == pytest.approx(0.5)
    assert fidelity_minus_acc(full, full) == 0.0
    assert fidelity_minus_acc(full, (full + 1) % 3) == 1.0
    assert math.isnan(fidelity_plus_acc(full[:0], masked[:0]))


def test_characterization_matches_pyg():
    grid = torch.linspace(0.05, 0.95, 7)
    fp, fm = torch.meshgrid(grid, grid, indexing="ij")
    for w in (0.5, 0.2, 0.9):
        ours = characterization(fp, fm, pos_weight=w, neg_weight=1 - w)
        theirs = characterization_score(fp.double(), fm.double(), pos_weight=w, neg_weight=1 - w)
        assert torch.allclose(ours, theirs, atol=1e-12)
    assert characterization(0.8, 0.1) == pytest.approx(float(characterization_score(
        torch.tensor(0.8), torch.tensor(0.1))))


def test_characterization_is_nan_safe():
    assert characterization(0.0, 0.2) == 0.0  # no necessity at all
    assert characterization(0.7, 1.0) == 0.0  # no sufficiency at all
    assert characterization(1.0, 0.0) == 1.0
    assert math.isnan(characterization(float("nan"), 0.2))
    assert math.isnan(characterization(-0.1, 0.2))
    with pytest.raises(ValueError, match="pos_weight"):
        characterization(0.5, 0.5, pos_weight=-1.0)


def _ragged(counts: list[int], seed: int, ties: bool) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    ptr = torch.tensor([0] + counts).cumsum(0)
    scores = torch.rand(int(ptr[-1]), generator=gen)
    if ties:
        scores = (scores * 3).floor()
    return scores, ptr


@pytest.mark.parametrize("ties", [False, True])
def test_topk_mask_keeps_the_k_best_edges_of_each_instance(ties):
    counts = [7, 0, 1, 12, 5, 9]
    scores, ptr = _ragged(counts, 1, ties)
    k = torch.tensor([3, 2, 4, 12, 0, 20])  # k > n_b is clipped
    mask = topk_mask(scores, ptr, k)
    assert mask.dtype == torch.bool and mask.shape == scores.shape
    for b, n in enumerate(counts):
        part, kept = scores[ptr[b]:ptr[b + 1]], mask[ptr[b]:ptr[b + 1]]
        assert int(kept.sum()) == min(int(k[b]), n)
        if kept.any() and (~kept).any():
            assert part[kept].min() >= part[~kept].max()
        # ties: among equal scores straddling the cut, the earlier positions are kept
        for i in range(n):
            for j in range(i + 1, n):
                if part[i] == part[j]:
                    assert not (kept[j] and not kept[i])


def test_topk_mask_scalar_k_and_independence_of_other_instances():
    scores, ptr = _ragged([4, 6, 3], 2, ties=False)
    assert torch.equal(topk_mask(scores, ptr, 2), topk_mask(scores, ptr, torch.tensor([2, 2, 2])))
    changed = scores.clone()
    changed[ptr[1]:ptr[2]] = -changed[ptr[1]:ptr[2]]
    a, b = topk_mask(scores, ptr, 2), topk_mask(changed, ptr, 2)
    assert torch.equal(a[:ptr[1]], b[:ptr[1]]) and torch.equal(a[ptr[2]:], b[ptr[2]:])
    with pytest.raises(ValueError, match="one entry per instance"):
        topk_mask(scores, ptr, torch.tensor([1, 2]))


def test_topk_sizes_prefer_ground_truth_counts():
    counts = torch.tensor([10, 25, 0, 3])
    gt = torch.tensor([6, 0, 0, 2])
    assert topk_sizes(counts, 0.1, gt).tolist() == [6, 3, 0, 2]
    assert topk_sizes(counts, 0.5).tolist() == [5, 13, 0, 2]
    assert topk_sizes(torch.tensor([30, 70, 31]), 0.1).tolist() == [3, 7, 4]  # no float drift
    with pytest.raises(ValueError, match="topk_share"):
        topk_sizes(counts, 0.0)


# ------------------------------------------------------- PyG reference (one at a time)


class _FixedMask(ExplainerAlgorithm):
    """A PyG explainer algorithm that returns a given full-graph edge mask."""

    def __init__(self, edge_mask: torch.Tensor) -> None:
        super().__init__()
        self.edge_mask = edge_mask

    def forward(self, model, x, edge_index, *, target, index=None, **kwargs):
        return PygExplanation(edge_mask=self.edge_mask)

    def supports(self) -> bool:
        return True


def pyg_reference(model, dataset, instance: int, edge_ids: torch.Tensor, values: torch.Tensor,
                  outside: float = 0.5) -> dict[str, float]:
    """PyG's fidelity and masked log-probs for one instance, mask ``values`` on ``edge_ids``.

    Node task: the full graph, edges outside the instance's explainable set get
    ``outside`` (they cannot reach the target). Graph task: the standalone graph.
    """
    if dataset.task == TaskLevel.NODE:
        x, edge_index, index = dataset.data.x, dataset.data.edge_index, instance
        full = torch.full((edge_index.size(1),), outside)
        full[edge_ids] = values.float()
    else:
        graph = dataset.graph(instance)
        x, edge_index, index = graph.x, graph.edge_index, 0
        full = torch.empty(edge_index.size(1))
        full[edge_ids - int(dataset.edge_ptr[instance])] = values.float()
    explainer = Explainer(model, algorithm=_FixedMask(full), explanation_type="model",
                          edge_mask_type="object",
                          model_config=dict(mode="multiclass_classification",
                                            task_level=dataset.task.value, return_type="raw"))
    explanation = explainer(x, edge_index, index=index)
    fid_plus, fid_minus = pyg_fidelity(explainer, explanation)
    with torch.no_grad():
        kept = explainer.get_masked_prediction(x, edge_index, None, full)[index].log_softmax(-1)
        removed = explainer.get_masked_prediction(x, edge_index, None, 1 - full)[index].log_softmax(-1)
    return {"fid_plus": fid_plus, "fid_minus": fid_minus, "kept": kept, "removed": removed}


def _setup(request, task: str):
    if task == "node":
        dataset = request.getfixturevalue("tiny_node_dataset")
        model = request.getfixturevalue("tiny_gcn")
        ids = torch.cat([dataset.explain_ids["test"][:4], torch.tensor([0, 17])])
    else:
        dataset = request.getfixturevalue("tiny_graph_dataset")
        model = request.getfixturevalue("tiny_gin_graph")
        ids = dataset.explain_ids["test"][:6]
    return dataset, model, instance_batch(dataset, ids, model.num_layers)


def _masks(dataset, batch, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    edge_ids = batch.edge_ids[batch.explainable]
    ptr = batch.explained_edge_ptr()
    scores = torch.rand(edge_ids.numel(), generator=gen)
    counts = torch.bincount(batch.edge_instance[batch.explainable], minlength=batch.num_instances)
    gt = torch.zeros_like(counts).index_add_(0, batch.edge_instance[batch.explainable],
                                             dataset.gt_edge_mask[edge_ids].long())
    return {
        "soft": soft_mask(scores, ptr),
        "topk": topk_mask(scores, ptr, topk_sizes(counts, 0.1, gt)).float(),
        "gt-scaled": dataset.gt_edge_mask[edge_ids].float() * 0.9,
    }


@pytest.mark.parametrize("task", ["node", "graph"])
@pytest.mark.parametrize("mask_kind", ["soft", "topk", "gt-scaled"])
def test_fidelity_agrees_with_pyg(request, task, mask_kind):
    dataset, model, batch = _setup(request, task)
    mask = _masks(dataset, batch, seed=3)[mask_kind]
    log_full = masked_log_probs(model, batch, None)
    log_kept = masked_log_probs(model, batch, mask)
    log_removed = masked_log_probs(model, batch, 1 - mask)
    pred = log_full.argmax(-1)

    edge_ids, ptr = batch.edge_ids[batch.explainable], batch.explained_edge_ptr()
    refs = []
    for b, instance in enumerate(batch.instance_ids.tolist()):
        lo, hi = int(ptr[b]), int(ptr[b + 1])
        ref = pyg_reference(model, dataset, instance, edge_ids[lo:hi], mask[lo:hi])
        assert torch.allclose(log_kept[b], ref["kept"], atol=1e-5)
        assert torch.allclose(log_removed[b], ref["removed"], atol=1e-5)
        refs.append(ref)
    theirs_plus = sum(r["fid_plus"] for r in refs) / len(refs)
    theirs_minus = sum(r["fid_minus"] for r in refs) / len(refs)
    assert fidelity_plus_acc(pred, log_removed.argmax(-1)) == pytest.approx(theirs_plus)
    assert fidelity_minus_acc(pred, log_kept.argmax(-1)) == pytest.approx(theirs_minus)


# ------------------------------------------------- the fidelity scorer against PyG


def _independent_masks(dataset, expl) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (k = ground-truth count, else ceil(n / 10)) and max-normalised masks, by a loop."""
    hard, soft = torch.zeros(expl.edge_ids.numel()), torch.zeros(expl.edge_ids.numel())
    for b in range(expl.num_instances):
        ids, scores = expl.instance(b)
        lo = int(expl.edge_ptr[b])
        k = int(dataset.gt_edge_mask[ids].sum()) or -(-ids.numel() // 10)  # ceil(n / 10), exact
        order = sorted(range(ids.numel()), key=lambda i: (-float(scores[i]), i))
        hard[[lo + i for i in order[:k]]] = 1.0
        if ids.numel():
            soft[lo:lo + ids.numel()] = scores / scores.max()
    return hard, soft


@pytest.mark.parametrize("task", ["node", "graph"])
def test_fidelity_scorer_agrees_with_pyg(request, task):
    from suite.core.types import Explanation
    from suite.metrics.base import MetricContext
    from suite.metrics.scorers import fidelity_scorer

    dataset, model, batch = _setup(request, task)
    edge_ids, ptr = batch.edge_ids[batch.explainable], batch.explained_edge_ptr()
    gen = torch.Generator().manual_seed(11)
    expl = Explanation(dataset.task, batch.instance_ids, edge_ids, ptr,
                       torch.randn(edge_ids.numel(), generator=gen), signed=True)
    ctx = MetricContext(model, dataset, expl, batch, torch.device("cpu"))
    got = fidelity_scorer(ctx)

    hard, soft = _independent_masks(dataset, Explanation(
        expl.task, expl.instance_ids, edge_ids, ptr, expl.edge_scores.abs()))
    for suffix, mask in (("", hard), ("_soft", soft)):
        refs = [pyg_reference(model, dataset, inst, edge_ids[ptr[b]:ptr[b + 1]], mask[ptr[b]:ptr[b + 1]])
                for b, inst in enumerate(batch.instance_ids.tolist())]
        assert got[f"fid_plus_acc{suffix}"] == pytest.approx(sum(r["fid_plus"] for r in refs) / len(refs))
        assert got[f"fid_minus_acc{suffix}"] == pytest.approx(sum(r["fid_minus"] for r in refs) / len(refs))
    assert got["characterization"] == pytest.approx(float(characterization_score(
        torch.tensor(got["fid_plus_acc"]), torch.tensor(got["fid_minus_acc"]))))
