"""Molecules in OGB graph format, assembled into the suite's disjoint-union layout.

Features are those of ``ogb.utils.smiles2graph`` (Hu et al., OGB, NeurIPS 2020):
9 integer atom features (atomic number - 1, chirality, degree, formal charge,
number of Hs, radical electrons, hybridisation, aromatic, in ring) and 3 integer
bond features (bond type, stereo, conjugated), computed with OGB's own
``atom_to_feature_vector`` / ``bond_to_feature_vector``. :func:`mol_to_graph`
applies them to an already parsed RDKit ``Mol`` so that the SMARTS matches of
the ground-truth rules and the graph share one parse: node ``i`` is RDKit atom
``i`` (the order ``smiles2graph`` keeps too; a test checks the two agree).

Storage (see :func:`assemble`):

- ``data.x`` [N, 9] **float32** holding the integer atom features: the suite's
  explainers and feature attacks perturb and differentiate ``x`` as floats. Models
  with OGB's embedding encoders (``suite.models.ogb``) read it back as integers
  (exact at integer values).
- ``data.edge_attr`` [E, 3] **long**: the bond features (never perturbed: the
  suite's attacks only remove edges when ``edge_attr`` exists).
- ``data.feature_format = "ogb"``: the marker ``suite.models.ogb`` checks to pick
  OGB's ``AtomEncoder``/``BondEncoder`` over a linear encoder.
- each bond is stored as two directed edges ``(i, j), (j, i)``, consecutive, in
  RDKit bond order; no self-loops; the edges of each molecule are contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

#: ``data.feature_format`` of datasets in OGB format (read by ``suite.models.ogb``).
OGB_FORMAT = "ogb"
NUM_ATOM_FEATURES = 9
NUM_BOND_FEATURES = 3


@dataclass
class MolGraph:
    """One molecule: ``node_feat`` [n, 9] int64, ``edge_index`` [2, e] int64, ``edge_feat`` [e, 3] int64."""

    node_feat: np.ndarray
    edge_index: np.ndarray
    edge_feat: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.node_feat.shape[0])


def mol_to_graph(mol) -> MolGraph:
    """An RDKit ``Mol`` -> OGB features, exactly as ``ogb.utils.smiles2graph`` builds them."""
    from ogb.utils.features import atom_to_feature_vector, bond_to_feature_vector

    node_feat = np.array([atom_to_feature_vector(a) for a in mol.GetAtoms()], dtype=np.int64)
    node_feat = node_feat.reshape(-1, NUM_ATOM_FEATURES)
    pairs, feats = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        f = bond_to_feature_vector(bond)
        pairs += [(i, j), (j, i)]
        feats += [f, f]
    edge_index = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    edge_feat = np.array(feats, dtype=np.int64).reshape(-1, NUM_BOND_FEATURES)
    return MolGraph(node_feat, np.ascontiguousarray(edge_index), edge_feat)


def match_masks(num_nodes: int, edge_index: np.ndarray,
                matches: Iterable[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth masks of one graph from substructure matches (tuples of local atom ids).

    Node mask [num_nodes]: atoms in any match. Edge mask [e]: both ends inside ONE
    match (so a bond joining two matched rings, as in biphenyl, is not ground truth).
    """
    node = np.zeros(num_nodes, dtype=bool)
    edge = np.zeros(edge_index.shape[1], dtype=bool)
    src, dst = edge_index
    for match in matches:
        inside = np.zeros(num_nodes, dtype=bool)
        inside[list(match)] = True
        node |= inside
        edge |= inside[src] & inside[dst]
    return node, edge


@dataclass
class Assembled:
    """Tensors of a disjoint union of graphs (see :func:`assemble`)."""

    data: Data
    node_ptr: Tensor
    edge_ptr: Tensor
    gt_node_mask: Tensor | None
    gt_edge_mask: Tensor | None


def assemble(x_parts: Sequence[np.ndarray], edge_parts: Sequence[np.ndarray],
             attr_parts: Sequence[np.ndarray] | None,
             gt_parts: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
             feature_format: str | None = OGB_FORMAT, x_dtype: torch.dtype = torch.float32,
             attr_dtype: torch.dtype = torch.long) -> Assembled:
    """Concatenate per-graph arrays into one ``Data`` (local edge ids shifted to global).

    Args:
        x_parts: per graph [n_g, F] node features.
        edge_parts: per graph [2, e_g] local edge index.
        attr_parts: per graph [e_g, D] edge features, or None.
        gt_parts: per graph (node mask [n_g], edge mask [e_g]) or None (no ground truth).
        feature_format: stored as ``data.feature_format`` when not None.
    """
    num_nodes = np.array([p.shape[0] for p in x_parts], dtype=np.int64)
    num_edges = np.array([p.shape[1] for p in edge_parts], dtype=np.int64)
    node_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(num_nodes)]))
    edge_ptr = torch.from_numpy(np.concatenate([[0], np.cumsum(num_edges)]))
    num_graphs = len(x_parts)
    width = x_parts[0].shape[1] if num_graphs else 0
    x = torch.from_numpy(np.concatenate(x_parts) if num_graphs else np.zeros((0, width))).to(x_dtype)
    offsets = np.repeat(node_ptr[:-1].numpy(), num_edges)
    local = np.concatenate(edge_parts, axis=1) if num_graphs else np.zeros((2, 0), dtype=np.int64)
    edge_index = torch.from_numpy(local + offsets[None, :]).long()
    batch = torch.repeat_interleave(torch.arange(num_graphs), torch.from_numpy(num_nodes))
    data = Data(x=x, edge_index=edge_index, batch=batch, num_nodes=int(node_ptr[-1]))
    if attr_parts is not None:
        data.edge_attr = torch.from_numpy(np.concatenate(attr_parts)).to(attr_dtype)
    if feature_format is not None:
        data.feature_format = feature_format
    gt_node = gt_edge = None
    if gt_parts is not None:
        gt_node = torch.from_numpy(np.concatenate([n for n, _ in gt_parts])).bool()
        gt_edge = torch.from_numpy(np.concatenate([e for _, e in gt_parts])).bool()
    return Assembled(data, node_ptr, edge_ptr, gt_node, gt_edge)
