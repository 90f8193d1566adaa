"""Substructures that explanations point at: top atoms -> connected fragments -> canonical SMILES.

Pure functions on RDKit molecules and per-atom scores (no model, no training), used
by ``suite report chemistry`` (:mod:`suite_studies.chemistry.report`):

- :func:`atom_budget` / :func:`top_atoms`: a molecule's ``k`` highest-scored atoms,
  ``k = max(min_atoms, ceil(share * n_atoms))`` (capped at ``n_atoms``);
- :func:`connected_fragments`: the connected components of the subgraph those
  atoms induce (bonds with both ends chosen);
- :func:`fragment_smiles`: RDKit's canonical SMILES of one fragment
  (``Chem.MolFragmentToSmiles`` with exactly the fragment's atoms and bonds);
- :func:`group_matches` / :func:`groups_in`: which known functional groups (SMARTS,
  :data:`FUNCTIONAL_GROUPS`) lie wholly inside a fragment (one match of the group
  in the *whole* molecule whose atoms are all fragment atoms);
- :func:`rank_fragments`: fragments ranked by the share of molecules that have them;
- :func:`tu_mutag_mol`: an RDKit molecule from a TU MUTAG graph (nitro charges repaired);
- :func:`draw_grid`: molecules with atom and bond importance highlighted (PNG).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from suite.datasets.molecules import rules as R
from suite.datasets.molecules.builders import TU_ATOMS, TU_BONDS
from suite.datasets.molecules.rules import _pattern

#: Known functional groups the report looks for (name -> RDKit SMARTS, from the suite's rules).
FUNCTIONAL_GROUPS: dict[str, str] = {
    "benzene ring": R.BENZENE,
    "F": R.FLUORINE,
    "C=O": R.CARBONYL,
    "alkane chain": R.alkane_chain(2),
    "NO2": R.NITRO,
    "aromatic amine": R.AROMATIC_AMINE,
}


def atom_budget(n_atoms: int, share: float = 0.25, min_atoms: int = 3) -> int:
    """``min(n_atoms, max(min_atoms, ceil(share * n_atoms)))`` atoms to keep."""
    if not 0.0 < share <= 1.0:
        raise ValueError(f"top_share: expected a number in (0, 1] (got {share!r})")
    return int(min(n_atoms, max(min_atoms, math.ceil(share * n_atoms))))


def top_atoms(scores: Sequence[float] | np.ndarray, k: int) -> list[int]:
    """The ``k`` atoms of highest score, as sorted indices (ties: the lower index first)."""
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if np.isnan(scores).any():
        raise ValueError("atom scores contain NaN")
    order = sorted(range(scores.size), key=lambda i: (-scores[i], i))
    return sorted(order[:max(0, int(k))])


def _induced_bonds(mol: Any, atoms: Iterable[int]) -> list[int]:
    chosen = set(atoms)
    return [b.GetIdx() for b in mol.GetBonds()
            if b.GetBeginAtomIdx() in chosen and b.GetEndAtomIdx() in chosen]


def connected_fragments(mol: Any, atoms: Iterable[int]) -> list[tuple[int, ...]]:
    """Connected components (sorted atom tuples, by first atom) of the subgraph ``atoms`` induce."""
    chosen = sorted(set(int(a) for a in atoms))
    parent = {a: a for a in chosen}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for idx in _induced_bonds(mol, chosen):
        bond = mol.GetBondWithIdx(idx)
        ra, rb = find(bond.GetBeginAtomIdx()), find(bond.GetEndAtomIdx())
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for a in chosen:
        groups.setdefault(find(a), []).append(a)
    return sorted((tuple(g) for g in groups.values()), key=lambda g: g[0])


def fragment_smiles(mol: Any, atoms: Sequence[int]) -> str:
    """RDKit's canonical SMILES of the fragment made of ``atoms`` and the bonds among them.

    Aromatic atoms stay aromatic (lower case) even where the fragment cuts a ring,
    so ``c1ccccc1`` is a whole benzene ring and ``ccc`` three atoms of one.
    """
    from rdkit import Chem

    atoms = sorted(int(a) for a in atoms)
    bonds = _induced_bonds(mol, atoms)
    return Chem.MolFragmentToSmiles(mol, atomsToUse=atoms, bondsToUse=bonds or None,
                                    canonical=True, isomericSmiles=False)


def group_matches(mol: Any, groups: Mapping[str, str] = FUNCTIONAL_GROUPS) -> dict[str, list[frozenset[int]]]:
    """Every match (atom set) of every group's SMARTS in ``mol``."""

    return {name: [frozenset(m) for m in mol.GetSubstructMatches(_pattern(smarts), uniquify=True)]
            for name, smarts in groups.items()}


