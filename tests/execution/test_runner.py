"""The runner on tiny data: end to end into the store, failures, interrupt and resume, determinism."""

from __future__ import annotations

import logging
import pickle
from typing import Any, ClassVar

import pandas as pd
import pytest
import torch

import suite.execution.cell as cell_module
import suite.execution.progress as progress_module
from suite.core.paths import Paths
from suite.core.registry import UnknownNameError
from suite.core.types import DatasetInfo, Explanation, TaskLevel
from suite.datasets import DATASETS, register_dataset
from suite.execution.cell import run_cell
from suite.execution.executors import EXECUTORS
from suite.execution.runner import run_matrix
from suite.explainers.base import EXPLAINERS, Explainer, ExplainerInfo
from suite.graph.subgraphs import instance_batch
from suite.matrix import CellStatus, expand, parse_matrix
from suite.protocol import fit_instances, select_instances
from suite.store.database import ResultsStore
from suite.store.frame import TIMING_COLUMNS
from suite.training import ModelCache, accuracy, train_or_load
from suite.training.loop import EPOCH_LOG

NODE, GRAPH = frozenset({TaskLevel.NODE}), frozenset({TaskLevel.GRAPH})


class Control:
    """What the fake explainers saw and when they should interrupt (reset per test)."""

    calls: ClassVar[list[str]] = []
    fits: ClassVar[list[torch.Tensor]] = []
    interrupt_at: ClassVar[int | None] = None


class RandomScores(Explainer):
    """Uniform scores from the global torch generator (so the runner's seeding matters)."""

    def fit(self, model, dataset, ids, seed):
        Control.fits.append(ids.clone())

    def scores(self, m: int) -> torch.Tensor:
        return torch.rand(m)

    def explain(self, model, dataset, ids, seed) -> Explanation:
        Control.calls.append(self.info.name)
        if Control.interrupt_at is not None and len(Control.calls) == Control.interrupt_at:
            raise KeyboardInterrupt
        batch = instance_batch(dataset, ids, model.num_layers)
        edge_ids = batch.edge_ids[batch.explainable]
        return Explanation(task=dataset.task, instance_ids=ids, edge_ids=edge_ids,
                           edge_ptr=batch.explained_edge_ptr(),
                           edge_scores=self.scores(edge_ids.numel()))


class Raising(RandomScores):
    def scores(self, m):
        raise RuntimeError("boom in the explainer\nsecond line not shown")


class NaNScores(RandomScores):
    def scores(self, m):
        return torch.full((m,), float("nan"))


class Refusing(RandomScores):
    def supports(self, model, dataset):
        return "needs typed edges"


FAKES: dict[str, tuple[type[Explainer], frozenset]] = {
    "test-rand-a": (RandomScores, NODE | GRAPH), "test-rand-b": (RandomScores, NODE | GRAPH),
    "test-raise": (Raising, NODE | GRAPH), "test-nan": (NaNScores, NODE | GRAPH),
    "test-refuse": (Refusing, NODE | GRAPH), "test-graph-only": (RandomScores, GRAPH),
}


def _builder(data):
    def build(seed: int = 0):
        return data

    return build


@pytest.fixture(scope="module", autouse=True)
def fakes(tiny_node_dataset, tiny_graph_dataset):
    """Register test-only datasets and explainers; remove them after this module."""
    for name, (base, levels) in FAKES.items():
        cls = type(f"Fake_{name}", (base,), {})
        cls.info = ExplainerInfo(name=name, citation="test", task_levels=levels)
        EXPLAINERS.add(name, cls, info=cls.info)
    for name, data in (("test-houses", tiny_node_dataset), ("test-motifs", tiny_graph_dataset)):
        info = DatasetInfo(name, data.task, "test-family", True, "test", "conftest.py")
        register_dataset(info)(_builder(data))
    yield
    for name in FAKES:
        EXPLAINERS.remove(name)
    DATASETS.remove("test-houses")
    DATASETS.remove("test-motifs")


@pytest.fixture(autouse=True)
def control():
    Control.calls, Control.fits, Control.interrupt_at = [], [], None
    yield Control
    Control.interrupt_at = None


def _matrix(explainers: list[str], seeds=(0,), datasets=("test-houses",), **extra: Any):
    """A tiny matrix; its 10-epoch models predict few instances right, so it explains every
    ground-truth instance (``instances: all``) unless ``extra`` says otherwise."""
    extra = {"instances": "all", **extra}
    return parse_matrix({
        "name": "tiny", "seeds": list(seeds), "datasets": list(datasets), "max_instances": 5,
        "models": {"gcn": {"hidden": 8, "num_layers": 2}},
        "trainings": {"standard": {"epochs": 10, "patience": 0}},
        "explainers": explainers, **extra})


