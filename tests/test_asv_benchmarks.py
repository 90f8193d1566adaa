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
