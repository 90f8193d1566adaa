"""Side by side: our batched explainers vs ``torch_geometric.explain``, measured in one run.

Both explain the same trained model (the ``default`` preset's, shared through the
model cache), the same instances (every test instance, no cap), with the same
epochs and learning rate (PyG's defaults: 100 epochs, lr 0.01), one torch thread,
and are scored by the same metric code. Prints explanations/s, the ratio, and the
edge AUC of each.

    python benchmarks/compare_pyg.py [--root DIR] [--datasets ba-shapes ba-2motifs]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from suite.matrix import parse_matrix, preset_document
from suite.paths import Paths
from suite.runner import run_matrix
from suite.store import ResultsStore

#: ours -> PyG's implementation of the same method, with the shared hyper-parameters.
PAIRS = {
    "gnnexplainer": ("pyg-gnnexplainer", {"epochs": 100, "lr": 0.01}),
    "saliency": ("pyg-saliency", {}),
    "integrated-gradients": ("pyg-integrated-gradients", {"steps": 50}),
}
MODEL_FOR_TASK = {"ba-shapes": "gcn", "tree-cycles": "gcn", "ba-2motifs": "gin"}


def comparison_matrix(datasets: list[str], explainers: list[str]) -> dict:
    """The default preset restricted to ``datasets``, with each pair at equal settings."""
    _, raw = preset_document("default")
    raw.update(name="compare-pyg", seeds=[0], max_instances=1000)
    raw["datasets"] = {name: raw["datasets"].get(name, {}) for name in datasets}
    raw["explainers"] = {}
    for ours in explainers:
        theirs, shared = PAIRS[ours]
        raw["explainers"][ours] = dict(shared)
        raw["explainers"][theirs] = dict(shared)
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="suite root (model cache reused); default: a temp dir")
    parser.add_argument("--datasets", nargs="+", default=["ba-shapes", "ba-2motifs"])
    parser.add_argument("--explainers", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    root = Path(args.root or tempfile.mkdtemp(prefix="compare-pyg-"))
    raw = comparison_matrix(args.datasets, args.explainers)
    store = ResultsStore(root / "compare-pyg.sqlite")
    try:
        run_matrix(parse_matrix(raw, source="compare-pyg"), store, Paths(root), progress=True)
        frame = store.cells_frame()
    finally:
        store.close()
    frame = frame[frame["status"] == "done"]
    frame = frame[frame["model"] == frame["dataset"].map(MODEL_FOR_TASK).fillna(frame["model"])]
    print(f"\n{'dataset':<12} {'model':<5} {'method':<22} {'n':>4} {'ours/s':>9} {'pyg/s':>8} "
          f"{'ratio':>7} {'AUC ours':>9} {'AUC pyg':>8}")
    for (dataset, model), part in frame.groupby(["dataset", "model"]):
        rows = part.set_index("explainer")
        for ours in args.explainers:
            theirs = PAIRS[ours][0]
            if ours not in rows.index or theirs not in rows.index:
                continue
            a, b = rows.loc[ours], rows.loc[theirs]
            print(f"{dataset:<12} {model:<5} {ours:<22} {int(a['n_instances']):>4} "
                  f"{a['explanations_per_s']:>9.1f} {b['explanations_per_s']:>8.2f} "
                  f"{a['explanations_per_s'] / b['explanations_per_s']:>6.1f}x "
                  f"{a['edge_auc']:>9.3f} {b['edge_auc']:>8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
