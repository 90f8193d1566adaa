"""``suite report chemistry``: which substructures do explanations of molecule models point at?

For each molecule dataset, training mode (``standard``, ``adv-features``,
``adv-structure``) and explainer: train (or load) a GINE with OGB encoders, explain
the test molecules, and for each molecule

1. take its top-attributed atoms (:func:`~suite_studies.chemistry.fragments.atom_budget`:
   ``k = max(3, ceil(0.25 * n_atoms))``; atom scores are the explainer's node scores,
   else each atom's max incident-bond score, ``|score|`` for signed methods),
2. split them into the connected fragments they induce,
3. canonicalise each fragment (RDKit ``MolFragmentToSmiles``),

then rank fragments by the share of test molecules that have them. A known
functional group counts as *among the top 5* when it lies wholly inside (one
SMARTS match of the group in the molecule, all of whose atoms are fragment atoms)
an occurrence of one of the 5 most frequent fragments. The share of molecules whose
fragments contain the group is reported beside it (a rank-free view).

Drawings: for a few test molecules with ground truth, atom and bond importance
(white -> red, min-max scaled within each panel) of every explainer, one column per
training mode (standard vs adversarially trained side by side), one PNG per dataset.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from suite.core.paths import Paths
from suite.core.seeding import seed_everything
from suite.datasets import load_dataset
from suite.datasets.base import DatasetUnavailable
from suite.execution.cell import error_text
from suite.explainers.base import build_explainer
from suite.metrics.auc import attribution_scores
from suite.protocol import fit_instances, floor_for, model_quality, select_instances
from suite.training import ModelCache, train_or_load
from suite_studies.chemistry.fragments import (
    FUNCTIONAL_GROUPS,
    FragmentCount,
    atom_budget,
    bond_scores_from_edges,
    connected_fragments,
    draw_grid,
    fragment_smiles,
    group_matches,
    group_recall,
    group_shares,
    groups_in,
    rank_fragments,
    top_atoms,
    tu_mutag_mol,
)

#: Known groups of each dataset (the rule's groups; b3db has none, all are listed for information).
DATASET_GROUPS: dict[str, tuple[str, ...]] = {
    "benzene": ("benzene ring",),
    "fluoride-carbonyl": ("F", "C=O"),
    "alkane-carbonyl": ("alkane chain", "C=O"),
    "mutagenic-alerts": ("NO2", "aromatic amine"),
    "mutag": ("NO2", "aromatic amine"),
    "b3db": (),
}

TRAININGS: tuple[str, ...] = ("standard", "adv-features", "adv-structure")
EXPLAINERS: tuple[str, ...] = ("saliency", "integrated-gradients", "gnnexplainer", "random")

#: Training settings shared by the modes (graph level, mini-batches of 64). Adversarial
#: modes: the adversarial preset's graph-level settings (L-inf PGD epsilon 0.05 on the
#: OGB integer atom features, read by the piecewise-linear encoder lookup; removal-only
#: PGD topology attack with a 5% budget, bonds carry features).
_BASE_TRAINING: dict[str, Any] = {"lr": 0.001, "batch_size": 64, "patience": 10}
_ADV: dict[str, dict[str, Any]] = {
    "standard": {},
    "adv-features": {"norm": "linf", "steps": 10, "mix": 0.0, "epsilon": 0.05},
    "adv-structure": {"budget_share": 0.05, "mix": 0.0, "removal_only": True},
}


def training_settings(epochs: int) -> dict[str, dict[str, Any]]:
    """``standard`` / ``adv-features`` / ``adv-structure`` configs with ``epochs``."""
    return {name: dict(_BASE_TRAINING, epochs=epochs, **extra) for name, extra in _ADV.items()}


@dataclass
class ChemistryConfig:
    """What the report trains and explains.

    Attributes:
        seed: dataset, training and explainer seed.
        datasets: dataset -> parameters (molecule subsets).
        model, model_params: the explained model.
        trainings: training mode -> settings.
        explainers: explainer -> hyper-parameters.
        max_test: explained test molecules per dataset (a seeded subset).
        top_share, min_atoms: the top-atom budget.
        draw: molecules drawn per dataset.
    """

    seed: int = 0
    datasets: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "benzene": {"max_molecules": 1000}, "fluoride-carbonyl": {"max_molecules": 600},
        "mutagenic-alerts": {"max_molecules": 600}, "mutag": {}})
    model: str = "gine"
    model_params: dict[str, Any] = field(default_factory=dict)
    # standard vs adv-features by default: adv-structure (a PGD topology attack on every
    # training batch) took over 20 min to train on 1,000 benzene molecules on a shared 2-core
    # machine; pass trainings=training_settings(20) for all three modes
    trainings: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        k: v for k, v in training_settings(20).items() if k != "adv-structure"})
    explainers: dict[str, dict[str, Any]] = field(default_factory=lambda: {e: {} for e in EXPLAINERS})
    max_test: int = 100
    top_share: float = 0.25
    min_atoms: int = 3
    draw: int = 2

    @classmethod
    def quick(cls, seed: int = 0) -> "ChemistryConfig":
        """Benzene (200 molecules; skipped with its reason without the mirror), 3 epochs, saliency
        and random, all three training modes: about 20 s of CPU, for tests and a first look."""
        return cls(seed=seed, datasets={"benzene": {"max_molecules": 200}},
                   trainings=training_settings(3),
                   explainers={"saliency": {}, "random": {}}, max_test=20, draw=1)


@dataclass
class CellResult:
    """One (dataset, training, explainer): the ranked fragments and group verdicts."""

    dataset: str
    training: str
    explainer: str
    n: int = 0
    fragments: list[FragmentCount] = field(default_factory=list)
    group_share: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    error: str = ""

    def top(self, k: int = 5) -> list[FragmentCount]:
        return self.fragments[:k]

    def in_top(self, group: str, k: int = 5) -> bool:
        return any(group in f.groups for f in self.top(k))


@dataclass
class DatasetResult:
    name: str
    groups: tuple[str, ...]
    accuracy: dict[str, float] = field(default_factory=dict)  # training -> test accuracy
    below: dict[str, str] = field(default_factory=dict)  # training -> why below its floor ('')
    cells: list[CellResult] = field(default_factory=list)
    figure: str = ""
    error: str = ""


@dataclass
class ChemistryReport:
    config: ChemistryConfig
    datasets: list[DatasetResult]
    seconds: float = 0.0

    def markdown(self) -> str:
        c = self.config
        lines = [
            "# Chemistry insight (`suite report chemistry`)",
            "",
            f"Model `{c.model}` (OGB atom and bond encoders) trained per dataset and mode "
            f"(seed {c.seed}); up to {c.max_test} test molecules explained. Per molecule: the "
            f"top max({c.min_atoms}, ceil({c.top_share} x atoms)) atoms by importance, split into "
            "the connected fragments they induce, canonical SMILES (RDKit). Fragments ranked by "
            "the share of molecules that have them. A known group is *in the top 5* when it "
            "lies wholly inside an occurrence of one of the 5 most frequent fragments; *share* "
            "is the share of molecules whose fragments contain it.",
            "",
        ]
        for ds in self.datasets:
            lines += [f"## {ds.name}", ""]
            if ds.error:
                lines += [f"Skipped: {ds.error}", ""]
                continue
            acc = ", ".join(f"{t} {a:.3f}" for t, a in ds.accuracy.items())
            lines += [f"Model test accuracy: {acc}.", ""]
            groups = ds.groups or tuple(FUNCTIONAL_GROUPS)
            note = "" if ds.groups else " (no ground truth: every group listed for information)"
            lines += [f"Known groups{note}: {', '.join(groups)}.", ""]
            header = "| explainer | training | n | top-5 fragments (share) | " + " | ".join(
                f"{g}: top 5? (share)" for g in groups) + " |"
            lines += [header, "|" + "---|" * (4 + len(groups))]
            for cell in ds.cells:
                if cell.error:
                    lines.append(f"| {cell.explainer} | {cell.training} | - | failed: {cell.error} |"
                                 + " |" * len(groups))
                    continue
                frags = "<br>".join(f"`{f.smiles}` {f.share:.0%}" for f in cell.top())
                verdicts = " | ".join(
                    f"{'yes' if cell.in_top(g) else 'no'} ({cell.group_share.get(g, math.nan):.0%})"
                    for g in groups)
                lines.append(f"| {cell.explainer} | {cell.training} | {cell.n} | {frags} | {verdicts} |")
            lines += [""]
            lines += [f"- {s}" for s in self.findings(ds)]
            if ds.figure:
                lines += ["", f"![{ds.name}]({ds.figure})", "",
                          "Atom and bond importance (white = lowest, red = highest, min-max scaled per panel); columns: "
                          f"{', '.join(c.trainings)}."]
            lines += [""]
        lines += [f"Generated in {self.seconds:.0f} s.", ""]
        return "\n".join(lines)

    def findings(self, ds: DatasetResult) -> list[str]:
        """Per known group and training: which explainers put it among the top-5 fragments."""
        out = []
        real = [c for c in ds.cells if not c.error and c.explainer != "random"]
        for group in ds.groups:
            for training in self.config.trainings:
                cells = [c for c in real if c.training == training]
                if not cells:
                    continue
                hits = [c.explainer for c in cells if c.in_top(group)]
                out.append(f"{group}, {training}: among the top-5 fragments for "
                           f"{len(hits)}/{len(cells)} explainers"
                           + (f" ({', '.join(hits)})" if hits else "") + ".")
        if not ds.groups:
            out.append("No ground truth: the fragments show what the explanations use, not "
                       "whether it is right.")
        return out


# ------------------------------------------------------------------------------ molecules


def dataset_molecules(dataset: Any) -> list[Any]:
    """RDKit molecules of every graph, in graph order (SMILES, or the TU graphs of MUTAG)."""
    from rdkit import Chem

    smiles = getattr(dataset.data, "smiles", None)
    if smiles is not None:
        return [Chem.MolFromSmiles(s) for s in smiles]
    if dataset.name == "mutag":
        out = []
        for g in range(dataset.num_graphs):
            graph = dataset.graph(g)
            out.append(tu_mutag_mol(graph.x.argmax(1).tolist(), graph.edge_index.numpy(),
                                    graph.edge_attr.argmax(1).tolist()))
        return out
    raise ValueError(f"{dataset.name}: no SMILES and no TU atom labels to build molecules from")


def atom_and_edge_scores(dataset: Any, explanation: Any) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Per explained graph: ``(gid, atom scores [n_atoms], local edge scores [E_g])`` (|score| if signed).

    Atom scores: the explainer's node scores when it gives them, else each atom's
    max explained incident edge score.
    """

    scores = attribution_scores(explanation).detach().cpu().double().numpy()
    edge_ids = explanation.edge_ids.cpu().numpy()
    eptr = explanation.edge_ptr.cpu().numpy()
    ei = dataset.data.edge_index.cpu().numpy()
    out = []
    for b, gid in enumerate(explanation.instance_ids.cpu().tolist()):
        n0, n1 = int(dataset.node_ptr[gid]), int(dataset.node_ptr[gid + 1])
        e0 = int(dataset.edge_ptr[gid])
        local = np.zeros(int(dataset.edge_ptr[gid + 1]) - e0)
        ids, s = edge_ids[eptr[b]:eptr[b + 1]], scores[eptr[b]:eptr[b + 1]]
        local[ids - e0] = s
        atoms = np.zeros(n1 - n0)
        if explanation.node_scores is not None:
            nptr = explanation.node_ptr.cpu().numpy()
            nids = explanation.node_ids.cpu().numpy()[nptr[b]:nptr[b + 1]]
            ns = explanation.node_scores.detach().cpu().double().numpy()[nptr[b]:nptr[b + 1]]
            atoms[nids - n0] = np.abs(ns) if explanation.signed else ns
        else:
            src = ei[:, e0:int(dataset.edge_ptr[gid + 1])] - n0
            for (u, v), value in zip(src.T.tolist(), local.tolist()):
                atoms[u] = max(atoms[u], value)
                atoms[v] = max(atoms[v], value)
        out.append((gid, atoms, local))
    return out


