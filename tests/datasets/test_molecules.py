"""The molecule datasets: small builds, determinism, offline failures, the published ground truth.

Tests that read the data mirror (``SUITE_DATA_MIRROR``) skip with a reason when it
is absent on a developer's machine and FAIL when the ``CI`` environment variable
is set (the mirror README's rule: a broken data path must not pass silently).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit")
from rdkit import Chem  # noqa: E402

from suite.core.types import TaskLevel  # noqa: E402
from suite.datasets import DatasetUnavailable, dataset_info, load_dataset  # noqa: E402
from suite.datasets.molecules import builders, sources  # noqa: E402
from suite.datasets.molecules import rules as R  # noqa: E402
from suite.datasets.molecules.ogb_format import OGB_FORMAT  # noqa: E402

MOLECULE_DATASETS = ("benzene", "fluoride-carbonyl", "alkane-carbonyl", "mutag", "b3db",
                     "mutagenic-alerts", "ogbg-molhiv", "ogbg-molpcba")


@pytest.fixture()
def offline(monkeypatch, suite_home):
    """No mirror and no network: every download raises at once."""
    monkeypatch.delenv("SUITE_DATA_MIRROR", raising=False)

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (mocked)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(sources, "fetch_url", refuse)
    return suite_home


def _check_layout(ds):
    data = ds.data
    assert ds.task == TaskLevel.GRAPH and ds.num_classes == 2
    g = ds.num_graphs
    assert ds.y.shape == (g,) and ds.node_ptr[-1] == data.num_nodes and ds.edge_ptr[-1] == data.edge_index.size(1)
    assert data.batch.shape == (data.num_nodes,)
    assert torch.equal(torch.bincount(data.batch, minlength=g), ds.node_ptr.diff())
    edge_graph = torch.repeat_interleave(torch.arange(g), ds.edge_ptr.diff())
    assert torch.equal(data.batch[data.edge_index[0]], edge_graph)
    assert torch.equal(data.batch[data.edge_index[1]], edge_graph)
    assert not (data.edge_index[0] == data.edge_index[1]).any()
    ids = torch.cat([ds.splits[k] for k in ("train", "val", "test")])
    assert sorted(ids.tolist()) == list(range(g))
    for k in ("val", "test"):
        assert set(ds.explain_ids[k].tolist()) <= set(ds.splits[k].tolist())
    if ds.gt_node_mask is not None:
        assert ds.gt_node_mask.shape == (data.num_nodes,) and ds.gt_edge_mask.shape == (data.edge_index.size(1),)
        ends = data.edge_index[:, ds.gt_edge_mask]
        assert ds.gt_node_mask[ends].all()  # a ground-truth bond joins ground-truth atoms
        has_gt = torch.zeros(g, dtype=torch.bool).index_fill_(0, data.batch[ds.gt_node_mask], True)
        for k in ("val", "test"):
            assert torch.equal(ds.explain_ids[k], ds.splits[k][has_gt[ds.splits[k]]])


def _same(a, b):
    assert torch.equal(a.data.x, b.data.x) and torch.equal(a.data.edge_index, b.data.edge_index)
    assert torch.equal(a.y, b.y)
    assert all(torch.equal(a.splits[k], b.splits[k]) for k in a.splits)
    for key in ("gt_node_mask", "gt_edge_mask"):
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None and y is None) or torch.equal(x, y)


# --------------------------------------------------------------------------- metadata

@pytest.mark.parametrize("name", MOLECULE_DATASETS)
def test_metadata(name):
    info = dataset_info(name)
    assert info.family == "molecules" and info.task == TaskLevel.GRAPH
    assert info.citation and info.provenance and info.licence and info.description
    assert info.has_ground_truth == (name not in ("b3db", "ogbg-molhiv", "ogbg-molpcba"))


# --------------------------------------------------------------------------- mirror sets

def test_benzene_small_build(mirror, suite_home):
    ds = builders.benzene(seed=0, max_molecules=200)
    _check_layout(ds)
    assert ds.num_graphs == 200 and ds.data.feature_format == OGB_FORMAT
    assert ds.data.x.shape[1] == 9 and ds.data.edge_attr.shape == (ds.data.edge_index.size(1), 3)
    assert torch.equal(ds.y, ds.data.published_label)  # benzene's published labels follow the rule
    assert len(ds.data.smiles) == 200
    for g in range(0, 200, 37):  # the stored graph is RDKit's parse of the stored SMILES
        assert int(ds.node_ptr[g + 1] - ds.node_ptr[g]) == Chem.MolFromSmiles(ds.data.smiles[g]).GetNumAtoms()
    positives = ds.y.bool()
    counts = torch.zeros(200, dtype=torch.long).index_add_(0, ds.data.batch, ds.gt_node_mask.long())
    assert ((counts > 0) == positives).all() and (counts[positives] >= 6).all()
    _same(ds, builders.benzene(seed=0, max_molecules=200))
    assert builders.benzene(seed=1, max_molecules=200).data.smiles != ds.data.smiles  # the seed picks the subset


def test_benzene_matches_the_published_attributions(mirror):
    """The SMARTS ground truth equals the published atom attributions on every positive.

    Atoms: the union of the published alternatives equals the union of our ring
    matches on all 6,001 positives (no negative has any). Alternatives: the file
    lists each ring AND unions of rings (for two rings: A, B, A+B); every published
    alternative is a union of our matches and each of our matches is one of them.
    Bonds: ours mark a bond when both ends lie in ONE ring match, so the bonds that
    directly join two benzene rings (biphenyl-like, 47 molecules here) are not ground
    truth; in the published ring-union alternatives they are. Nothing else differs.
    """
    rows, _ = sources.read_molecule_table("benzene")
    path = sources.attribution_path("benzene")
    assert path is not None, "the mirror lacks benzene_true_attributions.npz"
    published = np.load(path, allow_pickle=True)["datadict_list"]  # trusted file (mirror README)
    assert len(published) == len(rows) == 12000
    rule = R.benzene_rule()
    positives = bridged = 0
    for (_, smiles, label), entry in zip(rows, published):
        mol = Chem.MolFromSmiles(smiles)
        record = entry[0]
        assert int(record["n_node"]) == mol.GetNumAtoms()
        bonds = {(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()}
        bonds |= {(j, i) for i, j in bonds}
        pairs = set(zip(record["senders"].tolist(), record["receivers"].tolist()))
        assert pairs == bonds  # the same atom order as RDKit's parse
        result = rule.evaluate(mol)
        assert result.label == label
        nodes = np.asarray(record["nodes"]) > 0
        theirs = {frozenset(np.flatnonzero(nodes[:, k]).tolist()) for k in range(nodes.shape[1])} - {frozenset()}
        ours = {frozenset(m) for m in result.matches}
        assert frozenset().union(*theirs) == frozenset().union(*ours)
        if not label:
            assert not theirs
            continue
        positives += 1
        assert ours <= theirs
        assert all(alt == frozenset().union(*[m for m in ours if m <= alt]) for alt in theirs)
        their_edges = {(i, j) for i, j in pairs if any(i in a and j in a for a in theirs)}
        our_edges = {(i, j) for i, j in pairs if any(i in m and j in m for m in ours)}
        extra = their_edges - our_edges
        assert our_edges <= their_edges
        assert all(not any(i in m and j in m for m in ours) for i, j in extra)  # only ring-to-ring bonds
        bridged += bool(extra)
    assert positives == 6001 and bridged == 47


def test_fluoride_and_alkane_small_builds(mirror, suite_home):
    for name, fn in (("fluoride-carbonyl", builders.fluoride_carbonyl), ("alkane-carbonyl", builders.alkane_carbonyl)):
        ds = fn(seed=0, max_molecules=150)
        _check_layout(ds)
        assert ds.num_graphs == 150 and 0 < int(ds.y.sum()) < 150
        # ground truth sits on positives only, and every positive has some
        counts = torch.zeros(150, dtype=torch.long).index_add_(0, ds.data.batch, ds.gt_node_mask.long())
        assert torch.equal(counts > 0, ds.y.bool())
        _same(ds, fn(seed=0, max_molecules=150))


def test_download_path_verifies_and_caches(mirror, monkeypatch, suite_home):
    raw = (mirror / "molecule-ground-truth" / "alkane_carbonyl.csv").read_bytes()
    monkeypatch.delenv("SUITE_DATA_MIRROR")
    calls = []
    monkeypatch.setattr(sources, "fetch_url", lambda url, timeout=0: calls.append(url) or raw)
    rows, note = sources.read_molecule_table("alkane-carbonyl")
    assert len(rows) == 4326 and note.startswith("downloaded")
    assert calls == [sources.GRAPHXAI_TABLES["alkane-carbonyl"].url]
    rows2, note2 = sources.read_molecule_table("alkane-carbonyl")
    assert rows2 == rows and note2.startswith("download cache") and len(calls) == 1


# --------------------------------------------------------------------------- offline

@pytest.mark.parametrize("name", ["benzene", "fluoride-carbonyl", "alkane-carbonyl"])
def test_mirror_dataset_offline_gives_a_one_line_reason(offline, name):
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(name, max_molecules=10)
    message = str(err.value)
    assert "\n" not in message and message.startswith(name)
    assert "SUITE_DATA_MIRROR" in message and "mocked" in message
    assert sources.GRAPHXAI_TABLES[name].url in message
    assert time.perf_counter() - start < 5


def test_download_with_a_wrong_checksum_is_refused(offline, monkeypatch):
    monkeypatch.setattr(sources, "fetch_url", lambda url, timeout=0: b"mol_id,smiles,label\nZ1,CCO,0\n")
    with pytest.raises(DatasetUnavailable, match="SHA-256") as err:
        sources.read_molecule_table("benzene")
    assert "\n" not in str(err.value)
    assert not (sources.download_dir() / "graphxai" / "benzene.csv").exists()


@pytest.mark.parametrize("name", ["ogbg-molhiv", "ogbg-molpcba"])
def test_ogb_offline_gives_a_one_line_reason_without_prompting(offline, monkeypatch, name):
    # a partial folder from an earlier failed attempt would make OGB prompt; it must be cleared
    partial = offline / "datasets" / "cache" / "ogb" / name.replace("-", "_") / "raw"
    partial.mkdir(parents=True)

    def no_prompt(*args, **kwargs):
        raise AssertionError("the loader prompted for input")

    monkeypatch.setattr("builtins.input", no_prompt)
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(name)
    message = str(err.value)
    assert "\n" not in message and message.startswith(name) and "mocked" in message
    assert time.perf_counter() - start < 10
    assert not partial.parent.exists()


def _fake_ogb_download(home, name: str, smiles: list[str], labels: list[list[str]], split: dict) -> None:
    """The folder OGB leaves after a download (raw CSVs, scaffold split, release file), made locally."""
    import gzip

    from ogb.utils import smiles2graph

    folder = home / "datasets" / "cache" / "ogb" / name.replace("-", "_")

    def write(path, rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt") as handle:
            handle.writelines(",".join(map(str, r)) + "\n" for r in rows)

    edges, edge_feat, node_feat, n_nodes, n_edges = [], [], [], [], []
    for s in smiles:  # OGB's raw files hold one direction per bond; its reader adds the reverse
        g = smiles2graph(s)
        edges += g["edge_index"][:, 0::2].T.tolist()
        edge_feat += g["edge_feat"][0::2].tolist()
        node_feat += g["node_feat"].tolist()
        n_nodes.append([g["num_nodes"]])
        n_edges.append([g["edge_index"].shape[1] // 2])
    raw = folder / "raw"
    write(raw / "edge.csv.gz", edges)
    write(raw / "edge-feat.csv.gz", edge_feat)
    write(raw / "node-feat.csv.gz", node_feat)
    write(raw / "num-node-list.csv.gz", n_nodes)
    write(raw / "num-edge-list.csv.gz", n_edges)
    write(raw / "graph-label.csv.gz", labels)
    for part, ids in split.items():
        write(folder / "split" / "scaffold" / f"{part}.csv.gz", [[i] for i in ids])
    (folder / "RELEASE_v1.txt").write_text("made by the test")


def test_ogb_loader_reads_a_downloaded_folder(offline):
    """The conversion of OGB's own dataset object, offline (a local stand-in for the download)."""
    from ogb.utils import smiles2graph

    smiles = ["CCO", "c1ccccc1N", "C", "CC(=O)F", "OCCN"]
    _fake_ogb_download(offline, "ogbg-molhiv", smiles, [[0], [1], [0], [1], [1]],
                       {"train": [0, 1, 2], "valid": [3], "test": [4]})
    ds = load_dataset("ogbg-molhiv")
    _check_layout(ds)
    assert ds.y.tolist() == [0, 1, 0, 1, 1] and ds.data.feature_format == OGB_FORMAT
    assert {k: v.tolist() for k, v in ds.splits.items()} == {"train": [0, 1, 2], "val": [3], "test": [4]}
    ref = [smiles2graph(s) for s in smiles]
    assert torch.equal(ds.data.x, torch.cat([torch.from_numpy(g["node_feat"]) for g in ref]).float())
    assert torch.equal(ds.data.edge_attr, torch.cat([torch.from_numpy(g["edge_feat"]) for g in ref]))
    for g, r in enumerate(ref):  # OGB's reverse edges interleave exactly as smiles2graph's
        e0, e1 = int(ds.edge_ptr[g]), int(ds.edge_ptr[g + 1])
        assert torch.equal(ds.data.edge_index[:, e0:e1] - ds.node_ptr[g], torch.from_numpy(r["edge_index"]))
    # molpcba-style multi-task labels: one assay, molecules without a measurement dropped
    _fake_ogb_download(offline, "ogbg-molpcba", smiles, [[0, "nan"], [1, 1], [0, "nan"], [1, 0], [1, 1]],
                       {"train": [0, 1, 2], "valid": [3], "test": [4]})
    pcba = load_dataset("ogbg-molpcba", task_index=1)
    assert pcba.y.tolist() == [1, 0, 1] and pcba.num_graphs == 3
    assert {k: v.tolist() for k, v in pcba.splits.items()} == {"train": [0], "val": [1], "test": [2]}
    assert pcba.node_ptr.diff().tolist() == [7, 4, 4]
    with pytest.raises(ValueError, match="task_index"):
        load_dataset("ogbg-molpcba", task_index=5)


