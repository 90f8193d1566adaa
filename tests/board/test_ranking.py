"""The protocol's ranking rule on the board (suite.protocol.rank_group, suite.board.table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite.board.format import plausibility_faithfulness_tau
from suite.board.markdown import to_markdown
from suite.board.table import build_leaderboard, shared_instance_correlation
from suite.core.records import InstanceRecords
from suite.protocol import PROTOCOL_VERSION, GroupEntry, rank_group

IDS = np.arange(100, 130)  # the group's 30 instances


def _records(quality: float, seed: int, ids: np.ndarray = IDS) -> InstanceRecords:
    """Instances of 8 edges, 3 ground truth; ``quality`` shifts the truth's scores up."""
    rng = np.random.default_rng(seed)
    labels = np.tile([True, True, True, False, False, False, False, False], ids.size)
    scores = rng.random(labels.size) + quality * labels
    return InstanceRecords(ids, np.arange(ids.size + 1) * 8, scores, labels,
                           {"fid_plus_acc": rng.integers(0, 2, ids.size).astype(float)})


def _frame(rows: list[dict]) -> tuple[pd.DataFrame, dict[str, InstanceRecords]]:
    cells, records = [], {}
    for row in rows:
        for seed in (0, 1, 2):
            key = f"{row['explainer']}-{seed}"
            rec = row.get("records", lambda s: _records(row["quality"], s))(seed)
            records[key] = rec
            cells.append({
                "cell_key": key, "dataset": "ba-shapes", "dataset_family": "synthetic",
                "task": "node", "model": row.get("model", "gin"), "training": "standard",
                "explainer": row["explainer"], "explainer_source": "suite", "seed": seed,
                "status": "done", "n_instances": rec.num_instances, "group_n": float(IDS.size),
                "protocol_version": PROTOCOL_VERSION, "model_floor": 0.95,
                "model_acc_test": row.get("acc", 0.99),
                "below_accuracy_floor": float(row.get("acc", 0.99) < 0.95),
                "edge_auc": float(np.mean([0.5])), "finished_at": f"t{seed}",
                "config": row.get("config", "{}"), "model_bal_acc_test": row.get("bal_acc", 0.99),
                "model_majority_test": row.get("majority", 0.5),
            })
    return pd.DataFrame(cells), records


def test_clear_winners_get_single_ranks_and_ties_share_a_range():
    frame, records = _frame([{"explainer": "strong", "quality": 2.0},
                             {"explainer": "tie-a", "quality": 0.3},
                             {"explainer": "tie-b", "quality": 0.3},
                             {"explainer": "random", "quality": 0.0}])
    board = build_leaderboard(frame, records)
    table = board.table.set_index("explainer")
    assert table.loc["strong", "rank_text"] == "1" and table.loc["random", "rank_text"] == "4"
    assert table.loc["tie-a", "rank_text"] == table.loc["tie-b", "rank_text"] == "2-3"
    assert (table["section"] == "ranked").all()
    low, high = table.loc["strong", "rank_low"], table.loc["strong", "rank_high"]
    assert 0.9 < low <= high <= 1.0
    tie_low, tie_high = table.loc["tie-a", "rank_low"], table.loc["tie-a", "rank_high"]
    assert tie_low < table.loc["tie-a", "edge_auc_mean"] or tie_low < tie_high
    assert "[" in to_markdown(board)


def test_a_below_floor_model_is_shown_in_its_own_section_and_not_ranked():
    frame, records = _frame([{"explainer": "a", "quality": 1.0, "model": "gcn", "acc": 0.80},
                             {"explainer": "b", "quality": 0.0, "model": "gcn", "acc": 0.80},
                             {"explainer": "a", "quality": 1.0, "model": "gin"}])
    frame.loc[frame["model"] == "gcn", "cell_key"] += "-gcn"
    records.update({f"{k}-gcn": v for k, v in list(records.items())})
    board = build_leaderboard(frame, records)
    gcn = board.table[board.table["model"] == "gcn"]
    assert (gcn["section"] == "below-floor").all() and gcn["rank"].isna().all()
    assert gcn["note"].str.contains("below its floor 0.950 on seed\\(s\\) 0, 1, 2").all()
    md = to_markdown(board)
    assert "Below the accuracy floor" in md