def _run(config, root, **kwargs):
    paths = Paths(root)
    with ResultsStore(root / "store.sqlite") as store:
        summary = run_matrix(config, store, paths, progress=False, **kwargs)
        return summary, store.cells_frame(), store.runs_frame()


def _scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Score columns that must not change between runs (timings dropped), by cell key."""
    drop = {*TIMING_COLUMNS, "run_id", "started_at", "finished_at", "seconds"}
    return frame.drop(columns=[c for c in frame.columns if c in drop]).set_index(
        "cell_key").sort_index()


# --------------------------------------------------------------------------- instances


def test_select_instances_is_a_fixed_nested_seeded_subset():
    ids = torch.arange(100, 200)
    assert torch.equal(select_instances(ids[:7], 10, 0), ids[:7])
    small, large = select_instances(ids, 10, 3), select_instances(ids, 40, 3)
    assert small.numel() == 10 and large.numel() == 40
    assert torch.equal(small, select_instances(ids, 10, 3)) and torch.equal(small, small.sort()[0])
    assert set(small.tolist()) <= set(large.tolist()) <= set(ids.tolist())
    assert not torch.equal(small, select_instances(ids, 10, 4))


def test_fit_instances_follow_the_explained_instances(tiny_node_dataset, tiny_graph_dataset):
    node = fit_instances(tiny_node_dataset)
    train = set(tiny_node_dataset.splits["train"].tolist())
    assert set(node.tolist()) == {i for i in train if tiny_node_dataset.gt_node_mask[i]}
    assert torch.equal(fit_instances(tiny_graph_dataset), tiny_graph_dataset.splits["train"])


# --------------------------------------------------------------------------- end to end


def test_small_matrix_lands_in_the_store(tmp_path, monkeypatch, tiny_node_dataset):
    trained = []
    original = cell_module.train_or_load

    def counting(*args, **kwargs):
        trained.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(cell_module, "train_or_load", counting)
    config = _matrix(["test-rand-a", "test-rand-b", "test-refuse", "test-graph-only"],
                     datasets=("test-houses", "test-motifs"))
    summary, frame, runs = _run(config, tmp_path)
    assert (summary.total, summary.done, summary.failed, summary.skipped) == (8, 5, 0, 3)
    assert len(trained) == 2  # one model per dataset, shared by its cells (memo)
    assert runs["status"].tolist() == ["finished"]
    rows = frame.set_index(["dataset", "explainer"])
    assert rows.loc[("test-houses", "test-refuse"), "error"] == "needs typed edges"
    assert "graph-level" not in rows.loc[("test-houses", "test-graph-only"), "error"]
    assert "node-level" in rows.loc[("test-houses", "test-graph-only"), "error"]
    assert rows.loc[("test-motifs", "test-graph-only"), "status"] == "done"
    done = frame[frame["status"] == "done"]
    assert done["edge_auc"].between(0, 1).all() and (done["explanations_per_s"] > 0).all()
    assert set(done["dataset_family"]) == {"test-family"}
    assert set(done["task"]) == {"node", "graph"}
    assert (done["below_accuracy_floor"] == (done["model_acc_test"] < 0.8)).all()
    # n: the cap, or every test instance when fewer
    expected_n = min(5, tiny_node_dataset.explain_ids["test"].numel())
    assert (rows.loc[("test-houses", "test-rand-a"), "n_instances"]) == expected_n
    # the recorded model accuracy is the cached model's accuracy, computed independently
    cell = next(c for c in expand(config)[0] if c.dataset == "test-houses")
    model, _, cached = train_or_load(cell.model, cell.model_hparams, cell.training,
                                     cell.training_config, tiny_node_dataset,
                                     {"seed": 0}, seed=0, cache=ModelCache(Paths(tmp_path).model_cache))
    assert cached
    test_acc = accuracy(model, tiny_node_dataset, tiny_node_dataset.splits["test"])
    assert rows.loc[("test-houses", "test-rand-a"), "model_acc_test"] == pytest.approx(test_acc)
    # amortised fitting saw the train-split motif nodes
    assert any(set(f.tolist()) == set(fit_instances(tiny_node_dataset).tolist())
               for f in Control.fits)


def test_failures_are_recorded_and_the_run_goes_on(tmp_path, control):
    config = _matrix(["test-raise", "test-nan", "test-rand-a"])
    summary, frame, runs = _run(config, tmp_path)
    assert (summary.done, summary.failed) == (1, 2) and runs["status"].tolist() == ["finished"]
    rows = frame.set_index("explainer")
    raised = rows.loc["test-raise", "error"]
    assert raised.startswith("RuntimeError: boom in the explainer\n  at ")
    assert "second line" not in raised and "test_runner.py" in raised
    assert rows.loc["test-nan", "error"].startswith("ValueError: explanation has NaN or inf")
    assert rows.loc["test-rand-a", "status"] == "done"
    assert rows.loc[["test-raise", "test-nan"], "edge_auc"].isna().all()
    assert "boom" in summary.text() and "test-nan" in summary.text()
    # a rerun retries the failed cells only
    control.calls.clear()
    summary, _, runs = _run(config, tmp_path)
    assert sorted(control.calls) == ["test-nan", "test-raise"]
    assert (summary.already_done, summary.failed) == (1, 2) and len(runs) == 2


def test_interrupt_then_resume_equals_an_uninterrupted_run(tmp_path, control):
    config = _matrix(["test-rand-a", "test-rand-b"], seeds=(0, 1))
    control.interrupt_at = 3
    with pytest.raises(KeyboardInterrupt):
        _run(config, tmp_path / "a")
    with ResultsStore(tmp_path / "a" / "store.sqlite") as store:
        frame, runs = store.cells_frame(), store.runs_frame()
    assert runs["status"].tolist() == ["interrupted"]
    assert (frame["status"] == "done").sum() == 2 and set(frame["seed"]) == {0}

    control.interrupt_at, control.calls = None, []
    summary, resumed, runs = _run(config, tmp_path / "a")
    assert control.calls == ["test-rand-a", "test-rand-b"]  # only the two missing cells
    assert (summary.already_done, summary.done) == (2, 2)
    assert runs["status"].tolist() == ["interrupted", "finished"]

    _, fresh, _ = _run(config, tmp_path / "b")
    _, again, _ = _run(config, tmp_path / "c")
    assert len(fresh) == 4 and (fresh["status"] == "done").all()
    pd.testing.assert_frame_equal(_scores(resumed), _scores(fresh), check_exact=True)
    pd.testing.assert_frame_equal(_scores(fresh), _scores(again), check_exact=True)  # determinism


def test_run_cell_is_pure_and_picklable(tmp_path):
    cells, _ = expand(_matrix(["test-rand-a"]))
    cell = pickle.loads(pickle.dumps(cells[0]))
    outcome = run_cell(cell, Paths(tmp_path))
    assert outcome.status == CellStatus.DONE and outcome.n_instances > 0
    again = pickle.loads(pickle.dumps(outcome))
    assert again.scores == pytest.approx(outcome.scores, nan_ok=True) and again.cell == cell
    assert not list(tmp_path.rglob("*.sqlite"))  # no store was touched
    broken = type(cell)(**{**cell.to_dict(), "dataset": "no-such-dataset"})
    failed = run_cell(broken, Paths(tmp_path))
    assert failed.status == CellStatus.FAILED and "no-such-dataset" in failed.error


def test_progress_bar_names_the_current_cell(tmp_path, capsys):
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run_matrix(_matrix(["test-rand-a"]), store, Paths(tmp_path), progress=True)
    err = capsys.readouterr().err
    assert "tiny" in err and "test-houses/gcn/test-rand-a" in err and "1/1" in err


def test_progress_bar_counts_only_the_cells_that_run(tmp_path, capsys):
    """A resumed run's bar counts the cells left to run (so its share and ETA mean the work
    left); skipped cells and cells already in the store are one line before it."""
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run_matrix(_matrix(["test-rand-a", "test-graph-only"]), store, Paths(tmp_path),
                   progress=False)
        capsys.readouterr()
        run_matrix(_matrix(["test-rand-a", "test-rand-b", "test-graph-only"]), store,
                   Paths(tmp_path), progress=True)
    err = capsys.readouterr().err
    # the first run recorded test-graph-only's skip (a node dataset) with test-rand-a
    assert "tiny: 1 cells to run; 0 skipped with their reason, 2 already in the store" in err
    assert "1/1" in err and "/3" not in err


def test_unknown_executor_fails_before_a_run_starts(tmp_path):
    assert "local" in EXECUTORS
    with ResultsStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(UnknownNameError, match="Did you mean 'local'"):
            run_matrix(_matrix(["test-rand-a"]), store, Paths(tmp_path), executor="lokal")
        assert store.runs_frame().empty


def test_adversarial_training_cells_record_robust_accuracy(tmp_path):
    config = _matrix(["random"], trainings={
        "standard": {"epochs": 10, "patience": 0},
        "adv-features": {"epochs": 10, "patience": 0, "epsilon": 0.1, "steps": 2}})
    summary, frame, _ = _run(config, tmp_path)
    assert summary.failed == 0
    by_training = frame.set_index("training")
    robust = by_training.loc["adv-features", "robust_acc_test"]
    assert 0.0 <= robust <= 1.0
    assert pd.isna(by_training.loc["standard"].get("robust_acc_test", float("nan")))


def test_explainers_of_a_group_explain_the_same_correctly_predicted_instances(tmp_path):
    config = _matrix(["test-rand-a", "test-rand-b"], instances="correct",
                     trainings={"standard": {"epochs": 300, "patience": 0}})
    summary, frame, _ = _run(config, tmp_path)
    assert summary.done == 2, summary.text()
    with ResultsStore(tmp_path / "store.sqlite") as store:
        records = store.instance_records()
    a, b = (records[k] for k in frame.sort_values("explainer")["cell_key"])
    assert a.num_instances > 0 and list(a.instance_ids) == list(b.instance_ids)
    assert (frame["explained_accuracy"] == 1.0).all() and (frame["protocol_version"] == 2).all()
    assert (frame["group_n"] == a.num_instances).all()
    assert a.edge_labels is not None and a.values["fid_plus_acc"].size == a.num_instances


def test_a_capped_explainer_explains_a_prefix_of_its_groups_instances(tmp_path):
    config = _matrix({"test-rand-a": {}, "test-rand-b": {"max_instances": 2}})
    _summary, frame, _ = _run(config, tmp_path)
    with ResultsStore(tmp_path / "store.sqlite") as store:
        records = store.instance_records()
    by_name = {row.explainer: records[row.cell_key] for row in frame.itertuples()}
    full, capped = by_name["test-rand-a"], by_name["test-rand-b"]
    assert capped.num_instances == 2 < full.num_instances
    assert set(capped.instance_ids) <= set(full.instance_ids)
    assert set(frame["group_n"]) == {float(full.num_instances)}


def test_two_runs_on_one_store_compute_each_cell_once(tmp_path):
    """A second run while the first still holds its cells' leases leaves them to it; once
    the first has finished (its leases expired), a rerun has nothing left to do."""
    config = parse_matrix({
        "name": "leases", "seeds": [0], "max_instances": 3, "instances": "all",
        "datasets": {"ba-shapes": {"num_base": 30, "num_motifs": 4, "num_features": 4}},
        "models": {"gcn": {"hidden": 4, "num_layers": 2}},
        "trainings": {"standard": {"epochs": 5, "patience": 0}},
        "explainers": {"random": {}, "saliency": {}}})
    with ResultsStore(tmp_path / "s.sqlite") as store:
        other = store.start_run(config, {"hostname": "elsewhere", "pid": 1})  # still running
        store.claim_cells(other, [c.key for c in expand(config)[0]][:1])
        summary = run_matrix(config, store, Paths(tmp_path), progress=False)
        assert (summary.done, summary.elsewhere, summary.elsewhere_runs) == (1, 1, [other])
        assert "1 cell(s) left to run(s)" in summary.text()
        store.finish_run(other)
        again = run_matrix(config, store, Paths(tmp_path), progress=False)
        assert (again.done, again.elsewhere) == (1, 0)  # the expired lease's cell, once
        assert len(store.cells_frame()) == 2


def test_progress_shows_training_epochs_inside_a_cell(tmp_path, capsys, monkeypatch):
    """Without a terminal the display is plain lines (no carriage returns), and a cell that
    trains its model shows its epochs (at most one line per interval; here every epoch)."""
    monkeypatch.setattr(progress_module, "LINE_EPOCH_INTERVAL", 0.0)
    with ResultsStore(tmp_path / "s.sqlite") as store:
        run_matrix(_matrix(["test-rand-a"]), store, Paths(tmp_path), progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert "tiny: test-houses/gcn/test-rand-a training epoch 10/10" in err
    assert "tiny: 1/1 test-houses/gcn/test-rand-a done" in err
    assert not EPOCH_LOG.handlers and not EPOCH_LOG.isEnabledFor(logging.DEBUG)  # restored