def test_from_collated_matches_a_union_of_graphs():
    from ogb.utils import smiles2graph
    from torch_geometric.data import Data, InMemoryDataset

    smiles = ["CCO", "c1ccccc1N", "C", "CC(=O)F"]
    graphs = []
    for s in smiles:
        g = smiles2graph(s)
        graphs.append(Data(x=torch.from_numpy(g["node_feat"]), edge_index=torch.from_numpy(g["edge_index"]),
                           edge_attr=torch.from_numpy(g["edge_feat"]), y=torch.tensor([[1.0]])))
    store, slices = InMemoryDataset.collate(graphs)
    data, node_ptr, edge_ptr = builders.from_collated(store, slices, torch.tensor([1, 3]))
    assert node_ptr.tolist() == [0, 7, 11] and edge_ptr.tolist() == [0, 14, 20]
    assert torch.equal(data.x, torch.cat([graphs[1].x, graphs[3].x]).float())
    assert torch.equal(data.edge_index, torch.cat([graphs[1].edge_index, graphs[3].edge_index + 7], dim=1))
    assert torch.equal(data.edge_attr, torch.cat([graphs[1].edge_attr, graphs[3].edge_attr]))
    assert data.batch.tolist() == [0] * 7 + [1] * 4 and data.feature_format == OGB_FORMAT


