"""The asv benchmarks import and run once (the fast tier keeps them from rotting)."""

import math

import pytest

from benchmarks import bench_explain


@pytest.fixture(scope="module")
def cache():
    return {"ba-shapes": bench_explain.build("ba-shapes")}


class _QuickExplain(bench_explain.Explain):
    hparams = {"graphmask": {"epochs_per_layer": 3}, "graphmask-instance": {"epochs_per_layer": 3},
               "pgexplainer": {"epochs": 2}, "gnnexplainer": {"epochs": 20}}


@pytest.mark.parametrize("explainer", bench_explain.EXPLAINERS)
def test_benchmark_runs_once(cache, explainer):
    bench = _QuickExplain()
    try:
        bench.setup(cache, explainer, "ba-shapes")
    except NotImplementedError as exc:  # asv skips it; the reason must say why
        assert explainer == "erasure-search" and "node-level" in str(exc)
        return
    bench.time_explain(cache, explainer, "ba-shapes")
    bench.time_fit(cache, explainer, "ba-shapes")
    auc = bench.track_edge_auc(cache, explainer, "ba-shapes")
    assert 0.0 <= auc <= 1.0 and not math.isnan(auc)


def test_parameters_cover_every_suite_explainer_and_dataset():
    from suite.explainers import EXPLAINERS

    ours = {e.name for e in EXPLAINERS.entries() if e.metadata["info"].source != "pyg"}
    assert ours == set(bench_explain.EXPLAINERS)
    assert set(bench_explain.Explain.params[1]) == set(bench_explain.DATASETS)


@pytest.fixture(scope="module")
def train_cache():
    from benchmarks import bench_train

    return bench_train.Train().setup_cache()


@pytest.mark.parametrize("training", ["standard", "adv-features", "adv-structure"])
def test_train_benchmark_runs_once(train_cache, training):
    from benchmarks import bench_train

    bench = bench_train.Train()
    bench.epochs_scale = 0.02  # a few epochs: the benchmark runs, not the study
    bench.time_train(train_cache, training, "ba-shapes")
    acc = bench.track_test_accuracy(train_cache, training, "ba-shapes")
    assert 0.0 <= acc <= 1.0
    robust = bench.track_robust_accuracy(train_cache, training, "ba-shapes")
    assert math.isnan(robust) == (training == "standard")
    assert set(bench_train.Train.params[0]) == set(bench_train.ATTACKS)


def test_memory_benchmark_runs_once(monkeypatch):
    from benchmarks import bench_memory

    monkeypatch.setattr(bench_memory, "SIZES", {"small": (100, 20, 10)})
    bench = bench_memory.BigGraph()
    cache = bench.setup_cache()
    dataset, model, ids = cache["small"]
    for explainer in bench_memory.EXPLAINERS:
        bench.peakmem_instance_batch(cache, explainer, "small")
        bench.peakmem_explain(cache, explainer, "small")
        # what the benchmark measures is a valid explanation of the instances it names
        explanation = bench_memory.build_explainer(
            explainer, **bench_memory.HPARAMS.get(explainer, {})).explain(model, dataset, ids, 0)
        explanation.validate()
        assert explanation.instance_ids.tolist() == ids.tolist()


def test_asv_pins_torch_to_the_cpu_wheel_when_it_builds_its_environment():
    """asv builds its virtualenv from the package registry; torch is pinned first, so the
    wheel's own ``torch`` range is already met and no CUDA build is pulled."""
    import json
    from pathlib import Path

    from benchmarks import bench_quick

    config = json.loads((Path(__file__).resolve().parents[2] / "asv.conf.json").read_text())
    assert config["environment_type"] == "virtualenv"
    assert config["matrix"]["req"] == {"torch": "==2.13.0"}
    assert all("--no-deps" in command for command in config["build_command"])
    assert bench_quick.EXPLAINERS and hasattr(bench_quick.QuickList, "time_suite_list")
