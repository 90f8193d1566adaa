"""`suite report chemistry`: fragment extraction on hand-written molecules, the MUTAG
conversion, and a tiny end-to-end run on MUTAG (from the grakel wheel, no mirror needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rdkit")
from rdkit import Chem  # noqa: E402
from suite_studies.chemistry.fragments import (  # noqa: E402
    atom_budget,
    connected_fragments,
    fragment_smiles,
    group_matches,
    groups_in,
    rank_fragments,
    top_atoms,
    tu_mutag_mol,
)
from suite_studies.chemistry.report import (  # noqa: E402
    ChemistryConfig,
    molecule_fragments,
    run_chemistry,
    training_settings,
    write_report,
)

from suite.reports import REPORTS  # noqa: E402

# 4'-fluoroacetanilide: atoms 0 O, 1 C(=O), 2 N, 3-6 and 8-9 ring c, 7 F (on c 6), 10 CH3
ACETANILIDE = "O=C(Nc1ccc(F)cc1)C"


def test_budget_and_top_atoms():
    assert atom_budget(20) == 5 and atom_budget(4) == 3 and atom_budget(2) == 2
    assert atom_budget(10, share=0.5, min_atoms=1) == 5
    assert top_atoms([0.1, 0.9, 0.9, 0.5], 2) == [1, 2]
    assert top_atoms([0.3, 0.3, 0.3], 2) == [0, 1]  # ties: lower index first
    with pytest.raises(ValueError, match="top_share"):
        atom_budget(5, share=0.0)


def test_fragments_are_the_connected_parts_with_canonical_smiles():
    mol = Chem.MolFromSmiles(ACETANILIDE)
    assert [mol.GetAtomWithIdx(i).GetSymbol() for i in (0, 1, 2, 7, 10)] == ["O", "C", "N", "F", "C"]
    # carbonyl O, C and the F with its ring carbon: two fragments
    frags = connected_fragments(mol, [0, 1, 7, 6])
    assert frags == [(0, 1), (6, 7)]
    assert fragment_smiles(mol, (0, 1)) == Chem.CanonSmiles("C=O")
    assert fragment_smiles(mol, (6, 7)) == "cF"
    # the six ring atoms give the whole ring
    ring = next(m for m in mol.GetSubstructMatches(Chem.MolFromSmarts("c1ccccc1")))
    assert fragment_smiles(mol, ring) == "c1ccccc1"
    # same fragment written from another molecule -> the same canonical string
    other = Chem.MolFromSmiles("Fc1ccccc1")
    assert fragment_smiles(other, (0, 1)) == "cF"


def test_groups_inside_a_fragment_need_a_whole_match():
    mol = Chem.MolFromSmiles(ACETANILIDE)
    matches = group_matches(mol)
    assert groups_in((0, 1), matches) == {"C=O"}
    assert groups_in((0,), matches) == set()  # O alone is not a carbonyl
    assert groups_in((6, 7), matches) == {"F"}
    ring = next(m for m in mol.GetSubstructMatches(Chem.MolFromSmarts("c1ccccc1")))
    assert "benzene ring" in groups_in(ring, matches)
    assert "benzene ring" not in groups_in(ring[:5], matches)
    nitro = Chem.MolFromSmiles("[O-][N+](=O)c1ccc(N)cc1")
    found = group_matches(nitro)
    assert groups_in((0, 1, 2), found) == {"NO2"}
    assert groups_in((6, 7), found) == {"aromatic amine"}


def test_molecule_fragments_follow_the_scores():
    mol = Chem.MolFromSmiles(ACETANILIDE)
    scores = np.zeros(mol.GetNumAtoms())
    scores[[0, 1, 7]] = [1.0, 0.9, 0.8]
    frags = molecule_fragments(mol, scores, share=0.1, min_atoms=3)
    assert sorted(frags, key=lambda f: f[0]) == sorted([(Chem.CanonSmiles("C=O"), {"C=O"}), ("F", {"F"})])


def test_rank_fragments_counts_each_molecule_once():
    per_molecule = [[("C=O", {"C=O"}), ("C=O", {"C=O"}), ("F", {"F"})],
                    [("F", {"F"})],
                    [("F", set()), ("c1ccccc1", {"benzene ring"})]]
    ranked = rank_fragments(per_molecule)
    assert [(f.smiles, f.molecules) for f in ranked] == [("F", 3), ("C=O", 1), ("c1ccccc1", 1)]
    assert ranked[0].share == pytest.approx(1.0) and ranked[0].groups == {"F"}


def test_tu_mutag_nitro_group_sanitises():
    # nitrobenzene as TU labels: ring C (0-5, aromatic), N 6, O 7, O 8 (both 'double' in TU)
    atoms = [0] * 6 + [1, 2, 2]
    pairs = [(i, (i + 1) % 6, 0) for i in range(6)] + [(0, 6, 1), (6, 7, 2), (6, 8, 2)]
    edge_index = np.array([[u for u, v, _ in pairs] + [v for u, v, _ in pairs],
                           [v for u, v, _ in pairs] + [u for u, v, _ in pairs]])
    bonds = [b for *_, b in pairs] * 2
    mol = tu_mutag_mol(atoms, edge_index, bonds)
    assert Chem.MolToSmiles(mol) == Chem.CanonSmiles("O=[N+]([O-])c1ccccc1")
    assert "NO2" in groups_in((6, 7, 8), group_matches(mol))


def test_chemistry_report_is_registered():
    assert "chemistry" in REPORTS.names()


def test_tiny_run_on_mutag_writes_markdown_and_a_png(suite_home, tmp_path):
    trainings = training_settings(2)
    config = ChemistryConfig(datasets={"mutag": {}},
                             trainings={k: trainings[k] for k in ("standard", "adv-structure")},
                             explainers={"saliency": {}}, max_test=8, draw=1)
    report = run_chemistry(config, out_dir=tmp_path)
    files = write_report(report, tmp_path)
    text = files[0].read_text()
    assert "## mutag" in text and "NO2: top 5?" in text and "| saliency | adv-structure |" in text
    (ds,) = report.datasets
    assert set(ds.accuracy) == {"standard", "adv-structure"}
    assert all(not c.error and c.n > 0 and c.fragments for c in ds.cells)
    assert all(set(c.recall) == {"NO2", "aromatic amine"} for c in ds.cells)
    assert set(ds.below) == {"standard", "adv-structure"}  # two epochs: below the floor
    assert all(ds.below.values())
    png = files[1].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_quick_report_from_the_command_line(suite_home, tmp_path, capsys):
    """`suite report chemistry --quick`: benzene from the mirror, or a one-line skip without it."""
    from suite.cli import main
    from suite.core.paths import data_mirror

    out = tmp_path / "chemistry"
    assert main(["report", "chemistry", "--quick", "--out", str(out)]) == 0
    text = (out / "quick" / "chemistry.md").read_text()
    assert "## benzene" in text and "## Claims" in text
    if data_mirror() is None:
        assert "Skipped: benzene" in text
        return
    assert "benzene ring: recall" in text and "seeds 0, 1" in text
    for training in ("standard", "adv-features", "adv-structure"):
        assert f"| saliency | {training} |" in text
    assert (out / "quick" / "seeds" / "seed-1.json").is_file()
    png = (out / "quick" / "chemistry-benzene.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
