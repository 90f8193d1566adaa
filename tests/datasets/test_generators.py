"""Graph generators, cross-checked against networkx's reference generators."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from suite.datasets.generators import (
    MOTIFS,
    EdgeKind,
    GraphSketch,
    attach_motifs,
    balanced_tree,
    balanced_tree_size,
    barabasi_albert,
    cycle,
    grid,
    house,
    random_edges,
)


def _nx(pairs: np.ndarray, num_nodes: int) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(num_nodes))
    g.add_edges_from(map(tuple, pairs.tolist()))
    return g


def _assert_simple(pairs: np.ndarray) -> None:
    assert (pairs[:, 0] != pairs[:, 1]).all(), "self-loop"
    keys = {(min(u, v), max(u, v)) for u, v in pairs.tolist()}
    assert len(keys) == len(pairs), "duplicate edge"


# --------------------------------------------------------------------------- Barabasi-Albert


@pytest.mark.parametrize("n,m", [(300, 5), (20, 1), (50, 3), (7, 6)])
def test_barabasi_albert_has_the_classic_edge_count(n, m):
    pairs = barabasi_albert(n, m, np.random.default_rng(0))
    _assert_simple(pairs)
    assert pairs.min() >= 0 and pairs.max() == n - 1
    reference = nx.barabasi_albert_graph(n, m, seed=0)
    assert len(pairs) == reference.number_of_edges() == m * (n - m)
    assert nx.is_connected(_nx(pairs, n))


def test_barabasi_albert_m1_is_a_tree_unlike_pyg():
    from torch_geometric.utils import barabasi_albert_graph

    for seed in range(20):
        pairs = barabasi_albert(20, 1, np.random.default_rng(seed))
        assert len(pairs) == 19
        assert nx.is_tree(_nx(pairs, 20))
    np.random.seed(0)
    pyg = barabasi_albert_graph(20, 1)  # the generator REFERENCES.md warns about
    assert pyg.size(1) // 2 < 19


def test_barabasi_albert_degree_statistics_match_networkx():
    """Preferential attachment: early nodes become hubs, as in networkx's model."""
    ours, ref = [], []
    for seed in range(30):
        deg = np.bincount(barabasi_albert(300, 5, np.random.default_rng(seed)).ravel(), minlength=300)
        ours.append([deg.max(), deg[:10].mean(), deg[-100:].mean()])
        g = nx.barabasi_albert_graph(300, 5, seed=seed)
        d = np.array([g.degree(i) for i in range(300)])
        ref.append([d.max(), d[:10].mean(), d[-100:].mean()])
    ours_mean, ref_mean = np.mean(ours, 0), np.mean(ref, 0)
    assert ours_mean[1] > 4 * ours_mean[2]  # hubs among the first nodes
    np.testing.assert_allclose(ours_mean, ref_mean, rtol=0.08)


