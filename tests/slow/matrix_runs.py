"""What the slow tier's quality modules share: a matrix run into a fresh store, and the
check of the default preset's models against issue 27's floors.

The floor check runs the default preset's cells for some datasets with the `random`
explainer only (the model is what is judged: trained, or the committed reference model of
a source checkout) and applies the protocol's own rule (``suite.protocol.floor_for`` and
``ModelQuality.below``) to the stored model scores, not the board's verdict, on every seed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from suite.core.paths import Paths
from suite.core.records import InstanceRecords
from suite.execution.runner import run_matrix
from suite.matrix import matrix_document, parse_matrix, restrict_document
from suite.protocol import FloorMetric, ModelQuality, floor_for
from suite.store.database import ResultsStore

#: One row per (dataset, model, seed): the stored model scores the floors judge.
MODEL_SCORES = ("model_acc_test", "model_acc_val", "model_acc_ground_truth", "model_bal_acc_test",
                "model_majority_test", "model_gt_instances")


def default_restricted(**sections: list[str]) -> dict:
    """The default preset cut to the named entries per section (as `suite run --datasets ...`)."""
    _, _, raw = matrix_document("default")
    return restrict_document(raw, **sections)


def stored_cells(root: Path, raw: dict, source: str) -> tuple[pd.DataFrame, dict[str, InstanceRecords]]:
    """Run the matrix document ``raw`` into a store under ``root`` (models from ``Paths(root)``)
    and return its cells frame and per-instance records."""
    store = ResultsStore(root / "store.sqlite")
    try:
        run_matrix(parse_matrix(raw, source=source), store, Paths(root), progress=False)
        return store.cells_frame(), store.instance_records()
    finally:
        store.close()


def default_models(root: Path, datasets: list[str]) -> pd.DataFrame:
    """The default preset's models on ``datasets``, every seed, explained by `random` only:
    one row per (dataset, model, seed) with :data:`MODEL_SCORES`. Every cell must finish
    or be skipped with its reason (a model that ignores the dataset's edge types)."""
    frame, _ = stored_cells(root, default_restricted(datasets=datasets, explainers=["random"]),
                            "default (floors)")
    skipped = frame["status"] == "skipped"
    assert ((frame["status"] == "done") | skipped).all(), frame.loc[~skipped, "error"].tolist()
    assert frame.loc[skipped, "error"].str.len().gt(0).all()
    done = frame[frame["status"] == "done"]
    return done[["dataset", "model", "seed", *MODEL_SCORES]].sort_values(["dataset", "model", "seed"])


def below_floors(models: pd.DataFrame) -> list[str]:
    """Each (dataset, model, seed) of ``models`` below its floor, with the protocol's reason;
    every row's numbers are printed for the closing note."""
    below = []
    for row in models.itertuples(index=False):
        floor = floor_for(row.dataset)
        quality = ModelQuality(
            test_accuracy=row.model_acc_test, val_accuracy=row.model_acc_val,
            balanced_accuracy=row.model_bal_acc_test, val_balanced_accuracy=math.nan,
            majority=row.model_majority_test, ground_truth_recall=row.model_acc_ground_truth,
            ground_truth_instances=0 if math.isnan(row.model_gt_instances)
            else int(row.model_gt_instances))
        where = f"{row.dataset} / {row.model} / seed {row.seed}"
        if floor.metric == FloorMetric.BALANCED:
            print(f"{where}: test balanced accuracy {quality.balanced_accuracy:.3f}, accuracy "
                  f"{quality.test_accuracy:.3f}, majority class {quality.majority:.3f}, "
                  f"balanced floor {floor.value:.2f}")
        else:
            print(f"{where}: test accuracy {quality.test_accuracy:.3f}, on the "
                  f"{quality.ground_truth_instances} ground-truth test instances "
                  f"{quality.ground_truth_recall:.3f}, floor {floor.value:.2f}")
        reason = quality.below(floor)
        if reason:
            below.append(f"{where}: {reason}")
    return below
