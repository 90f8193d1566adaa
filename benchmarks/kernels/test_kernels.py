"""pytest-benchmark timings of the hot kernels (opt-in: ``make bench-kernels``, never the fast tier).

Each benchmark times one kernel on data built outside the timed call:

- hard-concrete sampling (GraphMask's gates) on a million logits, forward and backward;
- batched mask application: one masked forward+backward of a GCN / GIN through the
  message hooks over the BA-Shapes batch of 80 targets (the GNNExplainer step);
- AUC over many instances: per-instance and pooled ROC-AUC on 10,000 ragged instances;
- ``instance_batch`` construction for the 80 BA-Shapes test targets and 100 BA-2Motifs graphs.

Run: ``make bench-kernels`` (``pytest benchmarks/kernels -p pytest_benchmark``); add
``--benchmark-autosave`` to keep a history and ``--benchmark-compare`` to compare with it.
"""

from __future__ import annotations

import pytest
import torch

from suite.datasets import load_dataset
from suite.explainers import hard_concrete as hc
from suite.explainers.toolkit import forward
from suite.graph.subgraphs import instance_batch
from suite.metrics.auc import per_instance_roc_auc, roc_auc
from suite.models import build_model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def ba_shapes():
    dataset = load_dataset("ba-shapes", seed=0)
    return dataset, dataset.explain_ids["test"][:80]


@pytest.fixture(scope="module")
def ba_2motifs():
    dataset = load_dataset("ba-2motifs", seed=0)
    return dataset, dataset.splits["test"][:100]


def test_hard_concrete_sample(benchmark):
    cfg = hc.HardConcreteConfig()
    logits = torch.randn(1_000_000, requires_grad=True)
    noise = hc.uniform_noise(logits.shape, cfg, torch.Generator().manual_seed(0))

    def step():
        gate = hc.sample(logits, cfg, noise)
        (gate.gate.sum() + hc.expected_l0(logits, cfg).sum()).backward()

    benchmark(step)


@pytest.mark.parametrize("model_name,layers", [("gcn", 3), ("gin", 3)])
def test_masked_forward_backward(benchmark, ba_shapes, model_name, layers):
    dataset, ids = ba_shapes
    torch.manual_seed(0)
    model = build_model(model_name, dataset, hidden=20, num_layers=layers).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    view = instance_batch(dataset, ids, layers)
    mask = torch.full((view.num_explainable,), 0.7, requires_grad=True)

    def step():
        out = forward(model, view, mask)
        out.logsumexp(-1).sum().backward()

    benchmark(step)


def test_auc_over_many_instances(benchmark):
    gen = torch.Generator().manual_seed(0)
    counts = torch.randint(20, 200, (10_000,), generator=gen)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    scores = torch.rand(int(ptr[-1]), generator=gen)
    labels = torch.rand(int(ptr[-1]), generator=gen) < 0.2

    def both():
        per_instance_roc_auc(scores, labels, ptr)
        roc_auc(scores, labels)

    benchmark(both)


def test_instance_batch_nodes(benchmark, ba_shapes):
    dataset, ids = ba_shapes
    benchmark(instance_batch, dataset, ids, 3)


def test_instance_batch_graphs(benchmark, ba_2motifs):
    dataset, ids = ba_2motifs
    benchmark(instance_batch, dataset, ids, 3)
