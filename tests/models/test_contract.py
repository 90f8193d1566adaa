"""Every registered model: shapes, the mask contract explainers rely on, determinism."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from suite.core.types import TaskLevel
from suite.graph.masking import edge_mask, message_hooks
from suite.models import build_model
from suite.models.base import MODELS, model_info

MODEL_NAMES = MODELS.names()


@pytest.fixture(params=["node", "graph"])
def dataset(request):
    return request.getfixturevalue(f"tiny_{request.param}_dataset")


def _typed(ds):
    """A copy of ``ds`` with 3 edge types (for models defined only on typed edges)."""
    data = ds.data.clone()
    data.edge_type = torch.arange(data.edge_index.size(1)) % 3
    return dataclasses.replace(ds, data=data, num_edge_types=3)


def _for(name, ds):
    return _typed(ds) if model_info(name).requires_edge_type else ds


def _call(model, ds):
    kwargs = {"batch": ds.data.batch} if ds.task == TaskLevel.GRAPH else {}
    return model(ds.data.x, ds.data.edge_index, edge_type=getattr(ds.data, "edge_type", None), **kwargs)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_output_shape_and_embedding(name, dataset):
    if dataset.task not in model_info(name).task_levels:
        pytest.skip(f"{name} does not support {dataset.task.value} tasks")
    dataset = _for(name, dataset)
    torch.manual_seed(0)
    model = build_model(name, dataset).eval()
    out = _call(model, dataset)
    rows = dataset.data.num_nodes if dataset.task == TaskLevel.NODE else dataset.num_graphs
    assert out.shape == (rows, dataset.num_classes)
    assert isinstance(model.num_layers, int) and model.num_layers >= 1
    kwargs = {"batch": dataset.data.batch} if dataset.task == TaskLevel.GRAPH else {}
    z = model.embed(dataset.data.x, dataset.data.edge_index, edge_type=getattr(dataset.data, "edge_type", None),
                    **kwargs)
    assert torch.allclose(model.classify(z), out)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_all_ones_mask_is_the_bare_model_and_zeros_cut_every_edge(name, dataset):
    if dataset.task not in model_info(name).task_levels:
        pytest.skip(f"{name} does not support {dataset.task.value} tasks")
    dataset = _for(name, dataset)
    torch.manual_seed(0)
    model = build_model(name, dataset).eval()
    e = dataset.data.edge_index.size(1)
    with torch.no_grad():
        bare = _call(model, dataset)
        with edge_mask(model, torch.ones(e)):
            ones = _call(model, dataset)
        with edge_mask(model, torch.zeros(e)):
            zeros = _call(model, dataset)
        seen = []
        with message_hooks(model, lambda ctx, m: seen.append((ctx.layer, m.size(0))) or m):
            _call(model, dataset)
    assert torch.allclose(ones, bare, atol=1e-6)
    assert not torch.allclose(zeros, bare, atol=1e-4)  # the model uses its edges
    assert sorted({layer for layer, _ in seen}) == list(range(len(seen)))
    assert all(size >= e for _, size in seen)  # one message per edge (+ appended self-loops)


def test_models_that_need_typed_edges_are_refused_without_them(tiny_graph_dataset):
    from suite.models.base import model_supports

    for name in MODEL_NAMES:
        if model_info(name).requires_edge_type:
            assert "typed edges" in (model_supports(name, tiny_graph_dataset) or "")
            assert model_supports(name, _typed(tiny_graph_dataset)) is None


def test_mean_max_pool_is_both_poolings_side_by_side(tiny_graph_dataset):
    """``pool="mean+max"`` embeds a graph as [mean-pooled | max-pooled] node states."""
    from torch_geometric.nn import global_max_pool, global_mean_pool

    ds = tiny_graph_dataset
    torch.manual_seed(0)
    model = build_model("gcn", ds, hidden=8, num_layers=2, jk="last", pool="mean+max").eval()
    x, edge_index, batch = ds.data.x, ds.data.edge_index, ds.data.batch
    h = x
    for conv in model.convs:
        h = conv(h, edge_index).relu()
    expected = torch.cat([global_mean_pool(h, batch), global_max_pool(h, batch)], dim=-1)
    z = model.embed(x, edge_index, batch=batch)
    assert model.embedding_dim == 16 and z.shape == (ds.num_graphs, 16)
    assert torch.allclose(z, expected, atol=1e-6)
    assert model(x, edge_index, batch=batch).shape == (ds.num_graphs, ds.num_classes)
