"""Tests of the ``suite`` command line (``suite.cli.main``)."""

from __future__ import annotations

import json
import math
import types
from pathlib import Path

import pandas as pd
import pytest

from suite.cli import common as cli_common
from suite.cli import main
from suite.cli import run as cli_run
from suite.cli.listing import LISTINGS
from suite.explainers.gnnexplainer import GNNExplainer
from tests.board import EXPLAINERS, make_cells_frame

BOARD_FILES = ["auc_per_explainer.png", "auc_vs_throughput.png", "edges_dropped.png",
               "leaderboard.html", "leaderboard.md"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"expected one line on stderr, got {err!r}"
    assert "Traceback" not in err
    return err.strip()


# ----------------------------------------------------------------------------- suite list


def _fake_entries() -> dict[str, tuple[object, dict, str]]:
    """kind -> (factory, metadata, a metadata value the listing must show)."""
    from suite.core.types import DatasetInfo, TaskLevel
    from suite.explainers.base import ExplainerInfo
    from suite.metrics.base import MetricInfo
    from suite.models.base import ModelInfo
    from suite.training.base import TrainingInfo

    name = "zz-cli-fake"
    return {
        "datasets": (lambda **_: None, {"info": DatasetInfo(
            name, TaskLevel.GRAPH, "fake-family", False, "Fake et al. 2031", "tests")},
            "fake-family"),
        "models": (lambda *_, **__: None, {"info": ModelInfo(
            name, "Fake model 2031", frozenset({TaskLevel.GRAPH}))}, "Fake model 2031"),
        "trainings": (lambda **_: None, {"info": TrainingInfo(name, "Fake training 2031")},
                      "Fake training 2031"),
        "explainers": (lambda **_: None, {"info": ExplainerInfo(
            name, "Fake explainer 2031", source="pyg")}, "Fake explainer 2031"),
        "metrics": (lambda ctx: {}, {"info": MetricInfo(
            name, "a fake metric", ("fake_col",), needs_ground_truth=True,
            citation="Fake metric 2031")}, "fake_col"),
    }


@pytest.mark.parametrize("kind", ["datasets", "models", "trainings", "explainers", "metrics"])
def test_list_prints_every_registered_name_with_metadata(kind, capsys):
    registry = LISTINGS.get(kind).load()
    factory, metadata, shown = _fake_entries()[kind]
    registry.add("zz-cli-fake", factory, **metadata)
    try:
        assert main(["list", kind]) == 0
        out = capsys.readouterr().out
        names = registry.names()
    finally:
        registry.remove("zz-cli-fake")
    first_words = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert set(names) <= first_words
    fake_line = next(line for line in out.splitlines() if line.startswith("zz-cli-fake"))
    assert shown in fake_line
    if kind == "datasets":
        assert " graph " in fake_line and " no " in fake_line  # task level, no ground truth
    if kind == "explainers":
        assert " pyg " in fake_line


def test_list_accepts_the_singular(capsys):
    assert main(["list", "Model"]) == 0
    assert "gcn" in capsys.readouterr().out


def test_unknown_list_kind_exits_2_with_one_line_suggestion(capsys):
    assert main(["list", "explaners"]) == 2
    line = _error_line(capsys)
    assert "explaners" in line and "'explainers'" in line


# ----------------------------------------------------------------------------- help, version


@pytest.mark.parametrize("command", [[], ["list"], ["run"], ["leaderboard"], ["tune"]],
                         ids=lambda c: c[0] if c else "suite")
def test_help_works_for_every_command(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: suite")
    assert "examples:" in out


def test_version(capsys):
    from suite import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"suite {__version__}"


def test_usage_errors_are_one_line(capsys):
    assert main(["run"]) == 2
    assert "--matrix" in _error_line(capsys)
    assert main([]) == 2
    _error_line(capsys)
    assert main(["run", "--matrix", "smoke", "--device", "tpu"]) == 2
    assert "tpu" in _error_line(capsys)
    # the ad-hoc form cuts the default preset down; a name it lacks lists what it has
    assert main(["run", "--datasets", "ba-shape", "--seeds", "0"]) == 2
    assert "'ba-shape' is not in this matrix; it has ba-shapes" in _error_line(capsys)


# ----------------------------------------------------------------------------- suite run


def test_unknown_matrix_name_exits_2_suggesting_the_closest(suite_home, capsys):
    pytest.importorskip("suite.matrix", reason="suite/matrix.py is not written yet")
    assert main(["run", "--matrix", "smok", "--root", str(suite_home)]) == 2
    line = _error_line(capsys)
    assert "smok" in line and "'smoke'" in line
    assert not (suite_home / "results").exists()  # nothing is written before the matrix is valid


def test_malformed_yaml_matrix_exits_2_naming_the_file(suite_home, capsys):
    pytest.importorskip("suite.matrix", reason="suite/matrix.py is not written yet")
    path = suite_home / "broken.yaml"
    path.write_text("datasets: [ba-shapes\nmodels: {gcn: \n")
    assert main(["run", "--matrix", str(path)]) == 2
    assert str(path) in _error_line(capsys)


def test_a_matrix_file_that_is_not_utf8_exits_2_naming_the_byte(suite_home, capsys):
    path = suite_home / "latin.yaml"
    path.write_bytes(b"name: x\nseeds: [0]\n\xff\xfe: 1\n")
    assert main(["run", "--matrix", str(path), "--root", str(suite_home)]) == 2
    line = _error_line(capsys)
    assert "latin.yaml: not UTF-8 text (byte 0xff at offset 19)" in line


def test_a_seed_too_large_to_store_exits_2_before_anything_runs(suite_home, capsys):
    assert main(["run", "--matrix", "smoke", "--seeds", str(2 ** 64), "--root",
                 str(suite_home)]) == 2
    assert "seeds[0]: must be below 9223372036854775808" in _error_line(capsys)
    assert not (suite_home / "results").exists()


@pytest.mark.parametrize("argv, field", [
    (["--executor", "processes", "--workers", "0"], "--workers: expected a positive number"),
    (["--workers", "2"], "--workers: only used with --executor processes"),
    (["--executor", "processes", "--address", "auto"], "--address: only used with --executor ray"),
])
def test_executor_options_are_checked_before_anything_runs(suite_home, capsys, argv, field):
    assert main(["run", "--matrix", "smoke", "--root", str(suite_home), *argv]) == 2
    assert field in _error_line(capsys)
    assert not (suite_home / "results").exists()


@pytest.mark.parametrize("argv, field", [
    (["--num-cpus", "0"], "--num-cpus: expected a positive number"),
    (["--address", "auto", "--num-cpus", "2"], "--num-cpus: only for a local cluster"),
])
def test_ray_options_are_checked_before_a_cluster_starts(suite_home, capsys, argv, field):
    pytest.importorskip("ray")
    assert main(["run", "--matrix", "smoke", "--root", str(suite_home), "--executor", "ray",
                 *argv]) == 2
    assert field in _error_line(capsys)
    assert not (suite_home / "results").exists()


def test_device_cuda_without_cuda_is_a_clear_error(monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["run", "--matrix", "smoke", "--device", "cuda"]) == 2
    line = _error_line(capsys)
    assert "CUDA is not available" in line and "--device cpu" in line


def _record(store, frame: pd.DataFrame) -> None:
    """Write the rows of a hand-made cells frame into a real ``ResultsStore``."""
    from suite.matrix import Cell, CellOutcome, CellStatus, MatrixConfig

    run_id = store.start_run(
        MatrixConfig(name="test", datasets={}, models={}, explainers={}),
        {"suite_version": "0.1.0", "git_commit": "abc123def", "device": "cpu",
         "device_name": "Test CPU", "packages": {"torch": "2.13.0"}})
    known = set(Cell.__dataclass_fields__)
    meta = {"cell_key", "run_id", "dataset_family", "task", "explainer_source", "device",
            "device_name", "config", "status", "error", "n_instances", "seconds",
            "suite_version", "git_commit", *known}
    for _, row in frame.iterrows():
        cell = Cell(dataset=row["dataset"], dataset_params={}, model=row["model"],
                    model_hparams={}, training=row["training"], training_config={},
                    explainer=row["explainer"], explainer_hparams={}, seed=int(row["seed"]),
                    max_instances=100, device="cpu", accuracy_floor=0.8, metric_options={})
        scores = {k: float(v) for k, v in row.items() if k not in meta}
        text = lambda key: "" if not isinstance(row.get(key), str) else row[key]  # noqa: E731
        n = row.get("n_instances")
        store.record_cell(run_id, CellOutcome(
            cell=cell, status=CellStatus(row["status"]),
            scores=scores if row["status"] == "done" else {}, error=text("error"),
            n_instances=0 if n is None or math.isnan(n) else int(n),
            dataset_family=text("dataset_family"), task=text("task"),
            explainer_source=text("explainer_source"),
            seconds=0.0 if math.isnan(row.get("seconds", math.nan)) else float(row["seconds"])))


def test_a_run_that_lost_cells_exits_130_naming_them(suite_home, monkeypatch, capsys):
    """A worker died: its cells stay pending and the run is interrupted, so the exit status
    is not success (CI must not take an incomplete store for a finished one)."""
    monkeypatch.setattr(cli_run, "run_matrix", lambda *a, **k: types.SimpleNamespace(
        done=5, failed=0, skipped=0, pending=2))
    monkeypatch.setattr(cli_common, "load_matrix", lambda name: types.SimpleNamespace(name=name))
    assert main(["run", "--matrix", "fake", "--no-progress", "--no-leaderboard"]) == 130
    assert "2 cell(s) lost by the executor are still pending" in capsys.readouterr().err


def test_run_writes_the_store_and_the_board(suite_home, monkeypatch, capsys):
    calls = []

    def fake_run_matrix(config, store, paths, device=None, progress=True, executor="local",
                        executor_options=None):
        calls.append({"config": config, "paths": paths, "device": device, "progress": progress,
                      "executor": executor, "executor_options": executor_options})
        _record(store, make_cells_frame())
        return types.SimpleNamespace(done=17, failed=1, skipped=3)

    monkeypatch.setattr(cli_run, "run_matrix", fake_run_matrix)
    monkeypatch.setattr(cli_common, "load_matrix", lambda name: types.SimpleNamespace(name=name))
    assert main(["run", "--matrix", "fake", "--no-progress"]) == 1  # a cell failed
    captured = capsys.readouterr()
    assert "17 done, 1 failed, 3 skipped" in captured.out
    assert "1 cell(s) failed" in captured.err
    assert calls[0]["device"] is None and calls[0]["progress"] is False
    assert calls[0]["executor"] == "local" and calls[0]["executor_options"] == {}
    assert calls[0]["paths"].root == suite_home.resolve()
    assert (suite_home / "results" / "store.sqlite").is_file()
    board = suite_home / "results" / "leaderboard"
    assert sorted(p.name for p in board.iterdir()) == BOARD_FILES

    store = suite_home / "other.sqlite"
    assert main(["run", "--matrix", "fake", "--store", str(store), "--no-leaderboard",
                 "--out", str(suite_home / "unused")]) == 1
    assert store.is_file() and not (suite_home / "unused").exists()
    clean = types.SimpleNamespace(done=17, failed=0, skipped=3)  # skipped cells are not failures
    monkeypatch.setattr(cli_run, "run_matrix", lambda *a, **k: clean)
    assert main(["run", "--matrix", "fake", "--store", str(store), "--no-leaderboard"]) == 0


# ----------------------------------------------------------------------------- suite leaderboard


def test_leaderboard_from_a_store_writes_the_three_outputs(tmp_path, capsys):
    store_module = pytest.importorskip("suite.store.database", reason="suite/store/database.py is not written yet")
    path = tmp_path / "store.sqlite"
    with store_module.ResultsStore(path) as store:
        _record(store, make_cells_frame())
    out = tmp_path / "board"
    assert main(["leaderboard", "--store", str(path), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == BOARD_FILES
    md = (out / "leaderboard.md").read_text()
    for explainer in EXPLAINERS:
        assert f"| {explainer} |" in md
    assert "torch 2.13.0" in md and "boom" in md and "(below floor)" in md
    assert str(out / "leaderboard.html") in capsys.readouterr().out


def test_leaderboard_without_a_store_exits_2(suite_home, capsys):
    assert main(["leaderboard"]) == 2
    line = _error_line(capsys)
    assert str(suite_home / "results" / "store.sqlite") in line and "suite run" in line
    assert not (suite_home / "results").exists()  # no empty store is created


def test_leaderboard_on_a_file_that_is_not_a_store_exits_2(tmp_path, capsys):
    pytest.importorskip("suite.store.database", reason="suite/store/database.py is not written yet")
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database " * 100)
    assert main(["leaderboard", "--store", str(path), "--out", str(tmp_path / "b")]) == 2
    assert str(path) in _error_line(capsys)
    assert Path(path).read_text().startswith("not a database")


# ----------------------------------------------------------------------------- suite tune


def test_tune_unknown_explainer_is_one_line(capsys):
    assert main(["tune", "--explainer", "gnnexplaner", "--task", "node"]) == 2
    assert "gnnexplainer" in _error_line(capsys)


def test_tune_refuses_a_ground_truth_criterion_in_one_line(capsys):
    assert main(["tune", "--explainer", "gnnexplainer", "--task", "node",
                 "--criterion", "edge_auc"]) == 2
    line = _error_line(capsys)
    assert "reads the ground truth" in line and "removal" in line


def test_list_has_a_json_form_and_explainer_parameters(capsys):
    assert main(["list", "explainers", "--format", "json", "--params"]) == 0
    listing = json.loads(capsys.readouterr().out)
    items = {item["name"]: item for item in listing["items"]}
    assert listing["kind"] == "explainers" and "gnnexplainer" in items
    assert items["gnnexplainer"]["parameters"]["epochs"] == GNNExplainer().config.epochs
    assert set(items["saliency"]) >= {"name", "task_levels", "source", "citation"}
    assert main(["list", "explainers", "--params"]) == 0
    assert "epochs=" in capsys.readouterr().out
    assert main(["list", "datasets", "--params"]) == 2
    assert "--params" in _error_line(capsys)
