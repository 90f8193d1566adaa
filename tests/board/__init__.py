"""Tests of ``suite.reports``; also holds the hand-made cells frame the board tests share."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

#: Scores of the hand-made frame (``fid_minus_acc_soft`` is left out on purpose: a
#: store may lack a column).
FRAME_SCORES = (
    "edge_auc", "edge_auc_instance", "edge_pr_auc", "node_auc", "fid_plus_prob", "fid_minus_prob",
    "fid_plus_acc", "fid_minus_acc", "characterization", "fid_plus_prob_soft",
    "fid_minus_prob_soft", "fid_plus_acc_soft", "sparsity", "explanations_per_s",
    "explain_seconds", "fit_seconds", "model_acc_train", "model_acc_val", "model_acc_test",
    "train_items_per_s", "train_seconds", "below_accuracy_floor",
)
GT_DATASET, FREE_DATASET = "ba-shapes", "tox-free"
EXPLAINERS = ("saliency", "gnnexplainer", "random")
SEEDS = (0, 1, 2)


def make_cells_frame(seed: int = 0, explainer_names: tuple[str, ...] = EXPLAINERS) -> pd.DataFrame:
    """A cells frame as ``ResultsStore.cells_frame()`` returns it, built by hand.

    2 datasets x 3 explainers x 3 seeds (GCN, standard training): ``ba-shapes`` has
    ground truth; ``tox-free`` has none (its AUC columns are NaN) and its model is
    below the accuracy floor. ``gnnexplainer`` seed 2 on ``ba-shapes`` failed;
    ``pgexplainer`` is skipped on ``tox-free`` for every seed; ``random`` has no node
    AUC. Scores are random draws (a fixed seed), not results of suite code.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for dataset in (GT_DATASET, FREE_DATASET):
        for explainer in explainer_names:
            for s in SEEDS:
                row = {
                    "cell_key": f"{dataset}/gcn/standard/{explainer}/{s}", "run_id": "run-1",
                    "dataset": dataset, "dataset_family": "synthetic",
                    "task": "node" if dataset == GT_DATASET else "graph", "model": "gcn",
                    "training": "standard", "explainer": explainer,
                    "explainer_source": "baseline" if explainer == "random" else "suite",
                    "seed": s, "device": "cpu", "device_name": "Test CPU",
                    "config": json.dumps({"seed": s}), "status": "done", "error": None,
                    "n_instances": int(rng.integers(40, 60)), "seconds": float(rng.uniform(1, 9)),
                    "suite_version": "0.1.0", "git_commit": "abc123def",
                }
                row.update({name: float(rng.uniform(0, 1)) for name in FRAME_SCORES})
                row["explanations_per_s"] = float(10 ** rng.uniform(0, 3))
                row["below_accuracy_floor"] = 1.0 if dataset == FREE_DATASET else 0.0
                if dataset == FREE_DATASET:
                    for name in ("edge_auc", "edge_auc_instance", "edge_pr_auc", "node_auc"):
                        row[name] = float("nan")
                if explainer == "random":
                    row["node_auc"] = float("nan")
                if dataset == GT_DATASET and explainer == "gnnexplainer" and s == 2:
                    row.update({name: float("nan") for name in FRAME_SCORES})
                    row.update(status="failed", error="Traceback ...\nRuntimeError: boom | bad",
                               n_instances=0)
                rows.append(row)
        if dataset == FREE_DATASET:
            for s in SEEDS:
                rows.append({"cell_key": f"{dataset}/gcn/standard/pgexplainer/{s}",
                             "run_id": "run-1", "dataset": dataset, "model": "gcn",
                             "training": "standard", "explainer": "pgexplainer", "seed": s,
                             "status": "skipped",
                             "error": "pgexplainer does not explain graph-level tasks"})
    return pd.DataFrame(rows)