def groups_in(atoms: Iterable[int], matches: Mapping[str, list[frozenset[int]]]) -> set[str]:
    """The groups with at least one match lying wholly inside ``atoms``."""
    chosen = set(atoms)
    return {name for name, found in matches.items() if any(m <= chosen for m in found)}


@dataclass
class FragmentCount:
    """One canonical fragment over a set of molecules.

    Attributes:
        smiles: canonical SMILES.
        molecules: molecules in which it occurs (counted once per molecule).
        share: ``molecules / n`` (n: molecules analysed).
        groups: known groups lying inside at least one of its occurrences.
    """

    smiles: str
    molecules: int
    share: float
    groups: set[str] = field(default_factory=set)


def rank_fragments(per_molecule: Sequence[Sequence[tuple[str, set[str]]]]) -> list[FragmentCount]:
    """Fragments ranked by the number of molecules that have them (ties: SMILES order).

    Args:
        per_molecule: for each molecule, its fragments as ``(smiles, groups inside)``.
    """
    counts: Counter[str] = Counter()
    groups: dict[str, set[str]] = {}
    for fragments in per_molecule:
        for smiles in {s for s, _ in fragments}:
            counts[smiles] += 1
        for smiles, inside in fragments:
            groups.setdefault(smiles, set()).update(inside)
    n = max(1, len(per_molecule))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [FragmentCount(s, c, c / n, groups[s]) for s, c in ranked]


def group_shares(per_molecule: Sequence[Sequence[tuple[str, set[str]]]], names: Iterable[str]) -> dict[str, float]:
    """For each group: the share of molecules with the group inside one of their fragments."""
    n = max(1, len(per_molecule))
    return {g: sum(any(g in inside for _, inside in frags) for frags in per_molecule) / n for g in names}


def group_recall(per_molecule: Sequence[Sequence[tuple[str, set[str]]]],
                 present: Sequence[set[str]], names: Iterable[str]) -> dict[str, float]:
    """For each group: among the molecules that contain it (``present[i]``: the groups of
    molecule ``i``), the share with the group wholly inside one of their fragments (NaN
    when no molecule contains it). A random explainer's value is the chance level."""
    out = {}
    for g in names:
        having = [frags for frags, groups in zip(per_molecule, present) if g in groups]
        out[g] = (sum(any(g in inside for _, inside in frags) for frags in having) / len(having)
                  if having else math.nan)
    return out


# ----------------------------------------------------------------------------- MUTAG


def tu_mutag_mol(atoms: Sequence[int], edge_index: np.ndarray, bonds: Sequence[int]) -> Any:
    """An RDKit molecule from one TU MUTAG graph (atom labels index ``TU_ATOMS``, bond labels ``TU_BONDS``).

    TU MUTAG writes a nitro group as an N with two double-bonded O, which does not
    sanitise (N valence 5): every N with two terminal O neighbours becomes the
    charge-separated form ``[N+](=O)[O-]`` (one N=O becomes a single bond to O-).
    Aromatic bonds are set aromatic (their atoms too). Returns a sanitised molecule,
    or an unsanitised one (property cache updated leniently) when RDKit refuses it.
    """
    from rdkit import Chem


    types = {"aromatic": Chem.BondType.AROMATIC, "single": Chem.BondType.SINGLE,
             "double": Chem.BondType.DOUBLE, "triple": Chem.BondType.TRIPLE}
    rw = Chem.RWMol()
    for a in atoms:
        rw.AddAtom(Chem.Atom(TU_ATOMS[int(a)]))
    seen = set()
    for (u, v), b in zip(np.asarray(edge_index).T.tolist(), list(bonds)):
        key = (min(u, v), max(u, v))
        if u == v or key in seen:
            continue
        seen.add(key)
        kind = TU_BONDS[int(b)]
        rw.AddBond(key[0], key[1], types[kind])
        if kind == "aromatic":
            rw.GetBondWithIdx(rw.GetNumBonds() - 1).SetIsAromatic(True)
            rw.GetAtomWithIdx(key[0]).SetIsAromatic(True)
            rw.GetAtomWithIdx(key[1]).SetIsAromatic(True)
    for atom in rw.GetAtoms():
        if atom.GetSymbol() != "N":
            continue
        oxygens = [n for n in atom.GetNeighbors() if n.GetSymbol() == "O" and n.GetDegree() == 1]
        if len(oxygens) >= 2:
            atom.SetFormalCharge(1)
            bond = rw.GetBondBetweenAtoms(atom.GetIdx(), oxygens[1].GetIdx())
            bond.SetBondType(Chem.BondType.SINGLE)
            oxygens[1].SetFormalCharge(-1)
            rw.GetBondBetweenAtoms(atom.GetIdx(), oxygens[0].GetIdx()).SetBondType(Chem.BondType.DOUBLE)
    from rdkit.rdBase import BlockLogs

    mol = rw.GetMol()
    block = BlockLogs()  # RDKit's sanitisation complaints are not printed (the fallback below)
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit refuses some TU graphs (e.g. odd aromatic systems): draw them as they are
        mol.UpdatePropertyCache(strict=False)
        Chem.FastFindRings(mol)
    finally:
        del block
    return mol