def test_a_balanced_floor_is_reported_with_balanced_accuracy():
    """Datasets without a listed floor are judged on test balanced accuracy: the note says so."""
    config = '{"floor_metric": "balanced_accuracy"}'
    frame, records = _frame([{"explainer": "a", "quality": 1.0, "acc": 0.80, "bal_acc": 0.75,
                              "config": config}])
    note = build_leaderboard(frame, records).table["note"].iloc[0]
    assert "test balanced accuracy 0.750 / 0.750 / 0.750" in note, note
    assert "test accuracy" not in note and "majority" not in note
    # balanced accuracy at the floor, but accuracy not above the majority class
    frame, records = _frame([{"explainer": "a", "quality": 1.0, "acc": 0.80, "bal_acc": 0.96,
                              "majority": 0.85, "config": config}])
    note = build_leaderboard(frame, records).table["note"].iloc[0]
    assert "accuracy 0.800 / 0.800 / 0.800 against the majority class 0.850" in note, note


def test_an_explainer_on_fewer_instances_keeps_its_own_n_and_is_not_ranked():
    frame, records = _frame([{"explainer": "full", "quality": 1.0},
                             {"explainer": "capped", "quality": 3.0,
                              "records": lambda s: _records(3.0, s, IDS[:10])},
                             {"explainer": "other", "quality": 0.0}])
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert table.loc["capped", "section"] == "unranked" and np.isnan(table.loc["capped", "rank"])
    assert "explained 10 of the group's 30 instances" in table.loc["capped", "note"]
    assert table.loc["full", "rank_text"] == "1"  # capped's better score does not outrank it
    assert np.isfinite(table.loc["capped", "rank_low"])  # its interval, on its own instances


def test_grad_x_input_equal_to_saliency_on_edges_is_ranked_once():
    same = {s: _records(1.0, s) for s in (0, 1, 2)}
    frame, records = _frame([{"explainer": "saliency", "quality": 1.0, "records": same.get},
                             {"explainer": "grad-x-input", "quality": 1.0, "records": same.get},
                             {"explainer": "random", "quality": 0.0}])
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert table.loc["saliency", "section"] == "ranked"
    assert table.loc["grad-x-input", "section"] == "unranked"
    assert "same edge scores as saliency" in table.loc["grad-x-input", "note"]


def test_rows_without_records_or_of_another_protocol_are_not_ranked():
    entries = [GroupEntry("a", PROTOCOL_VERSION, "", {0: _records(1.0, 0)}, {0: 30}),
               GroupEntry("b", 1, "", {0: _records(1.0, 0)}, {0: 30}),
               GroupEntry("c", PROTOCOL_VERSION, "", {0: None}, {0: 30})]
    out = rank_group(entries, "edge_auc")
    assert out["a"].section == "ranked" and out["a"].rank is not None
    assert "protocol 1" in out["b"].reason and "no per-instance records" in out["c"].reason


def test_bimodal_seeds_are_flagged_with_their_values():
    flip = {0: _records(3.0, 0), 1: _records(-3.0, 1), 2: _records(3.0, 2)}
    frame, records = _frame([{"explainer": "flip", "quality": 0, "records": flip.get},
                             {"explainer": "random", "quality": 0.0}])
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert "bimodal over seeds" in table.loc["flip", "note"]


def test_the_headline_estimate_is_the_pooled_auc_mean_over_seeds():
    from sklearn.metrics import roc_auc_score

    recs = {s: _records(0.5, s) for s in (0, 1, 2)}
    out = rank_group([GroupEntry("x", PROTOCOL_VERSION, "", recs, {s: 30 for s in recs})],
                     "edge_auc")
    expected = np.mean([roc_auc_score(r.edge_labels, r.edge_scores) for r in recs.values()])
    assert out["x"].interval.estimate == pytest.approx(expected)


