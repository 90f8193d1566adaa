"""The CUDA path: same results on the GPU as on the CPU (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_pruned_explainers_match_the_cpu(tiny_gcn, tiny_node_dataset):
    import copy

    from suite.explainers import build_explainer

    ids = torch.cat([tiny_node_dataset.explain_ids["val"], tiny_node_dataset.explain_ids["test"]])
    gpu_model = copy.deepcopy(tiny_gcn).to("cuda")
    for name, hparams in (("gnnexplainer", {"epochs": 20}), ("saliency", {}),
                          ("integrated-gradients", {"steps": 4})):
        cpu = build_explainer(name, **hparams).explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
        gpu = build_explainer(name, **hparams).explain(gpu_model, tiny_node_dataset, ids, seed=0)
        assert gpu.meta["device"].startswith("cuda")
        torch.testing.assert_close(gpu.edge_scores, cpu.edge_scores, atol=1e-4, rtol=1e-3)


def test_bench_and_scaling_quick_on_cuda(tmp_path):
    from suite.cli import main

    assert main(["bench", "--quick", "--device", "cuda", "--root", str(tmp_path),
                 "--out", str(tmp_path / "bench"), "--quiet"]) == 0
    assert "cuda" in (tmp_path / "bench" / "bench.md").read_text()
    assert main(["bench", "--scaling", "--quick", "--device", "cuda",
                 "--out", str(tmp_path / "scaling"), "--quiet"]) == 0


def test_check_runs_on_cuda(tmp_path):
    from suite.cli import main

    # a model trained on the GPU differs in float rounding only: within the seed tolerances
    assert main(["check", "--reference", "smoke", "--device", "cuda",
                 "--root", str(tmp_path), "--no-progress"]) == 0
