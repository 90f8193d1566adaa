"""Shared fixtures: tiny seeded datasets and trained models (seconds, not minutes).

These are test doubles built by hand, independent of the suite's generators, so
the explainer, metric and runner tests do not depend on dataset code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.utils import barabasi_albert_graph, to_undirected

from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel

HOUSE = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 0), (4, 1)]  # square 0-3, roof node 4
CYCLE5 = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]


def _house_graph(num_base: int, num_houses: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    import numpy as np

    np.random.seed(seed)
    torch.manual_seed(seed)  # PyG's generator also draws from torch's global RNG
    edges = barabasi_albert_graph(num_base, 2).t().tolist()
    labels = [0] * num_base
    gt_pairs = set()
    n = num_base
    roles = [2, 2, 3, 3, 1]
    for _ in range(num_houses):
        for a, b in HOUSE:
            edges.append((n + a, n + b))
            gt_pairs.add((n + a, n + b))
            gt_pairs.add((n + b, n + a))
        anchor = int(torch.randint(num_base, (1,), generator=gen))
        edges.append((n + 3, anchor))
        labels += roles
        n += 5
    edge_index = to_undirected(torch.tensor(edges, dtype=torch.long).t(), num_nodes=n)
    gt = torch.tensor([(int(u), int(v)) in gt_pairs for u, v in edge_index.t()], dtype=torch.bool)
    return edge_index, torch.tensor(labels), gt


from torch import Tensor  # noqa: E402


def _split(ids: Tensor, seed: int) -> dict[str, Tensor]:
    perm = ids[torch.randperm(ids.numel(), generator=torch.Generator().manual_seed(seed))]
    n_train, n_val = int(0.6 * perm.numel()), int(0.2 * perm.numel())
    return {"train": perm[:n_train].sort().values, "val": perm[n_train:n_train + n_val].sort().values,
            "test": perm[n_train + n_val:].sort().values}


@pytest.fixture(scope="session")
def tiny_node_dataset() -> BenchmarkDataset:
    """A 60-node BA graph with 8 houses (100 nodes), constant features, 4 classes."""
    edge_index, y, gt_edges = _house_graph(60, 8, seed=0)
    n = y.numel()
    data = Data(x=torch.ones(n, 4), edge_index=edge_index)
    splits = _split(torch.arange(n), seed=0)
    motif = y > 0
    gt_nodes = motif.clone()
    return BenchmarkDataset(
        info=DatasetInfo("tiny-houses", TaskLevel.NODE, "synthetic", True, "test fixture", "tests/conftest.py"),
        data=data, y=y, num_classes=4, splits=splits,
        explain_ids={k: v[motif[v]] for k, v in splits.items() if k in ("val", "test")},
        gt_edge_mask=gt_edges, gt_node_mask=gt_nodes,
    )


@pytest.fixture(scope="session")
def tiny_graph_dataset() -> BenchmarkDataset:
    """40 graphs: a 10-node BA tree plus a house (class 0) or a 5-cycle (class 1)."""
    import numpy as np

    xs, eis, ys, gts, node_ptr, edge_ptr = [], [], [], [], [0], [0]
    gen = torch.Generator().manual_seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    for g in range(40):
        label = g % 2
        motif = HOUSE if label == 0 else CYCLE5
        base = barabasi_albert_graph(10, 1).t().tolist()
        k = 5
        edges = base + [(10 + a, 10 + b) for a, b in motif]
        edges.append((10, int(torch.randint(10, (1,), generator=gen))))
        ei = to_undirected(torch.tensor(edges).t(), num_nodes=10 + k)
        gt = (ei >= 10).all(0)
        xs.append(torch.ones(10 + k, 4))
        eis.append(ei + node_ptr[-1])
        gts.append(gt)
        ys.append(label)
        node_ptr.append(node_ptr[-1] + 10 + k)
        edge_ptr.append(edge_ptr[-1] + ei.size(1))
    x = torch.cat(xs)
    batch = torch.repeat_interleave(torch.arange(40), torch.diff(torch.tensor(node_ptr)))
    data = Data(x=x, edge_index=torch.cat(eis, 1), batch=batch)
    gt_edges = torch.cat(gts)
    gt_nodes = torch.zeros(x.size(0), dtype=torch.bool)
    gt_nodes[data.edge_index[:, gt_edges].flatten()] = True
    splits = _split(torch.arange(40), seed=0)
    return BenchmarkDataset(
        info=DatasetInfo("tiny-motifs", TaskLevel.GRAPH, "synthetic", True, "test fixture", "tests/conftest.py"),
        data=data, y=torch.tensor(ys), num_classes=2, splits=splits,
        explain_ids={k: v for k, v in splits.items() if k in ("val", "test")},
        gt_edge_mask=gt_edges, gt_node_mask=gt_nodes,
        node_ptr=torch.tensor(node_ptr), edge_ptr=torch.tensor(edge_ptr),
    )


def _train(model: torch.nn.Module, dataset: BenchmarkDataset, epochs: int) -> torch.nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    d = dataset.data
    kwargs = {"batch": d.batch} if dataset.task == TaskLevel.GRAPH else {}
    for _ in range(epochs):
        opt.zero_grad()
        out = model(d.x, d.edge_index, **kwargs)
        loss = torch.nn.functional.cross_entropy(out, dataset.y)
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def train_model():
    """``train_model(model, dataset, epochs)``: the full-batch training the tiny models get."""
    return _train


@pytest.fixture(scope="session")
def tiny_gcn(tiny_node_dataset):
    """A 3-layer GCN trained briefly on ``tiny_node_dataset`` (full batch, all labels)."""
    from suite.models import build_model

    torch.manual_seed(0)
    return _train(build_model("gcn", tiny_node_dataset, hidden=16, num_layers=3), tiny_node_dataset, 300)


@pytest.fixture(scope="session")
def tiny_gin_graph(tiny_graph_dataset):
    """A 3-layer GIN trained briefly on ``tiny_graph_dataset``."""
    from suite.models import build_model

    torch.manual_seed(0)
    return _train(build_model("gin", tiny_graph_dataset, hidden=16, num_layers=3), tiny_graph_dataset, 300)


def pytest_configure(config):
    # One thread: these models are tiny (threads only add synchronisation), and it
    # makes timings and floating-point sums independent of the machine's load.
    torch.set_num_threads(int(os.environ.get("SUITE_TEST_THREADS", "1")))


@pytest.fixture()
def mirror() -> Path:
    """The data mirror (``SUITE_DATA_MIRROR``), or skip on a developer machine without it.

    With the ``CI`` environment variable set, a missing mirror FAILS the test: a
    broken data path must not pass silently (the mirror README's rule).
    """
    from suite.core.paths import data_mirror

    path = data_mirror()
    if path is None:
        message = "needs the data mirror: set SUITE_DATA_MIRROR (e.g. ../shared/data)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the data mirror is missing: {message}")
        pytest.skip(message)
    return path


@pytest.fixture()
def suite_home(tmp_path: Path, monkeypatch) -> Path:
    """An empty root directory for caches, stores and boards."""
    monkeypatch.setenv("SUITE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture()
def plugin_registry():
    """Unregister the explainers a test registered (plug-ins loaded with ``load_plugin``)."""
    from suite.explainers import EXPLAINERS

    before = set(EXPLAINERS.names())
    yield EXPLAINERS
    for name in set(EXPLAINERS.names()) - before:
        EXPLAINERS.remove(name)


@pytest.fixture(scope="module")
def cluster():
    """One local two-CPU Ray cluster for the module; yields its address (skips without Ray)."""
    ray = pytest.importorskip("ray", reason='Ray is not installed (pip install ".[ray]")')
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