def test_the_lead_over_random_is_a_paired_interval():
    frame, records = _frame([{"explainer": "strong", "quality": 2.0},
                             {"explainer": "same-as-random", "quality": 0.0,
                              "records": lambda s: _records(0.0, s + 10)},
                             {"explainer": "random", "quality": 0.0}])
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert table.loc["strong", "lead_low"] > 0.3
    assert table.loc["random", "lead"] == 0.0
    low, high = table.loc["same-as-random", ["lead_low", "lead_high"]]
    assert low < 0 < high  # no better than random: the interval covers 0


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_submission_with_its_records_is_ranked_beside_the_store(tmp_path, fmt):
    pytest.importorskip("pyarrow") if fmt == "parquet" else None
    from suite.core.records import records_from_text, records_to_text
    from suite.store.merge import export_frame
    from suite.store.submissions import read_submission, submission_records

    frame, records = _frame([{"explainer": "mine", "quality": 2.0},
                             {"explainer": "random", "quality": 0.0}])
    rec = records["mine-0"]
    assert records_from_text(records_to_text(rec)).same_edges(rec)
    path = export_frame(frame[frame["explainer"] == "mine"], tmp_path / f"s.{fmt}",
                        plugin="my-pkg==1.0 my_pkg:Mine", instances=records)
    submitted = read_submission(path)
    extra = submission_records(submitted)
    assert set(extra) == {f"external:mine-{s}" for s in (0, 1, 2)}
    both = pd.concat([frame, submitted], ignore_index=True, sort=False)
    table = build_leaderboard(both, {**records, **extra}).table.set_index("explainer")
    assert table.loc["mine (submitted)", "section"] == "ranked"
    assert table.loc["mine (submitted)", "rank_text"] == table.loc["mine", "rank_text"]
    damaged = submitted.assign(instance_records="not base64!")
    assert submission_records(damaged) == {}


def test_a_degenerate_explainer_is_shown_with_the_reason_and_not_ranked():
    """An inverted-looking score from collapsed gates is not ranked as an inversion."""
    frame, records = _frame([{"explainer": "strong", "quality": 2.0},
                             {"explainer": "collapsed", "quality": -1.0},
                             {"explainer": "random", "quality": 0.0}])
    collapsed = frame["explainer"] == "collapsed"
    frame["constant_share"] = 0.0
    frame.loc[collapsed & (frame["seed"] == 1), "gates_closed_layers"] = 2.0
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert table.loc["collapsed", "section"] == "unranked"
    assert np.isnan(table.loc["collapsed", "rank"])
    assert table.loc["collapsed", "note"] == ("degenerate: seed 1: gates drop every edge in 2 "
                                              "scored layer(s)")
    assert table.loc["strong", "rank_text"] == "1" and table.loc["random", "rank_text"] == "2"
    frame.loc[collapsed, "gates_closed_layers"] = 0.0
    frame.loc[collapsed & (frame["seed"] == 0), "constant_share"] = 0.4  # below the share
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert table.loc["collapsed", "section"] == "ranked"


def test_a_dataset_without_ground_truth_ranks_on_the_deletion_area_lower_first():
    def records(deletion: float):
        def make(seed: int) -> InstanceRecords:
            rng = np.random.default_rng(seed)
            values = np.clip(deletion + 0.05 * rng.standard_normal(IDS.size), 0, 1)
            return InstanceRecords(IDS, np.arange(IDS.size + 1) * 8, rng.random(IDS.size * 8),
                                   None, {"deletion_area": values,
                                          "fid_plus_acc": rng.integers(0, 2, IDS.size) * 1.0})
        return make

    frame, recs = _frame([{"explainer": "faithful", "quality": 0, "records": records(0.2)},
                          {"explainer": "random", "quality": 0, "records": records(0.6)}])
    frame["edge_auc"] = np.nan
    frame["deletion_area"] = frame["explainer"].map({"faithful": 0.2, "random": 0.6})
    board = build_leaderboard(frame, recs)
    assert board.rank_metric == {"ba-shapes": "deletion_area"}
    table = board.table.set_index("explainer")
    assert table.loc["faithful", "rank_text"] == "1" and table.loc["random", "rank_text"] == "2"
    assert table.loc["faithful", "lead"] == pytest.approx(0.4, abs=0.05)  # oriented: positive


