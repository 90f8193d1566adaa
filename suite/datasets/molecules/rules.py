"""Substructure rules (RDKit SMARTS) that label molecules and give their exact ground truth.

A :class:`SmartsRule` is a set of named groups, each a SMARTS pattern, combined
with ``all`` (label 1 iff every group matches) or ``any`` (label 1 iff at least
one group matches). On a positive molecule the ground truth is every match of
every group (the matched atoms; a bond is ground truth when both its ends lie in
one match); negatives have no ground truth. Matches are RDKit's
``GetSubstructMatches`` (unique atom sets, no limit on their number).

The rules of the suite:

- ``benzene``: ``c1ccccc1`` (a six-membered aromatic carbon ring).
- ``fluoride-carbonyl``: all of fluorine ``[F]`` and carbonyl ``[CX3]=[OX1]``;
  ground truth: the F atoms and the carbonyl C and O.
- ``alkane-carbonyl``: all of an unbranched alkane chain and a carbonyl
  ``[CX3]=[OX1]``. The chain is ``min_chain`` (default 2) bonded acyclic sp3
  carbons each carrying at least two hydrogens, ``[CH2,CH3;X4;!R]`` repeated
  (so no chain carbon is a branch point: an ethyl, a propyl, a -CH2-CH2- linker
  match; an isopropyl CH or a ring CH2 does not). Ground truth: every chain match
  (so the whole chain) and the carbonyl C and O.
- ``mutagenic-alerts``: any of the nitro group
  ``[$([NX3](=O)=O),$([NX3+](=O)[O-])](~[OX1])~[OX1]`` (N and both O) and the
  aromatic amine ``[NX3;H2,H1;!$(NC=O);!$(NS(=O)=O)]-c`` (a primary or secondary
  amine N, not an amide or sulfonamide N, and the aromatic carbon it sits on).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

BENZENE = "c1ccccc1"
FLUORINE = "[F]"
CARBONYL = "[CX3]=[OX1]"
ALKANE_UNIT = "[CH2,CH3;X4;!R]"
NITRO = "[$([NX3](=O)=O),$([NX3+](=O)[O-])](~[OX1])~[OX1]"
AROMATIC_AMINE = "[NX3;H2,H1;!$(NC=O);!$(NS(=O)=O)]-c"


def alkane_chain(min_chain: int = 2) -> str:
    """SMARTS of an unbranched chain of ``min_chain`` acyclic CH2/CH3 carbons."""
    if min_chain < 2:
        raise ValueError(f"min_chain: must be >= 2 (got {min_chain!r})")
    return ALKANE_UNIT * min_chain


@lru_cache(maxsize=None)
def _pattern(smarts: str):
    from rdkit import Chem

    pattern = Chem.MolFromSmarts(smarts)
    if pattern is None:
        raise ValueError(f"invalid SMARTS {smarts!r}")
    return pattern


@dataclass(frozen=True)
class RuleResult:
    """One molecule under a rule: its label, its ground-truth matches and per-group match counts."""

    label: int
    matches: tuple[tuple[int, ...], ...]
    counts: dict[str, int]


@dataclass(frozen=True)
class SmartsRule:
    """Named SMARTS groups combined by ``mode`` (``"all"`` or ``"any"``)."""

    name: str
    groups: tuple[tuple[str, str], ...]
    mode: str = "all"

    def __post_init__(self) -> None:
        if self.mode not in ("all", "any"):
            raise ValueError(f"mode: expected 'all' or 'any' (got {self.mode!r})")

    def evaluate(self, mol) -> RuleResult:
        """Label and ground-truth matches of an RDKit ``Mol`` (atom ids in RDKit order)."""
        found = {group: mol.GetSubstructMatches(_pattern(smarts), uniquify=True, maxMatches=100000)
                 for group, smarts in self.groups}
        hit = [bool(found[g]) for g, _ in self.groups]
        label = int(all(hit) if self.mode == "all" else any(hit))
        matches = tuple(tuple(m) for g, _ in self.groups for m in found[g]) if label else ()
        return RuleResult(label, matches, {g: len(found[g]) for g, _ in self.groups})

    def describe(self) -> str:
        joined = f" {'and' if self.mode == 'all' else 'or'} ".join(f"{g} {s}" for g, s in self.groups)
        return f"label 1 iff {joined}"


def benzene_rule() -> SmartsRule:
    return SmartsRule("benzene", (("benzene", BENZENE),))


def fluoride_carbonyl_rule() -> SmartsRule:
    return SmartsRule("fluoride-carbonyl", (("fluoride", FLUORINE), ("carbonyl", CARBONYL)))


def alkane_carbonyl_rule(min_chain: int = 2) -> SmartsRule:
    return SmartsRule("alkane-carbonyl", (("alkane", alkane_chain(min_chain)), ("carbonyl", CARBONYL)))


def mutagenic_alerts_rule() -> SmartsRule:
    return SmartsRule("mutagenic-alerts", (("nitro", NITRO), ("aromatic-amine", AROMATIC_AMINE)),
                      mode="any")