# --------------------------------------------------------------------------- wheels

def test_mutag_from_the_grakel_wheel(suite_home):
    pytest.importorskip("grakel")
    ds = load_dataset("mutag")
    _check_layout(ds)
    assert ds.num_graphs == 188 and int(ds.y.sum()) == 125
    assert ds.data.x.shape == (3371, 7) and ds.data.edge_attr.shape == (7442, 4)
    assert getattr(ds.data, "feature_format", None) != OGB_FORMAT
    assert (ds.data.group_counts[:, 0] > 0).all()  # every molecule has a nitro group (weak ground truth)
    counts = torch.zeros(188, dtype=torch.long).index_add_(0, ds.data.batch, ds.gt_node_mask.long())
    assert torch.equal(counts > 0, ds.y.bool())
    nitrogen = ds.data.x[:, 1].bool()
    assert (ds.gt_node_mask & nitrogen).sum() >= 125
    _same(ds, builders.mutag(seed=0))


def test_b3db_from_the_wheel(suite_home):
    pytest.importorskip("B3DB")
    smiles, labels = builders.read_b3db()
    assert len(smiles) == 7807 and sum(labels) == 4956
    ds = builders.b3db(seed=0, max_molecules=120)
    _check_layout(ds)
    assert ds.gt_node_mask is None and ds.gt_edge_mask is None
    assert ds.num_graphs + ds.data.unparsed == 120 and ds.data.x.shape[1] == 9
    assert all(len(ds.explain_ids[k]) == len(ds.splits[k]) for k in ("val", "test"))
    _same(ds, builders.b3db(seed=0, max_molecules=120))


