"""The synthetic ground-truth datasets at the papers' sizes (each builds in well under a second)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
import torch

import suite.datasets as datasets
from suite.core.config import ConfigError
from suite.core.registry import UnknownNameError
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.datasets import DATASETS, cache, dataset_info, load_dataset

NODE_DATASETS = ["ba-shapes", "ba-community", "tree-cycles", "tree-grid"]
ALL_DATASETS = NODE_DATASETS + ["ba-2motifs"]

# Sizes from the issue text: base edges (BA: m * (n - m); tree: n - 1) + motif edges
# + one attachment edge per motif + round(0.1 * N) noise edges (BA-Shapes) + bridges.
HOUSE, CYCLE5, CYCLE6, GRID = nx.house_graph(), nx.cycle_graph(5), nx.cycle_graph(6), nx.grid_2d_graph(3, 3)
BA_SHAPES_EDGES = 5 * (300 - 5) + 80 * 6 + 80 + 70
EXPECTED = {
    "ba-shapes": dict(nodes=700, edges=BA_SHAPES_EDGES, classes=[300, 80, 160, 160], motifs=80,
                      motif_graphs=[HOUSE]),
    "ba-community": dict(nodes=1400, edges=2 * BA_SHAPES_EDGES + 350, classes=[300, 80, 160, 160] * 2,
                         motifs=160, motif_graphs=[HOUSE]),
    "tree-cycles": dict(nodes=871, edges=510 + 60 * 6 + 60, classes=[511, 360], motifs=60,
                        motif_graphs=[CYCLE6]),
    "tree-grid": dict(nodes=1231, edges=510 + 80 * 12 + 80, classes=[511, 720], motifs=80,
                      motif_graphs=[GRID]),
    "ba-2motifs": dict(nodes=1000 * 25, edges=500 * (19 + 6 + 1) + 500 * (19 + 5 + 1), classes=[500, 500],
                       motifs=1000, motif_graphs=[HOUSE, CYCLE5]),
}


@pytest.fixture(scope="module")
def built() -> dict[str, BenchmarkDataset]:
    return {name: load_dataset(name) for name in ALL_DATASETS}


def _digest(ds: BenchmarkDataset) -> str:
    h = hashlib.sha256()
    tensors = [ds.data.x, ds.data.edge_index, ds.y, ds.gt_edge_mask, ds.gt_node_mask,
               *ds.splits.values(), *ds.explain_ids.values()]
    for t in tensors:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def _nx_graph(edge_index: torch.Tensor) -> nx.Graph:
    g = nx.Graph()
    g.add_edges_from(map(tuple, edge_index.t().tolist()))
    return g


# --------------------------------------------------------------------------- registry and metadata


def test_importing_the_package_registers_every_synthetic_dataset():
    assert set(ALL_DATASETS) <= set(DATASETS.names())
    assert set(datasets.__all__) >= {"DATASETS", "load_dataset", "dataset_info", "register_dataset",
                                     "DatasetUnavailable"}


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_metadata(name, built):
    info = dataset_info(name)
    ds = built[name]
    assert ds.info is info and info.family == "synthetic" and info.has_ground_truth
    assert info.task == (TaskLevel.GRAPH if name == "ba-2motifs" else TaskLevel.NODE)
    assert ("2011.04573" if name == "ba-2motifs" else "1903.03894") in info.citation
    if name.startswith("ba"):
        assert "barabasi_albert" in info.provenance and "NOT torch_geometric" in info.provenance
    assert ds.params["seed"] == 0 and len(ds.params) > 1


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match=r"Did you mean 'ba-shapes'\?.*tree-grid"):
        load_dataset("ba_shape")


@pytest.mark.parametrize("params,field", [
    (dict(num_base=0), "num_base"), (dict(noise_ratio=-0.1), "noise_ratio"), (dict(seed=-1), "seed"),
    (dict(num_motifs=2.5), "num_motifs"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ConfigError, match=rf"{field}: .*\(got "):
        load_dataset("ba-shapes", **params)


# --------------------------------------------------------------------------- sizes at the paper defaults


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_sizes_at_paper_defaults(name, built):
    ds, want = built[name], EXPECTED[name]
    assert ds.data.num_nodes == ds.data.x.size(0) == want["nodes"]
    assert ds.data.edge_index.size(1) == 2 * want["edges"]
    assert torch.bincount(ds.y).tolist() == want["classes"]
    assert ds.num_classes == len(want["classes"])
    assert ds.num_node_features == 10
    assert int(ds.data.motif_id.max()) + 1 == want["motifs"]


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_edges_are_simple_and_symmetric(name, built):
    ds = built[name]
    src, dst = ds.data.edge_index
    n = ds.data.num_nodes
    assert (src != dst).all()
    keys = src * n + dst
    assert keys.unique().numel() == keys.numel()
    reverse = dst * n + src
    assert torch.equal(keys.sort().values, reverse.sort().values)
    # the ground truth is symmetric too: (u, v) is marked iff (v, u) is
    gt = ds.gt_edge_mask
    assert gt.dtype == torch.bool and gt.numel() == keys.numel()
    assert torch.equal(keys[gt].sort().values, reverse[gt].sort().values)


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_ground_truth_is_exactly_the_motif_edges(name, built):
    ds = built[name]
    motif_id = ds.data.motif_id
    src, dst = ds.data.edge_index
    assert torch.equal(ds.gt_node_mask, motif_id >= 0)
    gt = ds.gt_edge_mask
    # every ground-truth edge lies inside one motif
    assert (motif_id[src[gt]] >= 0).all() and torch.equal(motif_id[src[gt]], motif_id[dst[gt]])
    owner = motif_id[src[gt]]
    order = owner.argsort(stable=True)
    counts = torch.bincount(owner, minlength=EXPECTED[name]["motifs"]).tolist()
    per_motif = ds.data.edge_index[:, gt][:, order].split(counts, dim=1)
    references = EXPECTED[name]["motif_graphs"]
    for k, motif_edges in enumerate(per_motif):
        g = _nx_graph(motif_edges)
        assert set(g.nodes) == set((motif_id == k).nonzero().flatten().tolist())
        matches = [ref for ref in references if nx.is_isomorphic(g, ref)]
        assert len(matches) == 1, f"motif {k} is not a {[str(r) for r in references]}"
        assert motif_edges.size(1) == 2 * matches[0].number_of_edges()  # e.g. house 12, grid 24
        if name == "ba-2motifs":  # the motif decides the class
            assert int(ds.y[int(ds.data.batch[motif_edges[0, 0]])]) == references.index(matches[0])


@pytest.mark.parametrize("name,params", [
    ("ba-shapes", dict(noise_ratio=0.0)), ("ba-community", dict(noise_ratio=0.0, num_bridges=0)),
    ("tree-cycles", {}), ("tree-grid", {}),
])
def test_each_motif_hangs_from_the_base_by_one_edge(name, params):
    ds = load_dataset(name, **params)
    motif_id = ds.data.motif_id
    src, dst = ds.data.edge_index
    leaving = (motif_id[src] >= 0) & (motif_id[src] != motif_id[dst])
    assert (motif_id[dst[leaving]] == -1).all()  # to a base node, never to another motif
    assert torch.equal(torch.bincount(motif_id[src[leaving]]), torch.ones(int(motif_id.max()) + 1).long())
    assert not ds.gt_edge_mask[leaving].any()


def test_noise_edges_are_added_on_top_and_are_not_ground_truth(built):
    noisy, clean = built["ba-shapes"], load_dataset("ba-shapes", noise_ratio=0.0)
    n = noisy.data.num_nodes
    noisy_keys = noisy.data.edge_index[0] * n + noisy.data.edge_index[1]
    clean_keys = clean.data.edge_index[0] * n + clean.data.edge_index[1]
    extra = ~torch.isin(noisy_keys, clean_keys)
    assert torch.isin(clean_keys, noisy_keys).all()
    assert int(extra.sum()) == 2 * round(0.1 * 700)
    assert not noisy.gt_edge_mask[extra].any()
    assert torch.equal(noisy.gt_edge_mask[~extra], clean.gt_edge_mask)


def test_ba_community_joins_two_distinct_communities_with_gaussian_features(built):
    ds = built["ba-community"]
    half = 700
    community = (torch.arange(1400) >= half).long()
    src, dst = ds.data.edge_index
    bridges = community[src] != community[dst]
    assert int(bridges.sum()) == 2 * 350
    assert torch.equal(ds.y, 4 * community + ds.y % 4)
    own = ds.data.edge_index[:, ~bridges]
    first = own[:, own[0] < half]
    second = own[:, own[0] >= half] - half
    assert not torch.equal(first, second)  # independently generated
    x = ds.data.x
    for dims, lo, hi in [(slice(0, 2), -1.2, -0.8), (slice(2, 10), -0.15, 0.15)]:
        mean0, mean1 = x[:half, dims].mean(), x[half:, dims].mean()
        assert lo < mean0 < hi
        assert (-hi < mean1 < -lo) if dims.start == 0 else (lo < mean1 < hi)
    assert abs(float(x[:half, 0].std()) - 0.5) < 0.1 and abs(float(x[:half, 5].std()) - 1.0) < 0.15
    quiet = load_dataset("ba-community", other_std=0.0).data.x
    assert (quiet[:, 2:] == 0).all() and torch.equal(quiet[:, :2], x[:, :2])


def test_ba_2motifs_graphs_are_contiguous_ba_trees_plus_a_motif(built):
    ds = built["ba-2motifs"]
    assert ds.num_graphs == 1000
    assert (ds.node_ptr.diff() == 25).all()
    assert torch.equal(ds.data.batch, torch.arange(1000).repeat_interleave(25))
    src, dst = ds.data.edge_index
    edge_graph = torch.arange(1000).repeat_interleave(ds.edge_ptr.diff())
    assert torch.equal(ds.data.batch[src], edge_graph) and torch.equal(ds.data.batch[dst], edge_graph)
    for g in range(0, 1000, 37):
        graph = ds.graph(g)
        assert graph.num_nodes == 25 and int(graph.y) == int(ds.y[g])
        local = graph.edge_index
        base = local[:, (local < 20).all(0)]
        tree = _nx_graph(base)
        assert tree.number_of_nodes() == 20 and tree.number_of_edges() == 19 and nx.is_tree(tree)
        assert not ds.gt_node_mask[int(ds.node_ptr[g]):int(ds.node_ptr[g]) + 20].any()
        assert ds.gt_node_mask[int(ds.node_ptr[g]) + 20:int(ds.node_ptr[g + 1])].all()


# --------------------------------------------------------------------------- splits and instances


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_splits_are_stratified_80_10_10(name, built):
    ds = built[name]
    total = ds.y.numel()
    ids = torch.cat([ds.splits[k] for k in ("train", "val", "test")])
    assert torch.equal(ids.sort().values, torch.arange(total))
    for cls in range(ds.num_classes):
        n = int((ds.y == cls).sum())
        for split, f in (("train", 0.8), ("val", 0.1), ("test", 0.1)):
            assert abs(int((ds.y[ds.splits[split]] == cls).sum()) - f * n) < 1


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_explained_instances_are_the_motif_nodes_or_graphs_of_the_split(name, built):
    ds = built[name]
    for split in ("val", "test"):
        ids = ds.explain_ids[split]
        if ds.task == TaskLevel.NODE:
            part = ds.splits[split]
            assert torch.equal(ids, part[ds.gt_node_mask[part]])
            assert ids.numel() > 0 and (ds.y[ids] > 0).all() and ds.gt_node_mask[ids].all()
        else:
            assert torch.equal(ids, ds.splits[split])


# --------------------------------------------------------------------------- determinism and cache


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_same_seed_same_data_other_seed_other_data(name, built):
    again, other = load_dataset(name, seed=0), load_dataset(name, seed=1)
    assert _digest(again) == _digest(built[name])
    assert not torch.equal(other.data.edge_index, built[name].data.edge_index) or \
        not torch.equal(other.data.x, built[name].data.x)
    assert other.params["seed"] == 1


def test_identical_in_a_fresh_process_with_another_hash_seed(built):
    """No dependence on set/dict iteration order or global RNG state across runs."""
    code = ("import hashlib, torch; from suite.datasets import load_dataset;"
            "from tests.datasets.test_synthetic import ALL_DATASETS, _digest;"
            "print(' '.join(_digest(load_dataset(n)) for n in ALL_DATASETS))")
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == [_digest(built[n]) for n in ALL_DATASETS]


def test_cache_round_trip(tmp_path):
    params = dict(num_base=40, num_motifs=6)
    first = load_dataset("ba-shapes", seed=2, cache_dir=tmp_path, **params)
    files = list(tmp_path.glob("ba-shapes-*.pt"))
    assert len(files) == 1
    on_disk = cache.read(files[0])
    second = load_dataset("ba-shapes", seed=2, cache_dir=tmp_path, **params)
    for ds in (on_disk, second):
        assert _digest(ds) == _digest(first) and ds.params == first.params and ds.info == first.info
    load_dataset("ba-shapes", seed=3, cache_dir=tmp_path, **params)
    assert len(list(tmp_path.glob("ba-shapes-*.pt"))) == 2  # the seed is part of the key


# --------------------------------------------------------------------------- models run on them


@pytest.mark.parametrize("name", ALL_DATASETS)
def test_gcn_forward_runs(name, built):
    from suite.models import build_model

    ds = built[name]
    torch.manual_seed(0)
    model = build_model("gcn", ds)
    batch = ds.data.batch if ds.task == TaskLevel.GRAPH else None
    with torch.no_grad():
        out = model(ds.data.x, ds.data.edge_index, batch=batch)
    rows = ds.num_graphs if ds.task == TaskLevel.GRAPH else ds.data.num_nodes
    assert out.shape == (rows, ds.num_classes) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["tree-cycles", "tree-grid"])
def test_motif_anchors_are_one_attached_node_per_motif(name, built):
    from suite.datasets.synthetic import motif_anchors

    ds = built[name]
    anchors = motif_anchors(ds)
    g = _nx_graph(ds.data.edge_index)
    motif_nodes = set(torch.nonzero(ds.gt_node_mask).flatten().tolist())
    motifs = list(nx.connected_components(g.subgraph(motif_nodes)))
    assert anchors.numel() == len(motifs) == EXPECTED[name]["motifs"]
    for component in motifs:  # exactly one anchor per motif copy
        inside = [a for a in anchors.tolist() if a in component]
        assert len(inside) == 1
        outside = [u for u in g.neighbors(inside[0]) if u not in motif_nodes]
        assert len(outside) == 1  # joined to the base by the one attachment edge
        others = component - {inside[0]}
        assert all(u in motif_nodes for v in others for u in g.neighbors(v))


def test_motif_anchors_refuse_noise_edges_and_graph_tasks(built):
    from suite.datasets.synthetic import motif_anchors

    with pytest.raises(ValueError, match="noise_ratio 0.1"):
        motif_anchors(built["ba-shapes"])
    with pytest.raises(ValueError, match="not a node task"):
        motif_anchors(built["ba-2motifs"])
