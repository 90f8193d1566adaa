"""Ground-truth-free metrics: representation fidelity and unfaithfulness (pure functions,
masks, the registered scorers on a hand-built model whose embedding depends only on a
known edge set, and on the shared fixtures)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Data
from torch_geometric.nn import MessagePassing

from suite.core.seeding import generator as seeded_generator
from suite.core.types import BenchmarkDataset, DatasetInfo, Explanation, TaskLevel
from suite.graph.subgraphs import instance_batch
from suite.metrics import METRICS
from suite.metrics.base import MetricContext
from suite.metrics.fidelity import topk_mask, topk_sizes
from suite.metrics.ground_truth_free import (
    DEGENERATE_TOL,
    cosine_distance,
    random_topk_masks,
    representation_fidelity,
    representation_masks,
    unfaithfulness,
)
from suite.metrics.perturb import masked_log_probs
from suite.metrics.scorers import _REPR_STREAM, _masked_embeddings
from suite.models.base import GraphModel

# ----------------------------------------------------------------------------- pure functions


def test_cosine_distance_by_hand():
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0], [1.0, 1.0], [-1.0, 0.0], [1.0, 0.0]])
    assert cosine_distance(a, b).tolist() == pytest.approx([1.0, 0.0, 2.0, 1.0])


def test_representation_fidelity_averages_distances_not_representations():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    z_expl = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # two draws at +-45 degrees: each at distance 1 - 1/sqrt(2); their *mean vector* equals z
    z_rand = torch.tensor([[[1.0, 1.0], [1.0, 1.0]], [[1.0, -1.0], [1.0, -1.0]]])
    d_rand = 1 - 1 / math.sqrt(2)
    out = representation_fidelity(z, z_expl, z_rand)
    assert out.dtype == torch.float64
    assert out.tolist() == pytest.approx([1.0, 1.0 - 1.0 / d_rand])
    # one draw given as [B, H]
    assert representation_fidelity(z, z_expl, z_rand[0]).tolist() == pytest.approx(out.tolist())


def test_representation_fidelity_is_nan_when_random_sets_reproduce_z():
    z = torch.tensor([[1.0, 2.0], [3.0, 1.0]])
    z_rand = torch.stack([z, torch.tensor([[1.0, 2.0], [0.0, 1.0]])])  # instance 0: d_R = 0
    out = representation_fidelity(z, torch.tensor([[0.0, 1.0], [3.0, 1.0]]), z_rand)
    assert math.isnan(out[0]) and out[1] == pytest.approx(1.0)
    assert cosine_distance(z, z * 3).max() <= DEGENERATE_TOL  # scale is ignored
    with pytest.raises(ValueError, match="z_rand"):
        representation_fidelity(z, z, torch.zeros(2, 3, 2))


def test_unfaithfulness_matches_kl_div_and_is_zero_for_equal_predictions():
    gen = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(7, 4, generator=gen, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(7, 4, generator=gen, dtype=torch.float64), -1)
    kl = F.kl_div(q.log(), p, reduction="none").sum(-1)  # KL(p || q)
    assert unfaithfulness(p, q).tolist() == pytest.approx((1 - torch.exp(-kl)).tolist())
    assert unfaithfulness(p, p).abs().max() == 0.0
    # a class the explanation gives probability 0: clamped, finite, close to 1
    hard = torch.tensor([[0.0, 1.0]])
    assert 0.99 < float(unfaithfulness(torch.tensor([[0.5, 0.5]]), hard)) < 1.0
    with pytest.raises(ValueError, match="B, C"):
        unfaithfulness(p, q[:3])


def test_random_masks_keep_exactly_k_edges_of_each_instance_and_are_seeded():
    ptr = torch.tensor([0, 5, 5, 12, 15])
    k = torch.tensor([2, 0, 3, 9])  # 9 > 3 edges: clipped
    masks = random_topk_masks(ptr, k, draws=50, generator=torch.Generator().manual_seed(1))
    assert masks.shape == (50, 15) and masks.dtype == torch.bool
    per_instance = torch.stack([masks[:, a:b].sum(1) for a, b in zip(ptr[:-1], ptr[1:])], 1)
    assert (per_instance == torch.tensor([2, 0, 3, 3])).all()
    again = random_topk_masks(ptr, k, draws=50, generator=torch.Generator().manual_seed(1))
    assert torch.equal(masks, again)
    assert not torch.equal(masks, random_topk_masks(ptr, k, 50, torch.Generator().manual_seed(2)))
    assert len({tuple(m[:5].tolist()) for m in masks}) > 5  # different draws differ
    # uniform: every edge of instance 0 is kept in about 2/5 of many draws
    many = random_topk_masks(ptr, k, 2000, torch.Generator().manual_seed(3))
    assert many[:, :5].double().mean(0).sub(0.4).abs().max() < 0.05


def test_representation_masks_follow_the_fidelity_conventions():
    scores = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.2, 0.8, 0.7, 0.6, 0.4, 0.0, 0.05])
    ptr = torch.tensor([0, 4, 11])
    gt = torch.tensor([0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=torch.bool)  # instance 1 has none
    masks = representation_masks(scores, ptr, draws=3, share=0.25, gt_labels=gt,
                                 generator=torch.Generator().manual_seed(0))
    assert masks.k.tolist() == [3, 2]  # ground truth count, else ceil(0.25 * 7)
    assert masks.kept.tolist() == topk_mask(scores, ptr, torch.tensor([3, 2])).tolist()
    assert masks.random.shape == (3, 11)
    assert masks.random[:, :4].sum(1).tolist() == [3] * 3
    assert masks.random[:, 4:].sum(1).tolist() == [2] * 3
    fixed = representation_masks(scores, ptr, draws=1, k=1)
    assert fixed.k.tolist() == [1, 1] and fixed.kept.tolist() == topk_mask(scores, ptr, 1).tolist()
    assert topk_sizes(torch.tensor([4, 7]), 0.25).tolist() == [1, 2]


# ----------------------------------------------------------------------------- a hand-built model


class _IndicatorSum(MessagePassing):
    """Sum aggregation of ``x_j * edge_attr_e``: edges with ``edge_attr = 0`` send nothing."""

    def __init__(self) -> None:
        super().__init__(aggr="add")

    def forward(self, x, edge_index, edge_attr):
        return self.propagate(edge_index, x=x, edge_attr=edge_attr)

    def message(self, x_j, edge_attr):
        return x_j * edge_attr.view(-1, 1)


class KnownEdgeModel(GraphModel):
    """One layer, ``z_v = x_v + sum_{u -> v in S} x_u``: the edges outside S (edge_attr 0)
    have no effect on the embedding, whatever their mask."""

    task = TaskLevel.NODE
    num_layers = 1

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.conv = _IndicatorSum()
        self.head = nn.Linear(dim, num_classes)

    def embed(self, x, edge_index, batch=None, edge_attr=None, edge_type=None):
        return x + self.conv(x, edge_index, edge_attr)

    def classify(self, z):
        return self.head(z)


def known_edge_dataset(features: str = "axes") -> BenchmarkDataset:
    """Targets 0..5; target t has s_t = 1 + t % 3 in-edges in S and 3 + t % 3 outside S,
    each from its own source node. ``axes``: targets have feature e0, sources e1, so
    ``z_t = (1, j)`` with j the kept S-edges; ``random``: Gaussian features."""
    targets, src, dst, in_s = 6, [], [], []
    n = targets
    for t in range(targets):
        s, r = 1 + t % 3, 3 + t % 3
        for flag in [True] * s + [False] * r:
            src.append(n)
            dst.append(t)
            in_s.append(flag)
            n += 1
    if features == "axes":
        x = torch.zeros(n, 3)
        x[:targets, 0] = 1.0
        x[targets:, 1] = 1.0
    else:
        x = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    gt = torch.tensor(in_s)
    ids = torch.arange(targets)
    return BenchmarkDataset(
        info=DatasetInfo("known-edges", TaskLevel.NODE, "synthetic", True, "test double",
                         "tests/metrics/test_ground_truth_free.py"),
        data=Data(x=x, edge_index=torch.tensor([src, dst]), edge_attr=gt.float().view(-1, 1)),
        y=ids % 2, num_classes=2, splits={"train": ids, "val": ids, "test": ids},
        explain_ids={"val": ids, "test": ids}, gt_edge_mask=gt)


def _context(dataset: BenchmarkDataset, model: GraphModel, scores_of, options=None):
    ids = dataset.explain_ids["test"]
    batch = instance_batch(dataset, ids, model.num_layers)
    edge_ids = batch.edge_ids[batch.explainable]
    expl = Explanation(dataset.task, batch.instance_ids, edge_ids, batch.explained_edge_ptr(),
                       scores_of(edge_ids))
    return MetricContext(model, dataset, expl, batch, torch.device("cpu"), options or {})


@pytest.mark.parametrize("features", ["axes", "random"])
def test_representation_fidelity_is_one_for_the_known_set_and_at_most_zero_for_its_complement(
        features):
    dataset = known_edge_dataset(features)
    torch.manual_seed(0)
    model = KnownEdgeModel(3, 2).eval()
    gt = dataset.gt_edge_mask.float()
    scorer = METRICS.get("representation-fidelity")
    keeps_s = scorer(_context(dataset, model, lambda e: gt[e]))
    assert keeps_s["repr_fidelity"] == pytest.approx(1.0, abs=1e-6)
    assert keeps_s["repr_fidelity_undefined"] == 0.0
    complement = scorer(_context(dataset, model, lambda e: 1.0 - gt[e]))
    if features == "axes":  # z = (1, j) moves monotonically away from (1, s) as j falls: <= 0
        assert complement["repr_fidelity"] <= 0.0
    else:  # not guaranteed for arbitrary features; far below the known set's 1 here
        assert complement["repr_fidelity"] < 0.5
    # the same number by hand: embeddings from the formula z = x + sum_S x_u, the scorer's draws
    batch = instance_batch(dataset, dataset.explain_ids["test"], 1)
    edges = batch.edge_ids[batch.explainable]
    weight = dataset.gt_edge_mask[batch.edge_ids].float()

    def embed(mask):
        messages = batch.x[batch.edge_index[0]] * (weight * batch.full_mask(mask)).view(-1, 1)
        return (batch.x + torch.zeros_like(batch.x).index_add_(0, batch.edge_index[1], messages)
                )[batch.target_index]

    masks = representation_masks(1.0 - gt[edges], batch.explained_edge_ptr(), draws=10,
                                 gt_labels=dataset.gt_edge_mask[edges],
                                 generator=seeded_generator(0, _REPR_STREAM))
    z_rand = torch.stack([embed(m.float()) for m in masks.random])
    by_hand = representation_fidelity(embed(torch.ones(edges.numel())),
                                      embed(masks.kept.float()), z_rand)
    assert float(by_hand.mean()) == pytest.approx(complement["repr_fidelity"])
    if features == "axes":
        assert (by_hand <= 1e-12).all()  # every instance, not only the mean


def test_edges_outside_the_known_set_do_not_move_the_embedding():
    dataset = known_edge_dataset("random")
    model = KnownEdgeModel(3, 2).eval()
    ctx = _context(dataset, model, lambda e: torch.zeros(e.numel()))
    batch = ctx.batch
    gt = dataset.gt_edge_mask[batch.edge_ids[batch.explainable]]
    z = _masked_embeddings(ctx, torch.stack([torch.ones(gt.numel()), gt.float()]))
    assert torch.allclose(z[0], z[1])


def test_unfaithfulness_scorer_matches_a_direct_kl_and_is_zero_when_every_edge_is_kept(
        tiny_node_dataset, tiny_gcn):
    dataset, model = tiny_node_dataset, tiny_gcn
    scores_all = torch.rand(dataset.data.edge_index.size(1),
                            generator=torch.Generator().manual_seed(4))
    ctx = _context(dataset, model, lambda e: scores_all[e])
    out = METRICS.get("unfaithfulness")(ctx)["unfaithfulness"]
    batch, expl = ctx.batch, ctx.explanation
    gt = dataset.gt_edge_mask[expl.edge_ids]
    counts = expl.edge_ptr.diff()
    gt_counts = torch.stack([gt[a:b].sum() for a, b in zip(expl.edge_ptr[:-1], expl.edge_ptr[1:])])
    keep = topk_mask(expl.edge_scores, expl.edge_ptr, topk_sizes(counts, 0.1, gt_counts)).float()
    log_p = masked_log_probs(model, batch, None)
    log_q = masked_log_probs(model, batch, keep)
    kl = F.kl_div(log_q, log_p, reduction="none", log_target=True).sum(-1)
    assert out == pytest.approx(float((1 - torch.exp(-kl)).mean()), abs=1e-6)
    assert 0.0 <= out < 1.0
    bare = dataclasses.replace(dataset, gt_edge_mask=None, gt_node_mask=None)
    everything = _context(bare, model, lambda e: scores_all[e], {"topk_share": 1.0})
    assert METRICS.get("unfaithfulness")(everything)["unfaithfulness"] == 0.0
    rf = METRICS.get("representation-fidelity")(everything)
    assert math.isnan(rf["repr_fidelity"]) and rf["repr_fidelity_undefined"] == 1.0


@pytest.mark.parametrize("level", ["node", "graph"])
def test_scorers_run_on_the_fixtures_and_are_deterministic(level, request):
    if level == "node":
        dataset = request.getfixturevalue("tiny_node_dataset")
        model = request.getfixturevalue("tiny_gcn")
    else:
        dataset, model = (request.getfixturevalue("tiny_graph_dataset"),
                          request.getfixturevalue("tiny_gin_graph"))
    gt = dataset.gt_edge_mask.float()
    noise = torch.rand(gt.numel(), generator=torch.Generator().manual_seed(5))
    scorer = METRICS.get("representation-fidelity")
    truth = scorer(_context(dataset, model, lambda e: gt[e] + 0.01 * noise[e]))
    again = scorer(_context(dataset, model, lambda e: gt[e] + 0.01 * noise[e]))
    assert truth == again
    assert set(truth) == {"repr_fidelity", "repr_fidelity_instance_std", "repr_fidelity_undefined"}
    assert truth["repr_fidelity"] <= 1.0 and truth["repr_fidelity_instance_std"] >= 0.0
    assert 0.0 <= truth["repr_fidelity_undefined"] < 1.0
    other_seed = scorer(_context(dataset, model, lambda e: gt[e] + 0.01 * noise[e],
                                 {"repr_seed": 7, "repr_draws": 3}))
    assert other_seed["repr_fidelity"] != truth["repr_fidelity"]
    gef = METRICS.get("unfaithfulness")(_context(dataset, model, lambda e: gt[e]))
    assert 0.0 <= gef["unfaithfulness"] < 1.0
    with pytest.raises(ValueError, match="repr_draws"):
        scorer(_context(dataset, model, lambda e: gt[e], {"repr_draws": 0}))