def molecule_fragments(mol: Any, atom_scores: np.ndarray, share: float, min_atoms: int
                       ) -> list[tuple[str, set[str]]]:
    """``(canonical SMILES, known groups inside)`` of each fragment of ``mol``'s top atoms."""
    chosen = top_atoms(atom_scores, atom_budget(mol.GetNumAtoms(), share, min_atoms))
    matches = group_matches(mol)
    return [(fragment_smiles(mol, frag), groups_in(frag, matches))
            for frag in connected_fragments(mol, chosen)]


def _scaled(values: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 1] (all zeros when constant)."""
    if values.size == 0:
        return values
    low, span = float(values.min()), float(values.max() - values.min())
    return (values - low) / span if span > 0 else np.zeros_like(values)


# ------------------------------------------------------------------------------- running


def run_chemistry(config: ChemistryConfig | None = None, paths: Paths | None = None, device: str = "cpu",
                  out_dir: Path | None = None, progress: Callable[[str], None] | None = None
                  ) -> ChemistryReport:
    """Train, explain and analyse every configured dataset (module docstring)."""

    config = config or ChemistryConfig()
    paths = paths or Paths.from_env()
    say = progress or (lambda _line: None)
    start = time.perf_counter()
    results = []
    for name, params in config.datasets.items():
        ds_result = DatasetResult(name=name, groups=DATASET_GROUPS.get(name, ()))
        results.append(ds_result)
        try:
            dataset = load_dataset(name, seed=config.seed, cache_dir=paths.dataset_cache, **params)
        except DatasetUnavailable as exc:
            ds_result.error = str(exc).splitlines()[0]
            say(f"{name}: skipped: {ds_result.error}")
            continue
        mols = dataset_molecules(dataset)
        test_ids = select_instances(dataset.explain_ids["test"], config.max_test, config.seed)
        drawn = test_ids[:config.draw].tolist()
        panels: dict[tuple[int, str, str], tuple[np.ndarray, np.ndarray]] = {}
        for training, settings in config.trainings.items():
            model, result, cached = train_or_load(
                config.model, config.model_params, training, settings, dataset,
                dataset_params=dataset.params, seed=config.seed, device=device,
                cache=ModelCache(paths.model_cache))
            model.eval()
            ds_result.accuracy[training] = float(result.accuracy["test"])
            ds_result.below[training] = model_quality(model, dataset, device).below(
                floor_for(name))
            say(f"{name} {training}: {'loaded' if cached else 'trained'}, test accuracy "
                f"{result.accuracy['test']:.3f}")
            for explainer_name, hparams in config.explainers.items():
                cell = CellResult(name, training, explainer_name)
                ds_result.cells.append(cell)
                try:
                    explainer = build_explainer(explainer_name, **hparams)
                    reason = explainer.supports(model, dataset)
                    if reason:
                        cell.error = reason
                        continue
                    seed_everything(config.seed)
                    explainer.fit(model, dataset, fit_instances(dataset), config.seed)
                    explanation = explainer.explain(model, dataset, test_ids, config.seed)
                    explanation.validate()
                    per_molecule, present = [], []
                    for gid, atoms, edges in atom_and_edge_scores(dataset, explanation):
                        mol = mols[gid]
                        per_molecule.append(molecule_fragments(mol, atoms, config.top_share,
                                                               config.min_atoms))
                        present.append({g for g, found in group_matches(mol).items() if found})
                        if gid in drawn:
                            e0, e1 = int(dataset.edge_ptr[gid]), int(dataset.edge_ptr[gid + 1])
                            local_ei = dataset.data.edge_index[:, e0:e1].numpy() - int(dataset.node_ptr[gid])
                            panels[(gid, explainer_name, training)] = (
                                _scaled(atoms), _scaled(bond_scores_from_edges(mol, local_ei, edges)))
                    cell.n = len(per_molecule)
                    cell.fragments = rank_fragments(per_molecule)
                    cell.group_share = group_shares(per_molecule, ds_result.groups or FUNCTIONAL_GROUPS)
                    cell.recall = group_recall(per_molecule, present, ds_result.groups)
                    say(f"  {explainer_name}: top fragment "
                        f"{cell.fragments[0].smiles if cell.fragments else '-'}")
                except Exception as exc:  # one failing explainer does not sink the report
                    cell.error = error_text(exc).splitlines()[0]
                    say(f"  {explainer_name}: failed: {cell.error}")
        if out_dir is not None and panels:
            ds_result.figure = _draw_dataset(name, mols, drawn, panels, config, Path(out_dir))
    return ChemistryReport(config=config, datasets=results, seconds=time.perf_counter() - start)


def _draw_dataset(name: str, mols: Sequence[Any], drawn: Sequence[int],
                  panels: Mapping[tuple[int, str, str], tuple[np.ndarray, np.ndarray]],
                  config: ChemistryConfig, out_dir: Path) -> str:
    grid_mols, atoms, bonds, legends = [], [], [], []
    for gid in drawn:
        for explainer in config.explainers:
            for training in config.trainings:
                if (gid, explainer, training) not in panels:
                    continue
                a, b = panels[(gid, explainer, training)]
                grid_mols.append(mols[gid])
                atoms.append(a)
                bonds.append(b)
                legends.append(f"#{gid} {explainer} / {training}")
    file = f"chemistry-{name}.png"
    draw_grid(grid_mols, atoms, bonds, legends, out_dir / file, columns=len(config.trainings))
    return file


REPORT_FILE = "chemistry.md"


def write_report(report: ChemistryReport, out_dir: str | Path) -> list[Path]:
    """Write ``chemistry.md`` (the PNGs are drawn by :func:`run_chemistry`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / REPORT_FILE
    md.write_text(report.markdown(), encoding="utf-8")
    return [md, *(out / ds.figure for ds in report.datasets if ds.figure)]