# ----------------------------------------------------------------------------- drawing


def _colour(value: float) -> tuple[float, float, float]:
    """White (0) to red (1)."""
    v = float(min(1.0, max(0.0, value)))
    return (1.0, 1.0 - 0.85 * v, 1.0 - 0.85 * v)


def draw_grid(mols: Sequence[Any], atom_scores: Sequence[np.ndarray], bond_scores: Sequence[np.ndarray],
              legends: Sequence[str], path: str | Path, columns: int, panel: tuple[int, int] = (300, 260)
              ) -> Path:
    """PNG grid of molecules, atoms and bonds coloured white -> red by importance.

    Args:
        mols: RDKit molecules (one panel each, row-major).
        atom_scores: per molecule [n_atoms] scores scaled to [0, 1].
        bond_scores: per molecule [n_bonds] scores scaled to [0, 1] (RDKit bond order).
        legends: one caption per panel.
        columns: panels per row.
    """
    from rdkit.Chem import Draw
    from rdkit.Chem.Draw import rdMolDraw2D

    rows = max(1, math.ceil(len(mols) / columns))
    drawer = rdMolDraw2D.MolDraw2DCairo(columns * panel[0], rows * panel[1], panel[0], panel[1])
    options = drawer.drawOptions()
    options.legendFontSize = 14
    options.fillHighlights = True
    options.continuousHighlight = True
    prepared = [Draw.rdMolDraw2D.PrepareMolForDrawing(m, kekulize=False) for m in mols]
    atoms = [list(range(m.GetNumAtoms())) for m in mols]
    bonds = [list(range(m.GetNumBonds())) for m in mols]
    atom_cols = [{i: _colour(s[i]) for i in range(len(s))} for s in atom_scores]
    bond_cols = [{i: _colour(s[i]) for i in range(len(s))} for s in bond_scores]
    drawer.DrawMolecules(prepared, legends=list(legends), highlightAtoms=atoms, highlightBonds=bonds,
                         highlightAtomColors=atom_cols, highlightBondColors=bond_cols)
    drawer.FinishDrawing()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(drawer.GetDrawingText())
    return path


def bond_scores_from_edges(mol: Any, edge_index: np.ndarray, edge_scores: np.ndarray) -> np.ndarray:
    """[n_bonds] per RDKit bond: the max score of its directed edges (local ``edge_index`` [2, E])."""
    out = np.zeros(mol.GetNumBonds(), dtype=np.float64)
    for (u, v), s in zip(np.asarray(edge_index).T.tolist(), np.asarray(edge_scores).tolist()):
        bond = mol.GetBondBetweenAtoms(int(u), int(v))
        if bond is not None:
            out[bond.GetIdx()] = max(out[bond.GetIdx()], float(s))
    return out


__all__ = ["FUNCTIONAL_GROUPS", "FragmentCount", "atom_budget", "bond_scores_from_edges",
           "connected_fragments", "draw_grid", "fragment_smiles", "group_matches", "group_shares",
           "groups_in", "rank_fragments", "top_atoms", "tu_mutag_mol"]
