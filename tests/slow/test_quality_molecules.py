"""Slow tier: issue 5's quality numbers on the molecule datasets.

Runs the `paper` preset's molecule settings (GINE with OGB encoders, standard training,
every explainer of the preset, seed 0; GraphMask only on MUTAG) on seeded subsets of 3,000 molecules for
benzene, fluoride-carbonyl and b3db (``max_molecules``; each run well under 10 minutes
on one thread) and on all of MUTAG, and prints every number for the closing note.
Run with ``make test-slow`` (needs the data mirror for benzene and fluoride-carbonyl).
"""

from __future__ import annotations

import math
import os

import pytest

from suite.board.table import build_leaderboard
from suite.core.paths import data_mirror
from suite.matrix import parse_matrix, preset_document, resolved_parameters
from tests.slow.matrix_runs import below_floors, default_models, stored_cells

pytestmark = [pytest.mark.slow, pytest.mark.molecules]

SUBSET = 3000
COLUMNS = ["dataset", "explainer", "rank_text", "section", "lead", "lead_low", "lead_high",
           "model_acc_test_mean", "model_majority_test_mean", "edge_auc_mean", "node_auc_mean", "gea_mean",
           "gea_edge_mean", "unfaithfulness_mean", "repr_fidelity_mean", "fid_plus_acc_mean",
           "fid_minus_acc_mean", "n"]


def paper_molecules(datasets: dict, skip: tuple[str, ...] = ()) -> dict:
    """The paper preset restricted to ``datasets`` (molecules), GINE and standard training,
    with the preset's own molecule settings (its ``by_dataset`` entries) resolved."""
    _, raw = preset_document("paper")
    resolved = resolved_parameters(parse_matrix(raw, source="paper"))
    first = next(iter(datasets))
    gine = {k: v for k, v in raw["models"]["gine"].items() if k != "only_datasets"}
    raw.update(name="paper (molecules, slow tier)", seeds=[0], datasets=datasets,
               models={"gine": gine},
               trainings={"standard": resolved.training("standard", first, "graph")},
               explainers={k: v for k, v in raw["explainers"].items()
                           if k not in skip and "only_datasets" not in v})
    return raw


def _board(root, raw):
    frame, instances = stored_cells(root, raw, "paper (restricted)")
    # incompatible cells are skipped with their reason (e.g. PyG's GraphMaskExplainer on GINE
    # layers); anything else that did not finish is a defect
    skipped = frame["status"] == "skipped"
    assert ((frame["status"] == "done") | skipped).all(), frame.loc[~skipped, "error"].tolist()
    assert frame.loc[skipped, "error"].str.len().gt(0).all()
    assert (frame["status"] == "done").sum() > skipped.sum()
    table = build_leaderboard(frame, instances).table
    print("\n" + table[[c for c in COLUMNS if c in table.columns]].to_string())
    return table.set_index(["dataset", "explainer"])


@pytest.fixture(scope="module")
def ground_truth_board(tmp_path_factory):
    if data_mirror() is None:  # as tests/datasets/test_molecules.py's `mirror`, at module scope
        message = "needs the data mirror: set SUITE_DATA_MIRROR (e.g. ../shared/data)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the data mirror is missing: {message}")
        pytest.skip(message)
    # graphmask is left out here: its fit on 2,400 training molecules ran over 35 min of wall
    # time (under 5 min of CPU on a shared machine) without finishing; it runs on MUTAG below
    raw = paper_molecules({"benzene": {"max_molecules": SUBSET},
                           "fluoride-carbonyl": {"max_molecules": SUBSET}}, skip=("graphmask",))
    return _board(tmp_path_factory.mktemp("slow-molecules-gt"), raw)


@pytest.fixture(scope="module")
def mutag_board(tmp_path_factory):
    return _board(tmp_path_factory.mktemp("slow-molecules-mutag"), paper_molecules({"mutag": {}}))


@pytest.fixture(scope="module")
def b3db_board(tmp_path_factory):
    # graphmask left out as on the ground-truth sets (2,400 training molecules)
    raw = paper_molecules({"b3db": {"max_molecules": SUBSET}}, skip=("graphmask",))
    return _board(tmp_path_factory.mktemp("slow-molecules-b3db"), raw)


#: Explainers whose edge AUC must exceed random's on the rule-based sets, judged by the
#: paired 95% interval of the difference (named before the run; no best-of-many).
LEAD_OVER_RANDOM = ("saliency", "integrated-gradients", "pgexplainer")


@pytest.mark.parametrize("dataset", ["benzene", "fluoride-carbonyl"])
def test_rule_label_sets_accuracy_and_lead_over_random(ground_truth_board, dataset):
    rows = ground_truth_board.loc[dataset]
    assert rows["model_acc_test_mean"].min() >= 0.90
    for name in LEAD_OVER_RANDOM:
        assert rows.loc[name, "section"] == "ranked", rows.loc[name, "note"]
        assert rows.loc[name, "lead_low"] > 0, rows.loc[name, ["lead", "lead_low", "lead_high"]]
    # the ground-truth scores are defined for every explainer, random near chance
    assert rows[["gea_mean", "gea_edge_mean", "unfaithfulness_mean"]].notna().all().all()
    assert abs(rows.loc["random", "edge_auc_mean"] - 0.5) < 0.1


@pytest.mark.parametrize("dataset", ["mutag", "b3db"])
def test_real_label_sets_report_accuracy_and_ground_truth_free_scores(request, dataset):
    rows = request.getfixturevalue(f"{dataset}_board").loc[dataset]
    accuracy = rows["model_acc_test_mean"].iloc[0]
    majority = rows["model_majority_test_mean"].iloc[0]
    print(f"{dataset}: test accuracy {accuracy:.3f}, majority class {majority:.3f}")
    assert accuracy > majority and not math.isnan(accuracy)
    for column in ("fid_plus_acc_mean", "fid_minus_acc_mean", "repr_fidelity_mean", "unfaithfulness_mean"):
        assert rows[column].notna().all(), column
    assert rows["unfaithfulness_mean"].between(0, 1).all()


def test_default_benzene_models_meet_their_floor_on_every_seed(mirror, tmp_path):
    """Issue 27's floor for the default matrix's benzene models (0.95 test accuracy and
    accuracy on the ground-truth test molecules, every seed); numbers printed per seed."""
    models = default_models(tmp_path, ["benzene"])
    assert set(models["dataset"]) == {"benzene"}
    below = below_floors(models)
    assert not below, below
