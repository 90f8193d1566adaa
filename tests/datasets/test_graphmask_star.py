"""graphmask-star: GraphMask's synthetic star-graph task, checked graph by graph."""

from __future__ import annotations

import time

import pytest
import torch

from suite.core.config import ConfigError
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.datasets import DATASETS, dataset_info, load_dataset
from suite.datasets.graphmask_star import graphmask_star

SMALL = dict(num_train=300, num_val=60, num_test=60)


@pytest.fixture(scope="module")
def small() -> BenchmarkDataset:
    return graphmask_star(seed=0, **SMALL)


@pytest.fixture(scope="module")
def full() -> BenchmarkDataset:
    return graphmask_star(seed=0)


def _tensors(ds: BenchmarkDataset) -> list[torch.Tensor]:
    return [ds.data.x, ds.data.edge_index, ds.data.edge_type, ds.data.batch, ds.data.query, ds.y,
            ds.gt_edge_mask, ds.gt_node_mask, ds.node_ptr, ds.edge_ptr,
            *ds.splits.values(), *ds.explain_ids.values()]


def _query(graph) -> tuple[int, int]:
    """(x, y) decoded from a leaf's features [onehot(x) | onehot(y)]."""
    leaf = graph.x[1]
    c = leaf.numel() // 2
    return int(leaf[:c].argmax()), int(leaf[c:].argmax())


# --------------------------------------------------------------------------- registry, determinism


def test_registered_with_metadata(small):
    assert "graphmask-star" in DATASETS
    info = dataset_info("graphmask-star")
    assert small.info is info and info.task == TaskLevel.GRAPH and info.family == "synthetic"
    assert info.has_ground_truth and "2010.00577" in info.citation and "torch.Generator" in info.provenance
    assert small.params == dict(seed=0, min_leaves=6, max_leaves=12, num_colours=6, **SMALL)
    assert small.num_classes == 2 and small.num_edge_types == 6 and small.num_node_features == 12


def test_load_dataset_with_small_sizes(tmp_path):
    ds = load_dataset("graphmask_star", seed=3, num_train=20, num_val=4, num_test=5)
    assert ds.num_graphs == 29 and ds.params["seed"] == 3
    cached = load_dataset("graphmask-star", seed=3, cache_dir=tmp_path, num_train=20, num_val=4, num_test=5)
    again = load_dataset("graphmask-star", seed=3, cache_dir=tmp_path, num_train=20, num_val=4, num_test=5)
    assert all(torch.equal(a, b) for a, b in zip(_tensors(ds), _tensors(again)))
    assert all(torch.equal(a, b) for a, b in zip(_tensors(cached), _tensors(again)))


def test_deterministic_in_the_seed(small):
    again = graphmask_star(seed=0, **SMALL)
    assert all(torch.equal(a, b) for a, b in zip(_tensors(small), _tensors(again)))
    other = graphmask_star(seed=1, **SMALL)
    assert not torch.equal(small.node_ptr, other.node_ptr) or not torch.equal(
        small.data.edge_type, other.data.edge_type)
    assert not torch.equal(small.data.query, other.data.query)


def test_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    graphmask_star(seed=5, **SMALL)
    assert torch.equal(torch.rand(3), before)


def test_full_size_builds_fast_with_the_papers_splits(full):
    start = time.perf_counter()
    graphmask_star(seed=1)
    assert time.perf_counter() - start < 5.0  # ~0.1 s measured; generous for a loaded machine
    assert {k: v.numel() for k, v in full.splits.items()} == {"train": 10000, "val": 500, "test": 500}
    leaves = full.edge_ptr.diff()
    assert set(leaves.tolist()) == set(range(6, 13))  # every count in [6, 12] occurs
    counts = torch.bincount(full.data.edge_type, minlength=6).float()
    assert counts.numel() == 6 and (counts / counts.mean() - 1).abs().max() < 0.05  # uniform colours
    pairs = set(map(tuple, full.data.query.tolist()))
    assert len(pairs) == 30 and all(a != b for a, b in pairs)  # every ordered pair of distinct colours
    share = full.y.float().mean().item()
    assert 0.33 < share < 0.44  # measured 0.386 for seed 0: ties count as label 0


# --------------------------------------------------------------------------- structure


def test_sizes_and_offsets_are_consistent(small):
    d, g = small.data, small.num_graphs
    assert g == 420 and small.y.shape == (g,) and d.query.shape == (g, 2)
    assert small.node_ptr.shape == (g + 1,) and small.edge_ptr.shape == (g + 1,)
    assert int(small.node_ptr[0]) == 0 and int(small.edge_ptr[0]) == 0
    assert int(small.node_ptr[-1]) == d.num_nodes == d.x.size(0) == small.gt_node_mask.numel()
    num_edges = int(small.edge_ptr[-1])
    assert num_edges == d.edge_index.size(1) == d.edge_type.numel() == small.gt_edge_mask.numel()
    assert torch.equal(small.node_ptr.diff(), small.edge_ptr.diff() + 1)  # centre + one node per edge
    assert torch.equal(d.batch, torch.repeat_interleave(torch.arange(g), small.node_ptr.diff()))
    assert d.edge_index.dtype == d.edge_type.dtype == small.y.dtype == torch.long
    assert d.x.dtype == torch.float32


