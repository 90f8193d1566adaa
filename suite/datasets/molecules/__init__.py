"""Molecule datasets: real molecules in OGB graph format with SMARTS ground truth.

Importing this package registers ``benzene``, ``fluoride-carbonyl``,
``alkane-carbonyl``, ``mutag``, ``b3db``, ``mutagenic-alerts``, ``ogbg-molhiv`` and
``ogbg-molpcba`` (see :mod:`suite.datasets.molecules.builders`).
"""

from suite.datasets.molecules import builders  # noqa: F401  (registers the datasets)
from suite.datasets.molecules.ogb_format import OGB_FORMAT, mol_to_graph
from suite.datasets.molecules.rules import SmartsRule

__all__ = ["OGB_FORMAT", "SmartsRule", "mol_to_graph"]
