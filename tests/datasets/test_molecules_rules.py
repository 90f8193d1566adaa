"""SMARTS ground truth on hand-written molecules, OGB format, MUTAG groups, scaffold split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("rdkit")
from rdkit import Chem  # noqa: E402

from suite.datasets.molecules import rules as R  # noqa: E402
from suite.datasets.molecules.builders import TU_ATOMS, TU_BONDS, mutag_groups, scaffold_split  # noqa: E402
from suite.datasets.molecules.ogb_format import OGB_FORMAT, assemble, match_masks, mol_to_graph  # noqa: E402


def _gt_atoms(rule: R.SmartsRule, smiles: str) -> tuple[int, set[int]]:
    result = rule.evaluate(Chem.MolFromSmiles(smiles))
    return result.label, {a for m in result.matches for a in m}


# --------------------------------------------------------------------------- rules

@pytest.mark.parametrize("smiles, label, atoms", [
    ("Cc1ccccc1", 1, {1, 2, 3, 4, 5, 6}),        # toluene: the ring, not the methyl
    ("C1CCCCC1", 0, set()),                      # cyclohexane: no aromatic ring
    ("c1ccncc1", 0, set()),                      # pyridine: a ring N is not benzene
    ("OCc1ccccc1", 1, {2, 3, 4, 5, 6, 7}),
])
def test_benzene_rule(smiles, label, atoms):
    assert _gt_atoms(R.benzene_rule(), smiles) == (label, atoms)


def test_benzene_edges_stay_inside_one_ring():
    mol = Chem.MolFromSmiles("c1ccc(cc1)-c1ccccc1")  # biphenyl: atoms 3 and 6 join the rings
    result = R.benzene_rule().evaluate(mol)
    assert result.label == 1 and len(result.matches) == 2
    graph = mol_to_graph(mol)
    node, edge = match_masks(graph.num_nodes, graph.edge_index, result.matches)
    assert node.all()
    src, dst = graph.edge_index
    bridge = ((src == 3) & (dst == 6)) | ((src == 6) & (dst == 3))
    assert bridge.sum() == 2 and not edge[bridge].any()
    assert edge[~bridge].all() and edge.sum() == 24  # 12 ring bonds, both directions


@pytest.mark.parametrize("smiles, label, atoms", [
    ("CC(=O)CF", 1, {1, 2, 4}),                  # F plus carbonyl C and O
    ("FC(F)CC(=O)O", 1, {0, 2, 4, 5}),           # every F; the acid's C=O (not its OH)
    ("CCF", 0, set()),                           # fluorine only
    ("CC(=O)C", 0, set()),                       # carbonyl only
    ("CCO", 0, set()),
])
def test_fluoride_carbonyl_rule(smiles, label, atoms):
    assert _gt_atoms(R.fluoride_carbonyl_rule(), smiles) == (label, atoms)


@pytest.mark.parametrize("smiles, label, atoms", [
    ("CCCC(=O)c1ccccc1", 1, {0, 1, 2, 3, 4}),    # propyl chain + carbonyl
    ("CC(C)C(=O)c1ccccc1", 0, set()),            # isopropyl: branched, no CH2/CH3 pair
    ("C1CCCC1C(=O)C", 0, set()),                 # ring CH2s are not an alkane chain
    ("CCCCO", 0, set()),                         # chain without carbonyl
])
def test_alkane_carbonyl_rule(smiles, label, atoms):
    assert _gt_atoms(R.alkane_carbonyl_rule(2), smiles) == (label, atoms)


def test_alkane_chain_length_is_a_parameter():
    assert _gt_atoms(R.alkane_carbonyl_rule(4), "CCCC(=O)c1ccccc1")[0] == 0  # only 3 chain carbons
    assert _gt_atoms(R.alkane_carbonyl_rule(3), "CCCC(=O)c1ccccc1")[0] == 1
    with pytest.raises(ValueError, match="min_chain"):
        R.alkane_chain(1)


@pytest.mark.parametrize("smiles, label, atoms", [
    ("[O-][N+](=O)c1ccccc1", 1, {0, 1, 2}),      # nitrobenzene: N and both O
    ("Nc1ccccc1", 1, {0, 1}),                    # aniline: N and its aromatic C
    ("CNc1ccccc1", 1, {1, 2}),                   # secondary aromatic amine
    ("CC(=O)Nc1ccccc1", 0, set()),               # acetanilide: an amide N is no alert
    ("NS(=O)(=O)c1ccccc1", 0, set()),            # sulfonamide N is not on the ring
    ("NCc1ccccc1", 0, set()),                    # benzylamine: N not on an aromatic C
    ("c1ccccc1", 0, set()),
])
def test_mutagenic_alert_rule(smiles, label, atoms):
    assert _gt_atoms(R.mutagenic_alerts_rule(), smiles) == (label, atoms)


def test_rule_validation_and_description():
    with pytest.raises(ValueError, match="mode"):
        R.SmartsRule("x", (("a", "C"),), mode="some")
    assert "c1ccccc1" in R.benzene_rule().describe()
    assert " or " in R.mutagenic_alerts_rule().describe()


# --------------------------------------------------------------------------- OGB format

@pytest.mark.parametrize("smiles", ["CC(=O)Nc1ccccc1F", "[O-][N+](=O)c1ccc(N)cc1", "C[C@H](O)C#N", "[Na+].[Cl-]"])
def test_mol_to_graph_equals_ogb_smiles2graph(smiles):
    from ogb.utils import smiles2graph

    ref = smiles2graph(smiles)
    ours = mol_to_graph(Chem.MolFromSmiles(smiles))
    assert np.array_equal(ours.node_feat, ref["node_feat"])
    assert np.array_equal(ours.edge_index, ref["edge_index"].reshape(2, -1))
    assert np.array_equal(ours.edge_feat, ref["edge_feat"].reshape(-1, 3))
    assert ours.node_feat.shape == (Chem.MolFromSmiles(smiles).GetNumAtoms(), 9)


def test_assemble_layout():
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1", "C")]
    graphs = [mol_to_graph(m) for m in mols]
    gts = [match_masks(g.num_nodes, g.edge_index, R.benzene_rule().evaluate(m).matches)
           for g, m in zip(graphs, mols)]
    out = assemble([g.node_feat for g in graphs], [g.edge_index for g in graphs],
                   [g.edge_feat for g in graphs], gts)
    data = out.data
    assert out.node_ptr.tolist() == [0, 3, 9, 10] and out.edge_ptr.tolist() == [0, 4, 16, 16]
    assert data.x.dtype == torch.float32 and data.x.shape == (10, 9)
    assert data.edge_attr.dtype == torch.long and data.edge_attr.shape == (16, 3)
    assert data.feature_format == OGB_FORMAT
    assert data.batch.tolist() == [0, 0, 0] + [1] * 6 + [2]
    for g in range(3):  # every edge stays inside its graph
        e0, e1 = out.edge_ptr[g], out.edge_ptr[g + 1]
        ei = data.edge_index[:, e0:e1]
        assert ((ei >= out.node_ptr[g]) & (ei < out.node_ptr[g + 1])).all()
    assert out.gt_node_mask.tolist() == [False] * 3 + [True] * 6 + [False]
    assert out.gt_edge_mask[4:16].all() and not out.gt_edge_mask[:4].any()


# --------------------------------------------------------------------------- MUTAG groups

def _tu_graph(atoms: list[str], bonds: list[tuple[int, int, str]]):
    a = np.array([TU_ATOMS.index(s) for s in atoms])
    pairs, labels = [], []
    for u, v, b in bonds:
        pairs += [(u, v), (v, u)]
        labels += [TU_BONDS.index(b)] * 2
    return a, np.array(pairs).T, np.array(labels)


def test_mutag_groups_nitro_and_amine():
    # 4-nitroaniline as TU labels: ring 0-5 (aromatic), N6(O7)(O8) on 0, N9 on 3
    ring = [(i, (i + 1) % 6, "aromatic") for i in range(6)]
    atoms, ei, bonds = _tu_graph(["C"] * 6 + ["N", "O", "O", "N"],
                                 ring + [(0, 6, "single"), (6, 7, "double"), (6, 8, "single"),
                                         (3, 9, "single")])
    groups = mutag_groups(atoms, ei, bonds)
    assert sorted(groups) == [(6, 7, 8), (9, 3)]
    node, edge = match_masks(10, ei, groups)
    assert np.flatnonzero(node).tolist() == [3, 6, 7, 8, 9]
    src, dst = ei
    marked = {(int(u), int(v)) for u, v, m in zip(src, dst, edge) if m}
    assert marked == {(6, 7), (7, 6), (6, 8), (8, 6), (3, 9), (9, 3)}


def test_mutag_groups_ignore_ring_and_double_bonded_nitrogen():
    # pyridine-like ring N (degree 2) and a terminal imine N (double bond): no group
    ring = [(i, (i + 1) % 6, "aromatic") for i in range(6)]
    atoms, ei, bonds = _tu_graph(["N"] + ["C"] * 5 + ["N"], ring + [(2, 6, "double")])
    assert mutag_groups(atoms, ei, bonds) == []


# --------------------------------------------------------------------------- scaffold split

def test_scaffold_split_keeps_scaffolds_apart():
    smiles = (["c1ccccc1C"] * 6 + ["c1ccncc1C"] * 2 + ["C1CCCCC1O"] + ["CCO"]
              + ["c1ccc2ccccc2c1"] + ["C1CC1N"])
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    splits = scaffold_split(mols)
    ids = torch.cat(list(splits.values()))
    assert sorted(ids.tolist()) == list(range(len(smiles)))
    from rdkit.Chem.Scaffolds import MurckoScaffold

    scaffold = [MurckoScaffold.MurckoScaffoldSmiles(mol=m) for m in mols]
    owner = {}
    for name, part in splits.items():
        for i in part.tolist():
            assert owner.setdefault(scaffold[i], name) == name
    assert set(splits["train"].tolist()) >= set(range(6))  # the largest scaffold group goes to train
    again = scaffold_split(mols)
    assert all(torch.equal(splits[k], again[k]) for k in splits)