def test_every_edge_runs_from_its_own_leaf_to_its_graphs_centre(small):
    src, dst = small.data.edge_index
    for g in range(small.num_graphs):
        n0, n1 = int(small.node_ptr[g]), int(small.node_ptr[g + 1])
        e0, e1 = int(small.edge_ptr[g]), int(small.edge_ptr[g + 1])
        assert (dst[e0:e1] == n0).all()
        assert sorted(src[e0:e1].tolist()) == list(range(n0 + 1, n1))  # each leaf once, no centre
    assert not (small.data.edge_index[0] == small.data.edge_index[1]).any()


def test_leaf_count_range_is_respected():
    for lo, hi in ((6, 12), (1, 3), (4, 4)):
        ds = graphmask_star(seed=2, num_train=200, num_val=0, num_test=0, min_leaves=lo, max_leaves=hi)
        leaves = ds.edge_ptr.diff()
        assert int(leaves.min()) >= lo and int(leaves.max()) <= hi
        assert set(leaves.tolist()) == set(range(lo, hi + 1))


def test_features_as_specified(small):
    c = 6
    for g in range(small.num_graphs):
        graph = small.graph(g)
        assert (graph.x[0] == -1).all()  # centre
        qx, qy = (int(v) for v in small.data.query[g])
        assert qx != qy and 0 <= qx < c and 0 <= qy < c
        want = torch.zeros(2 * c)
        want[qx] = 1.0
        want[c + qy] = 1.0
        assert (graph.x[1:] == want).all()
        assert _query(graph) == (qx, qy)


def test_labels_recomputed_from_edge_types_and_features(small):
    for g in range(small.num_graphs):
        graph = small.graph(g)
        qx, qy = _query(graph)
        types = graph.edge_type.tolist()
        assert int(small.y[g]) == int(types.count(qx) > types.count(qy)), g
    assert 0 < int(small.y.sum()) < small.num_graphs


def test_ground_truth_masks_recomputed(small):
    src, dst = small.data.edge_index
    for g in range(small.num_graphs):
        graph = small.graph(g)
        qx, qy = _query(graph)
        e0, e1 = int(small.edge_ptr[g]), int(small.edge_ptr[g + 1])
        want_edges = [t in (qx, qy) for t in graph.edge_type.tolist()]
        assert small.gt_edge_mask[e0:e1].tolist() == want_edges
        n0, n1 = int(small.node_ptr[g]), int(small.node_ptr[g + 1])
        want_nodes = [any(want_edges)] + [False] * (n1 - n0 - 1)
        for e, keep in enumerate(want_edges):
            if keep:
                want_nodes[int(src[e0 + e]) - n0] = True
        assert small.gt_node_mask[n0:n1].tolist() == want_nodes


def test_graph_view_carries_edge_types(small):
    graph = small.graph(7)
    e0, e1 = int(small.edge_ptr[7]), int(small.edge_ptr[8])
    assert torch.equal(graph.edge_type, small.data.edge_type[e0:e1])
    assert (graph.edge_index[1] == 0).all()


# --------------------------------------------------------------------------- splits


def test_splits_are_positional_disjoint_and_sized(small):
    s = small.splits
    assert torch.equal(s["train"], torch.arange(300))
    assert torch.equal(s["val"], torch.arange(300, 360))
    assert torch.equal(s["test"], torch.arange(360, 420))
    assert torch.cat(list(s.values())).unique().numel() == 420


def test_explain_ids_are_the_split_graphs_with_ground_truth(small):
    has_gt = torch.zeros(small.num_graphs, dtype=torch.long).index_add_(
        0, small.data.batch[small.data.edge_index[1]], small.gt_edge_mask.long()) > 0
    for split in ("val", "test"):
        ids = small.explain_ids[split]
        assert torch.isin(ids, small.splits[split]).all()
        assert torch.equal(ids, small.splits[split][has_gt[small.splits[split]]])
    assert set(small.explain_ids) == {"val", "test"}


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("field,value", [
    ("seed", -1), ("num_train", 0), ("num_val", -1), ("num_test", -2), ("min_leaves", 0),
    ("max_leaves", 0), ("num_colours", 1), ("num_train", 1.5), ("num_colours", True),
    ("max_leaves", 5),  # below min_leaves = 6
])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"{field}.*{value!r}"):
        graphmask_star(**{"num_train": 10, "num_val": 2, "num_test": 2, field: value})