def test_barabasi_albert_is_deterministic_in_its_generator():
    a = barabasi_albert(100, 3, np.random.default_rng(7))
    b = barabasi_albert(100, 3, np.random.default_rng(7))
    c = barabasi_albert(100, 3, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("n,m", [(5, 5), (5, 0)])
def test_barabasi_albert_rejects_bad_sizes(n, m):
    with pytest.raises(ValueError, match=f"got m={m}, num_nodes={n}"):
        barabasi_albert(n, m, np.random.default_rng(0))


# --------------------------------------------------------------------------- trees and motifs


@pytest.mark.parametrize("depth", [0, 1, 3, 8])
def test_balanced_tree_is_networkx_balanced_tree(depth):
    pairs = balanced_tree(depth)
    n = balanced_tree_size(depth)
    assert n == 2 ** (depth + 1) - 1 and len(pairs) == n - 1
    assert nx.is_isomorphic(_nx(pairs, n), nx.balanced_tree(2, depth))


@pytest.mark.parametrize("motif,reference", [
    (house(), nx.house_graph()),
    (cycle(5), nx.cycle_graph(5)),
    (cycle(6), nx.cycle_graph(6)),
    (grid(3, 3), nx.grid_2d_graph(3, 3)),
], ids=["house", "cycle5", "cycle6", "grid3x3"])
def test_motifs_are_the_reference_graphs(motif, reference):
    g = _nx(np.asarray(motif.edges), motif.num_nodes)
    assert nx.is_isomorphic(g, reference)
    assert motif.num_edges == reference.number_of_edges()
    assert 0 <= motif.anchor < motif.num_nodes


def test_house_roles_are_top_middle_bottom():
    """Role 1 = the roof apex (in the triangle, degree 2), 2 = the other triangle nodes, 3 = the floor."""
    motif = house()
    g = _nx(np.asarray(motif.edges), motif.num_nodes)
    triangle = {v for v, t in nx.triangles(g).items() if t > 0}
    for v, role in enumerate(motif.roles):
        if role == 1:
            assert v in triangle and g.degree(v) == 2
        elif role == 2:
            assert v in triangle and g.degree(v) == 3
        else:
            assert role == 3 and v not in triangle
    assert sorted(motif.roles) == [1, 2, 2, 3, 3]
    assert motif.roles[motif.anchor] == 2  # attached next to the roof, as GNNExplainer's code does


def test_motif_table_names():
    assert set(MOTIFS) == {"house", "cycle5", "cycle6", "grid3x3"}
    assert MOTIFS["grid3x3"].num_nodes == 9 and MOTIFS["grid3x3"].num_edges == 12


# --------------------------------------------------------------------------- sketches


def test_sketch_refuses_self_loops_and_duplicates():
    sketch = GraphSketch()
    sketch.add_nodes(4)
    sketch.add_edges(np.array([[0, 1], [1, 2]]), EdgeKind.BASE)
    with pytest.raises(ValueError, match="duplicate edge 1-0"):
        sketch.add_edges(np.array([[1, 0]]), EdgeKind.NOISE)
    with pytest.raises(ValueError, match="self-loop"):
        sketch.add_edges(np.array([[3, 3]]), EdgeKind.NOISE)
    with pytest.raises(ValueError, match="out of range"):
        sketch.add_edges(np.array([[3, 4]]), EdgeKind.NOISE)


def test_sketch_edge_index_is_symmetric_sorted_and_keeps_kinds():
    sketch = GraphSketch()
    sketch.add_nodes(5)
    sketch.add_edges(np.array([[3, 0], [1, 2]]), EdgeKind.BASE)
    sketch.add_edges(np.array([[4, 1]]), EdgeKind.MOTIF)
    edge_index, kind = sketch.to_edge_index()
    assert edge_index.size(1) == 6
    keys = edge_index[0] * 5 + edge_index[1]
    assert torch.equal(keys, keys.sort().values)
    pairs = set(map(tuple, edge_index.t().tolist()))
    assert pairs == {(v, u) for u, v in pairs}
    motif_pairs = {tuple(e) for e in edge_index[:, kind == EdgeKind.MOTIF].t().tolist()}
    assert motif_pairs == {(1, 4), (4, 1)}


def test_add_graph_shifts_nodes_edges_and_motif_ids():
    rng = np.random.default_rng(0)
    part = GraphSketch()
    part.add_nodes(3)
    part.add_edges(np.array([[0, 1], [1, 2]]), EdgeKind.BASE)
    attach_motifs(part, cycle(5), 2, np.arange(3), rng)
    whole = GraphSketch()
    assert whole.add_graph(part) == 0
    assert whole.add_graph(part) == part.num_nodes
    assert whole.num_nodes == 2 * part.num_nodes and whole.num_edges == 2 * part.num_edges
    assert whole.num_motifs == 4
    assert sorted(set(whole.motif_ids.tolist())) == [-1, 0, 1, 2, 3]
    np.testing.assert_array_equal(whole.roles, np.concatenate([part.roles, part.roles]))
    _, kinds = whole.edges()
    assert (kinds == EdgeKind.MOTIF).sum() == 4 * 5 and (kinds == EdgeKind.ATTACH).sum() == 4


def test_attach_motifs_joins_each_copy_by_one_edge_from_its_anchor():
    rng = np.random.default_rng(3)
    sketch = GraphSketch()
    sketch.add_nodes(30)
    sketch.add_edges(barabasi_albert(30, 2, rng), EdgeKind.BASE)
    motif = MOTIFS["house"]
    attach_motifs(sketch, motif, 7, np.arange(30), rng)
    assert sketch.num_nodes == 30 + 7 * motif.num_nodes and sketch.num_motifs == 7
    pairs, kinds = sketch.edges()
    for k in range(7):
        nodes = set(np.flatnonzero(sketch.motif_ids == k).tolist())
        inside = [(u in nodes) + (v in nodes) for u, v in pairs.tolist()]
        crossing = [i for i, c in enumerate(inside) if c == 1]
        assert len(crossing) == 1 and kinds[crossing[0]] == EdgeKind.ATTACH
        u, v = pairs[crossing[0]].tolist()
        anchor, base = (u, v) if u in nodes else (v, u)
        assert base < 30 and anchor == min(nodes) + motif.anchor
        assert sum(c == 2 for c in inside) == motif.num_edges
        np.testing.assert_array_equal(sketch.roles[sorted(nodes)], motif.roles)


def test_random_edges_are_new_and_respect_sides():
    rng = np.random.default_rng(0)
    sketch = GraphSketch()
    sketch.add_nodes(20)
    sketch.add_edges(barabasi_albert(20, 2, rng), EdgeKind.BASE)
    before = sketch.num_edges
    noise = random_edges(sketch, 15, rng, EdgeKind.NOISE)
    assert len(noise) == 15 and sketch.num_edges == before + 15
    _assert_simple(sketch.edges()[0])
    bridges = random_edges(sketch, 30, rng, EdgeKind.BRIDGE, left=np.arange(10), right=np.arange(10, 20))
    assert ((bridges[:, 0] < 10) & (bridges[:, 1] >= 10)).all()
    _assert_simple(sketch.edges()[0])


def test_random_edges_refuses_impossible_requests():
    sketch = GraphSketch()
    sketch.add_nodes(4)
    with pytest.raises(ValueError, match="cannot add 7 edges among 6"):
        random_edges(sketch, 7, np.random.default_rng(0), EdgeKind.NOISE)
    random_edges(sketch, 6, np.random.default_rng(0), EdgeKind.NOISE)  # the complete graph
    with pytest.raises(ValueError, match="gave up"):
        random_edges(sketch, 1, np.random.default_rng(0), EdgeKind.NOISE)
