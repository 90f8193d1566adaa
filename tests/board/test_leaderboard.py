"""Tests of ``suite.board.table``: aggregation, ranking, problems, Markdown and written files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite.board.format import format_cell
from suite.board.markdown import to_markdown
from suite.board.numbers import format_number
from suite.board.table import CONVENTIONS, DISPLAY_COLUMNS, SCORE_COLUMNS, build_leaderboard
from suite.board.write import write_leaderboard
from suite.store.frame import KEY
from suite.store.submissions import EXTERNAL_SOURCE
from tests.board import EXPLAINERS, FREE_DATASET, GT_DATASET, make_cells_frame

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def frame() -> pd.DataFrame:
    return make_cells_frame()


def _row(board, dataset: str, explainer: str) -> pd.Series:
    table = board.table
    rows = table[(table["dataset"] == dataset) & (table["explainer"] == explainer)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_means_and_stds_match_pandas_groupby(frame):
    board = build_leaderboard(frame)
    done = frame[frame["status"] == "done"]
    scores = [s for s in SCORE_COLUMNS if s in frame.columns]
    expected = done.groupby(list(KEY))[scores].agg(["mean", "std"])
    assert len(board.table) == len(expected)
    for key, want in expected.iterrows():
        got = board.table.set_index(list(KEY)).loc[key]
        for score in scores:
            np.testing.assert_allclose(got[f"{score}_mean"], want[(score, "mean")], equal_nan=True)
            np.testing.assert_allclose(got[f"{score}_std"], want[(score, "std")], equal_nan=True)
    sizes = done.groupby(list(KEY)).agg(n=("n_instances", "min"), seeds=("seed", "nunique"))
    for key, want in sizes.iterrows():
        got = board.table.set_index(list(KEY)).loc[key]
        assert (got["n"], got["seeds"]) == (want["n"], want["seeds"])


def test_missing_score_column_is_nan_and_missing_key_column_is_refused(frame):
    board = build_leaderboard(frame)
    assert "fid_minus_acc_soft" not in frame.columns
    assert board.table["fid_minus_acc_soft_mean"].isna().all()
    with pytest.raises(ValueError, match="explainer"):
        build_leaderboard(frame.drop(columns="explainer"))


def test_failed_and_skipped_cells_are_listed_with_reason_and_not_scored(frame):
    board = build_leaderboard(frame)
    assert "pgexplainer" not in set(board.table["explainer"])
    assert _row(board, GT_DATASET, "gnnexplainer")["seeds"] == 2
    problems = board.problems.set_index(["dataset", "explainer"])
    failed = problems.loc[(GT_DATASET, "gnnexplainer")]
    assert (failed["status"], failed["seeds"]) == ("failed", "2")
    assert failed["reason"] == "RuntimeError: boom | bad"  # the exception line, not "Traceback"
    skipped = problems.loc[(FREE_DATASET, "pgexplainer")]
    assert (skipped["status"], skipped["seeds"]) == ("skipped", "0, 1, 2")
    assert "graph-level" in skipped["reason"]


def test_a_model_skipped_for_every_explainer_is_one_row_of_problems(frame):
    """A model that cannot run on a dataset is one row ("all N explainers"), and explainers
    skipped with the same reason on the same seeds share a row."""
    names = sorted(frame["explainer"].unique())
    explainers = len(names)
    row = frame[(frame["dataset"] == GT_DATASET) & (frame["status"] == "done")].iloc[0]
    template = pd.DataFrame([{**row.to_dict(), "explainer": e, "seed": seed}
                             for e in names for seed in (0, 1, 2)])
    excluded = template.assign(model="other", status="skipped",
                               error="models.other.only_datasets restricts it to tox-free")
    two = template[template["explainer"].isin(["saliency", "random"])].assign(
        model="third", status="skipped", error="needs typed edges")
    for part in (excluded, two):  # one cell key per cell
        part["cell_key"] = [f"{m}-{e}-{s}" for m, e, s in part[["model", "explainer", "seed"]].values]
    board = build_leaderboard(pd.concat([frame, excluded, two], ignore_index=True))
    rows = board.problems.set_index("model")
    assert rows.loc["other", "explainer"] == f"all {explainers} explainers"
    assert rows.loc["other", "seeds"] == "0, 1, 2" and "only_datasets" in rows.loc["other", "reason"]
    assert rows.loc["third", "explainer"] == "random, saliency"
    assert len(board.problems) == 2 + 2  # the fixture's failed and skipped cells stay their own rows


def test_a_failure_later_retried_successfully_is_not_listed(frame):
    retried = frame[(frame["status"] == "failed")].assign(status="done", error=None, n_instances=50)
    retried[list(SCORE_COLUMNS[:4])] = 0.5
    board = build_leaderboard(pd.concat([frame, retried], ignore_index=True))
    assert "failed" not in set(board.problems["status"])
    assert _row(board, GT_DATASET, "gnnexplainer")["seeds"] == 3


def test_rank_follows_headline_auc_and_falls_back_without_ground_truth(frame):
    board = build_leaderboard(frame)
    assert board.rank_metric == {GT_DATASET: "edge_auc", FREE_DATASET: "fid_plus_acc"}
    done = frame[frame["status"] == "done"]
    for dataset, metric in board.rank_metric.items():
        means = done[done["dataset"] == dataset].groupby("explainer")[metric].mean()
        expected_order = list(means.sort_values(ascending=False).index)
        section = board.section(dataset)
        assert list(section["explainer"]) == expected_order
        assert list(section["rank"]) == [1.0, 2.0, 3.0]
    no_fid = build_leaderboard(frame.drop(columns="fid_plus_acc"))
    assert no_fid.rank_metric[FREE_DATASET] == "characterization"


def test_ties_share_the_better_rank(frame):
    frame = frame.copy()
    frame.loc[frame["dataset"] == GT_DATASET, "edge_auc"] = frame["explainer"].map(
        {"saliency": 0.9, "gnnexplainer": 0.9, "random": 0.5})
    section = build_leaderboard(frame).section(GT_DATASET)
    assert sorted(section["rank"]) == [1.0, 1.0, 3.0]
    assert section.iloc[-1]["explainer"] == "random"


def test_model_below_accuracy_floor_is_flagged(frame):
    board = build_leaderboard(frame)
    acc = next(c for c in DISPLAY_COLUMNS if c.key == "model_acc_test")
    for explainer in EXPLAINERS:
        assert format_cell(_row(board, FREE_DATASET, explainer), acc).endswith("(below floor)")
        assert "below floor" not in format_cell(_row(board, GT_DATASET, explainer), acc)
    partial = frame.copy()
    partial.loc[(partial["dataset"] == GT_DATASET) & (partial["explainer"] == "random")
                & (partial["seed"] == 0), "below_accuracy_floor"] = 1.0
    row = _row(build_leaderboard(partial), GT_DATASET, "random")
    assert format_cell(row, acc).endswith("(below floor in 1/3 seeds)")


def test_duplicate_cell_keys_keep_the_last_record(frame):
    last = frame.iloc[[0]].assign(edge_auc=0.123456)
    board = build_leaderboard(pd.concat([frame, last], ignore_index=True))
    first = frame.iloc[0]
    expected = frame.loc[(frame["dataset"] == first["dataset"])
                         & (frame["explainer"] == first["explainer"]), "edge_auc"].copy()
    expected.iloc[0] = 0.123456
    got = _row(board, first["dataset"], first["explainer"])
    assert got["edge_auc_mean"] == pytest.approx(expected.mean())
    assert got["seeds"] == 3


def test_a_later_configuration_replaces_an_earlier_one_per_seed(frame):
    frame = frame.assign(finished_at=[f"2026-01-01T00:00:{i:02d}" for i in range(len(frame))])
    first = frame.iloc[0]
    rerun = frame.iloc[[0]].assign(cell_key="other-config-hash", edge_auc=0.987654,
                                   finished_at="2026-02-01T00:00:00")
    board = build_leaderboard(pd.concat([rerun, frame], ignore_index=True))  # order must not matter
    expected = frame.loc[(frame["dataset"] == first["dataset"])
                         & (frame["explainer"] == first["explainer"]), "edge_auc"].copy()
    expected.iloc[0] = 0.987654
    got = _row(board, first["dataset"], first["explainer"])
    assert got["edge_auc_mean"] == pytest.approx(expected.mean())
    assert got["seeds"] == 3


def test_plugin_score_columns_are_aggregated(frame):
    frame = frame.assign(graphmask_retained=np.arange(len(frame), dtype=float))
    board = build_leaderboard(frame)
    assert "graphmask_retained" in board.scores
    done = frame[frame["status"] == "done"]
    want = done[(done["dataset"] == GT_DATASET) & (done["explainer"] == "random")]
    assert _row(board, GT_DATASET, "random")["graphmask_retained_mean"] == pytest.approx(
        want["graphmask_retained"].mean())
    assert "graphmask_retained" in [c.key for c in board.columns(GT_DATASET)]


def test_format_number_kinds():
    assert format_number(0.92456, "score") == "0.925"
    assert format_number(float("nan"), "score") == "-"
    assert format_number(1234.4, "rate") == "1234"
    assert format_number(53.26, "rate") == "53.3"
    assert format_number(2.5, "rate") == "2.50"
    assert format_number(26.4, "rate", like=809.0) == "26"  # a std takes its mean's precision


def test_markdown_states_conventions_and_shows_every_row(frame):
    board = build_leaderboard(frame)
    md = to_markdown(board)
    for phrase in ("pooled over the directed edges", "absolute values", "mean +- std",
                   "number of ground-truth edges", "soft", "explanations per second"):
        assert phrase in md
    for convention in CONVENTIONS:
        assert convention in md
    assert "0.1.0" in md and "abc123def" in md and "Test CPU" in md
    for dataset in (GT_DATASET, FREE_DATASET):
        assert f"## {dataset}" in md
    for explainer in EXPLAINERS:
        assert md.count(f"| {explainer} |") >= 2  # one row per dataset
    row = _row(board, GT_DATASET, "saliency")
    assert f"{row['edge_auc_mean']:.3f} +- {row['edge_auc_std']:.3f}" in md
    assert "RuntimeError: boom \\| bad" in md  # pipes in store strings cannot break tables
    assert "(below floor)" in md
    assert "## Failed and skipped cells" in md and "pgexplainer" in md


def test_datasets_without_ground_truth_omit_empty_auc_columns(frame):
    board = build_leaderboard(frame)
    free = [c.key for c in board.columns(FREE_DATASET, markdown=True)]
    assert "edge_auc" not in free and "fid_plus_acc" in free
    assert "edge_auc" in [c.key for c in board.columns(GT_DATASET, markdown=True)]


def test_write_leaderboard_writes_markdown_html_and_valid_pngs(frame, tmp_path):
    paths = write_leaderboard(frame, tmp_path / "board")
    names = sorted(p.name for p in paths)
    assert names == ["auc_per_explainer.png", "auc_vs_throughput.png", "edges_dropped.png",
                     "leaderboard.html", "leaderboard.md"]
    for path in paths:
        assert path.is_file() and path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_MAGIC
    expected = to_markdown(build_leaderboard(frame))
    assert (tmp_path / "board" / "leaderboard.md").read_text() == expected
    assert "data:image/png;base64," in (tmp_path / "board" / "leaderboard.html").read_text()
    assert not list((tmp_path / "board").glob("*.tmp"))


def test_a_store_without_finished_cells_still_gives_a_board(frame, tmp_path):
    failed_only = frame[frame["status"] != "done"]
    board = build_leaderboard(failed_only)
    assert board.table.empty and len(board.problems) == 2
    assert "No finished cells" in to_markdown(board)
    paths = write_leaderboard(failed_only, tmp_path)
    assert all(p.is_file() for p in paths)
    assert [p.read_bytes()[:8] for p in paths if p.suffix == ".png"] == [PNG_MAGIC] * 3


def test_markdown_shows_submitted_strings_literally_and_keeps_their_provenance_apart():
    evil = "<img src=x onerror=alert(1)>"
    frame = make_cells_frame(explainer_names=("saliency", evil))
    frame.loc[frame["status"] == "skipped", "error"] = "<script>alert('x')</script> `code`"
    frame.loc[frame["explainer"] == "saliency", "device_name"] = "[click](javascript:alert(1))"
    submitted = frame["explainer"] == evil
    frame.loc[submitted, "explainer_source"] = EXTERNAL_SOURCE
    frame.loc[submitted, "git_commit"] = "deadbeef-submitted"
    text = to_markdown(build_leaderboard(frame))
    assert evil not in text and "<script>" not in text and "](javascript" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "\\`code\\`" in text
    provenance = text.split("## Where the numbers come from", 1)[1].split("\n## ", 1)[0]
    assert "deadbeef-submitted" not in provenance
    assert "submitted cells:" in provenance