def test_mutagenic_alerts_small(suite_home):
    ds = builders.mutagenic_alerts(seed=0, pools="nci", max_per_pool=600)
    _check_layout(ds)
    assert int(ds.y.sum()) * 2 == ds.num_graphs  # balanced
    rule = R.mutagenic_alerts_rule()
    for g in range(ds.num_graphs):  # labels and ground truth re-derive from the stored SMILES
        result = rule.evaluate(Chem.MolFromSmiles(ds.data.smiles[g]))
        assert result.label == int(ds.y[g])
        n0, n1 = int(ds.node_ptr[g]), int(ds.node_ptr[g + 1])
        assert set(torch.nonzero(ds.gt_node_mask[n0:n1]).view(-1).tolist()) == {a for m in result.matches for a in m}
    _same(ds, builders.mutagenic_alerts(seed=0, pools="nci", max_per_pool=600))
    with pytest.raises(ValueError, match="pools"):
        builders.mutagenic_alerts(pools="nci+zinc")


def test_a_matrix_cell_without_mirror_or_network_is_skipped_with_the_reason(offline):
    from suite.core.paths import Paths
    from suite.execution.cell import run_cell
    from suite.matrix import CellStatus, expand, parse_matrix

    config = parse_matrix({"name": "offline", "seeds": [0], "datasets": {"benzene": {"max_molecules": 50}},
                           "models": {"gine": {}}, "explainers": {"random": {}}})
    cells, _ = expand(config)
    (cell,) = cells
    start = time.perf_counter()
    outcome = run_cell(cell, Paths(offline))
    assert outcome.status == CellStatus.SKIPPED
    assert outcome.error.startswith("benzene") and "\n" not in outcome.error and "mocked" in outcome.error
    assert time.perf_counter() - start < 5