def test_the_faithful_reference_is_shown_apart_and_every_row_gets_its_correlation():
    reference = {s: _records(1.0, s) for s in (0, 1, 2)}
    agreeing = {s: InstanceRecords(r.instance_ids, r.edge_ptr, 2.0 * r.edge_scores + 1.0,
                                   r.edge_labels, r.values) for s, r in reference.items()}
    reversed_ = {s: InstanceRecords(r.instance_ids, r.edge_ptr, -r.edge_scores, r.edge_labels,
                                    r.values) for s, r in reference.items()}
    frame, records = _frame([{"explainer": "occlusion", "quality": 1.0, "records": reference.get},
                             {"explainer": "agrees", "quality": 1.0, "records": agreeing.get},
                             {"explainer": "reverses", "quality": 1.0, "records": reversed_.get},
                             {"explainer": "random", "quality": 0.0,
                              "records": lambda s: _records(0.0, s + 10)}])
    frame.loc[frame["explainer"] == "occlusion", "explainer_source"] = "reference"
    board = build_leaderboard(frame, records)
    table = board.table.set_index("explainer")
    assert table.loc["occlusion", "section"] == "reference"
    assert np.isnan(table.loc["occlusion", "rank"]) and np.isfinite(table.loc["occlusion", "rank_low"])
    assert table.loc["agrees", "reference_corr_mean"] == pytest.approx(1.0)
    assert table.loc["reverses", "reference_corr_mean"] == pytest.approx(-1.0)
    assert abs(table.loc["random", "reference_corr_mean"]) < 0.2
    assert np.isnan(table.loc["occlusion", "reference_corr_mean"])
    assert table.loc["agrees", "rank_text"] in ("1", "1-2")  # ranking ignores the reference
    markdown = to_markdown(board)
    assert "ba-shapes: Faithful reference (shown, not ranked)" in markdown
    assert "Corr. w/ occlusion" in markdown


def test_the_dataset_line_gives_the_plausibility_faithfulness_tau():
    frame, records = _frame([{"explainer": name, "quality": q}
                             for name, q in (("a", 2.0), ("b", 1.0), ("c", 0.5), ("random", 0.0))])
    auc = {"a": 0.9, "b": 0.8, "c": 0.7, "random": 0.5}
    frame["edge_auc"] = frame["explainer"].map(auc)
    frame["deletion_area"] = frame["explainer"].map({"a": 0.6, "b": 0.5, "c": 0.4, "random": 0.3})
    board = build_leaderboard(frame, records)
    assert plausibility_faithfulness_tau(board.section("ba-shapes")) == {
        "gin (standard)": pytest.approx(-1.0)}  # the most plausible is the least faithful
    assert "Kendall's tau between edge AUC and minus the deletion area" in to_markdown(board)


def test_a_capped_row_is_correlated_with_the_reference_on_the_instances_it_shares():
    reference = _records(1.0, 0)
    capped = InstanceRecords(IDS[:10][::-1], np.arange(11) * 8,
                             np.concatenate([reference.edge_scores[b * 8:(b + 1) * 8]
                                             for b in range(9, -1, -1)]), None, {})
    assert shared_instance_correlation(capped, reference) == pytest.approx(1.0)
    other = InstanceRecords(np.array([999]), np.array([0, 8]), np.arange(8.0), None, {})
    assert np.isnan(shared_instance_correlation(other, reference))


def test_rows_scored_by_message_scaling_say_so():
    frame, records = _frame([{"explainer": "a", "quality": 1.0}, {"explainer": "random", "quality": 0.0}])
    frame.loc[frame["explainer"] == "a", "config"] = '{"metric_options": {"removal_semantics": "scale"}}'
    table = build_leaderboard(frame, records).table.set_index("explainer")
    assert "message scaling" in table.loc["a", "note"]
    assert "message scaling" not in table.loc["random", "note"]
