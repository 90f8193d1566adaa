"""Slow tier: the quality numbers of the issues on the real-size synthetic datasets.

Runs the `default` preset's own cells (same hyper-parameters, so the same cell
keys) restricted to what each assertion needs, and prints every number for the
closing note. Run with ``make test-slow``.
"""

from __future__ import annotations

import pytest

from suite.board.table import build_leaderboard
from tests.slow.matrix_runs import (
    below_floors,
    default_models,
    default_restricted,
    stored_cells,
)

pytestmark = [pytest.mark.slow, pytest.mark.synthetic]


def _board(root, raw):
    frame, instances = stored_cells(root, raw, "default (restricted)")
    assert (frame["status"] == "done").all(), frame.loc[frame["status"] != "done", "error"].tolist()
    table = build_leaderboard(frame, instances).table
    print("\n" + table[["dataset", "model", "explainer", "rank_text", "edge_auc_mean",
                        "rank_low", "rank_high", "model_acc_test_mean", "explanations_per_s_mean",
                        "n", "section"]].to_string())
    return table.set_index(["dataset", "model", "explainer"])


@pytest.fixture(scope="module")
def node_board(tmp_path_factory):
    raw = default_restricted(datasets=["ba-shapes", "tree-cycles"], models=["gcn-sum", "gin"],
                             explainers=["random", "saliency", "gnnexplainer", "pyg-gnnexplainer",
                                         "pgexplainer", "graphmask"])
    return _board(tmp_path_factory.mktemp("slow-node"), raw)


@pytest.fixture(scope="module")
def graph_board(tmp_path_factory):
    raw = default_restricted(datasets=["ba-2motifs"], models=["gin"],
                             explainers=["random", "pgexplainer"])
    return _board(tmp_path_factory.mktemp("slow-graph"), raw)


def test_ba_shapes_gcn_accuracy_and_gnnexplainer_auc(node_board):
    row = node_board.loc[("ba-shapes", "gcn-sum", "gnnexplainer")]
    assert row["model_acc_test_mean"] >= 0.90
    assert row["edge_auc_mean"] >= 0.90


#: The synthetic datasets of the default matrix (each model's floor: suite.protocol.floor_for).
SYNTHETIC = ["ba-shapes", "ba-community", "tree-cycles", "tree-grid", "ba-2motifs"]


def test_default_models_meet_their_floors_on_every_seed(tmp_path):
    """Issue 27's floors, on every seed, for every model of the default matrix's synthetic
    datasets (test accuracy and accuracy on the ground-truth test instances); the numbers
    are printed per seed."""
    models = default_models(tmp_path, SYNTHETIC)
    assert set(models["dataset"]) == set(SYNTHETIC)
    below = below_floors(models)
    assert not below, below


#: (dataset, model, explainer) whose lead over random must have a paired 95% interval above 0
#: (named before the run).
LEADS = [("ba-shapes", "gcn-sum", "pgexplainer"), ("ba-shapes", "gcn-sum", "gnnexplainer"),
         ("tree-cycles", "gin", "pgexplainer"), ("tree-cycles", "gin", "gnnexplainer")]


@pytest.mark.parametrize("key", LEADS, ids=lambda k: "/".join(k))
def test_lead_over_random_by_its_interval(node_board, key):
    row = node_board.loc[key]
    print(f"{'/'.join(key)}: {row['section']}, lead over random {row['lead']:.3f} "
          f"[{row['lead_low']:.3f}, {row['lead_high']:.3f}]")
    assert row["section"] == "ranked", row["note"]
    assert row["lead_low"] > 0


def test_random_baseline_is_at_chance(node_board):
    for dataset in ("ba-shapes", "tree-cycles"):
        assert abs(node_board.loc[(dataset, "gcn-sum", "random"), "edge_auc_mean"] - 0.5) < 0.1


# ------------------------------------------------------------------ issue 3: GraphMask, PGExplainer


@pytest.mark.parametrize("dataset,model", [("ba-shapes", "gcn-sum"), ("tree-cycles", "gin")])
def test_pgexplainer_auc_on_node_tasks(node_board, dataset, model):
    """On the default preset's model that learned the dataset best (Tree-Cycles: GIN, test
    accuracy 1.0; the GCN gets 13% of the explained cycle nodes wrong, and for those the
    faithful explanation is not the cycle; its number is printed above)."""
    assert_ranked_auc(node_board, (dataset, model, "pgexplainer"), 0.90)


def test_pgexplainer_auc_on_ba_2motifs(graph_board):
    assert_ranked_auc(graph_board, ("ba-2motifs", "gin", "pgexplainer"), 0.90)


def test_amortised_graphmask_auc_on_ba_shapes(node_board):
    """Ranked, so not degenerate: gates that keep every edge of a layer did not explain."""
    assert_ranked_auc(node_board, ("ba-shapes", "gcn-sum", "graphmask"), 0.90)


def assert_ranked_auc(board, key: tuple[str, str, str], floor: float) -> None:
    """The row is ranked on the board (not degenerate, not on its own n) and its edge AUC
    reaches ``floor``: an AUC of explanations the board refuses to rank proves nothing."""
    row = board.loc[key]
    print(f"{'/'.join(key)}: {row['section']}, edge AUC {row['edge_auc_mean']:.3f}; {row['note']}")
    assert row["section"] == "ranked", row["note"]
    assert row["edge_auc_mean"] >= floor
