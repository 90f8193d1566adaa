"""The slow tier's floor check: the default preset's models against issue 27's floors.

Each area's module runs the default preset's cells for its datasets with the `random`
explainer only (the model is what is judged: trained, or the committed reference model of
a source checkout) and asserts, on every seed, what ``suite.protocol.floor_for`` asks: test
accuracy and accuracy on the ground-truth test instances at or above the floor, or, where
no floor is listed, test balanced accuracy at or above it and accuracy above the majority
class. The numbers are read from the stored model scores, not from the board's verdict.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.core.paths import Paths
from suite.execution.runner import run_matrix
from suite.matrix import matrix_document, parse_matrix, restrict_document
from suite.protocol import FloorMetric, floor_for
from suite.store.database import ResultsStore

#: One row per (dataset, model, seed): the stored model scores the floors judge.
MODEL_SCORES = ("model_acc_test", "model_acc_ground_truth", "model_bal_acc_test",
                "model_majority_test", "model_gt_instances")


def default_restricted(**sections: list[str]) -> dict:
    """The default preset cut to the named entries per section (as `suite run --datasets ...`)."""
    _, _, raw = matrix_document("default")
    return restrict_document(raw, **sections)


def default_models(root: Path, datasets: list[str]) -> pd.DataFrame:
    """The default preset's models on ``datasets``, every seed, explained by `random` only:
    one row per (dataset, model, seed) with :data:`MODEL_SCORES`. Every cell must finish
    or be skipped with its reason (a model that ignores the dataset's edge types)."""
    raw = default_restricted(datasets=datasets, explainers=["random"])
    store = ResultsStore(root / "store.sqlite")
    try:
        run_matrix(parse_matrix(raw, source="default (floors)"), store, Paths(root), progress=False)
        frame = store.cells_frame()
    finally:
        store.close()
    skipped = frame["status"] == "skipped"
    assert ((frame["status"] == "done") | skipped).all(), frame.loc[~skipped, "error"].tolist()
    assert frame.loc[skipped, "error"].str.len().gt(0).all()
    done = frame[frame["status"] == "done"]
    return done[["dataset", "model", "seed", *MODEL_SCORES]].sort_values(["dataset", "model", "seed"])


def below_floors(models: pd.DataFrame) -> list[str]:
    """Each (dataset, model, seed) of ``models`` below its floor, with the reason; every row's
    numbers are printed for the closing note."""
    below = []
    for row in models.itertuples(index=False):
        floor = floor_for(row.dataset)
        where = f"{row.dataset} / {row.model} / seed {row.seed}"
        if floor.metric == FloorMetric.BALANCED:
            print(f"{where}: test balanced accuracy {row.model_bal_acc_test:.3f}, accuracy "
                  f"{row.model_acc_test:.3f}, majority class {row.model_majority_test:.3f}, "
                  f"balanced floor {floor.value:.2f}")
            if not (row.model_bal_acc_test >= floor.value
                    and row.model_acc_test > row.model_majority_test):
                below.append(f"{where}: balanced accuracy {row.model_bal_acc_test:.3f}")
            continue
        print(f"{where}: test accuracy {row.model_acc_test:.3f}, on the "
              f"{int(row.model_gt_instances)} ground-truth test instances "
              f"{row.model_acc_ground_truth:.3f}, floor {floor.value:.2f}")
        if not (row.model_acc_test >= floor.value and row.model_acc_ground_truth >= floor.value):
            below.append(f"{where}: test {row.model_acc_test:.3f}, ground truth "
                         f"{row.model_acc_ground_truth:.3f}")
    return below
