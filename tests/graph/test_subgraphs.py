"""The batched computation-subgraph union reproduces full-graph predictions exactly."""

import pytest
import torch
from torch_geometric.utils import k_hop_subgraph

from suite.graph import subgraphs
from suite.graph.masking import edge_mask
from suite.graph.pruning import layer_plan, plan_for
from suite.graph.subgraphs import graph_batch, instance_batch, node_batch
from suite.models import build_model


@pytest.fixture(params=["gcn", "gin", "gat"])
def node_model(request, tiny_node_dataset):
    torch.manual_seed(0)
    return build_model(request.param, tiny_node_dataset, hidden=8, num_layers=3).eval()


def full_logits(model, dataset):
    return model(dataset.data.x, dataset.data.edge_index)


def test_union_predictions_equal_full_graph(node_model, tiny_node_dataset):
    targets = torch.arange(0, tiny_node_dataset.data.num_nodes, 3)
    batch = node_batch(tiny_node_dataset.data, targets, node_model.num_layers)
    out = batch.select_outputs(node_model(batch.x, batch.edge_index, **batch.model_kwargs()))
    torch.testing.assert_close(out, full_logits(node_model, tiny_node_dataset)[targets],
                               atol=1e-6, rtol=0)


def test_naive_khop_cut_changes_gcn_predictions(tiny_node_dataset):
    """The context edges matter: without them GCN's degree normalisation changes."""
    torch.manual_seed(0)
    model = build_model("gcn", tiny_node_dataset, hidden=8, num_layers=3).eval()
    data = tiny_node_dataset.data
    full = full_logits(model, tiny_node_dataset)
    changed = 0
    for t in range(data.num_nodes):
        subset, ei, mapping, _ = k_hop_subgraph(t, 3, data.edge_index, relabel_nodes=True,
                                               num_nodes=data.num_nodes)
        out = model(data.x[subset], ei)[mapping]
        changed += int(not torch.allclose(out, full[t:t + 1], atol=1e-5))
    assert changed > 0


def test_explainable_edges_are_edges_into_the_k_minus_1_hop_ball(tiny_node_dataset):
    data = tiny_node_dataset.data
    targets = torch.tensor([0, 5, 61, 99])
    batch = node_batch(data, targets, num_hops=3)
    ptr = batch.explained_edge_ptr()
    explained = batch.edge_ids[batch.explainable]
    for b, t in enumerate(targets.tolist()):
        ball, _, _, _ = k_hop_subgraph(t, 2, data.edge_index, num_nodes=data.num_nodes)
        expected = torch.isin(data.edge_index[1], ball).nonzero().view(-1)
        assert torch.equal(explained[ptr[b]:ptr[b + 1]], expected)
        # the instance's union nodes carry their global ids and their features
        nodes = batch.node_ids[batch.node_instance == b]
        assert torch.equal(batch.x[batch.node_instance == b], data.x[nodes])
    assert torch.equal(batch.node_ids[batch.target_index], targets)


def test_masked_union_equals_masked_full_graph(node_model, tiny_node_dataset):
    data = tiny_node_dataset.data
    targets = torch.tensor([3, 40, 70, 95])
    batch = node_batch(data, targets, node_model.num_layers)
    mask = torch.rand(batch.num_explainable, generator=torch.Generator().manual_seed(0))
    with edge_mask(node_model, batch.full_mask(mask)):
        out = batch.select_outputs(node_model(batch.x, batch.edge_index))
    ptr, explained = batch.explained_edge_ptr(), batch.edge_ids[batch.explainable]
    for b, t in enumerate(targets.tolist()):
        full_mask = torch.ones(data.edge_index.size(1))
        full_mask[explained[ptr[b]:ptr[b + 1]]] = mask[ptr[b]:ptr[b + 1]]
        with edge_mask(node_model, full_mask):
            expected = node_model(data.x, data.edge_index)[t]
        torch.testing.assert_close(out[b], expected, atol=1e-6, rtol=0)


def test_chunked_build_equals_single_chunk(monkeypatch, tiny_node_dataset):
    targets = torch.arange(0, 100, 7)
    whole = node_batch(tiny_node_dataset.data, targets, 2)
    monkeypatch.setattr(subgraphs, "_MAX_DENSE_ENTRIES", 700)  # forces chunks of a few targets
    chunked = node_batch(tiny_node_dataset.data, targets, 2)
    for name in ("x", "edge_index", "node_ids", "node_instance", "edge_ids", "edge_instance",
                 "explainable", "target_index"):
        assert torch.equal(getattr(whole, name), getattr(chunked, name)), name


def test_graph_batch_equals_per_graph_predictions(tiny_gin_graph, tiny_graph_dataset):
    ids = torch.tensor([7, 2, 30])
    batch = instance_batch(tiny_graph_dataset, ids, tiny_gin_graph.num_layers)
    assert batch.explainable.all()
    out = tiny_gin_graph(batch.x, batch.edge_index, **batch.model_kwargs())
    for b, g in enumerate(ids.tolist()):
        graph = tiny_graph_dataset.graph(g)
        torch.testing.assert_close(out[b], tiny_gin_graph(graph.x, graph.edge_index)[0],
                                   atol=1e-6, rtol=0)
        e0, e1 = tiny_graph_dataset.edge_ptr[g], tiny_graph_dataset.edge_ptr[g + 1]
        assert torch.equal(batch.edge_ids[batch.edge_instance == b], torch.arange(e0, e1))


def test_bad_hops_rejected(tiny_node_dataset):
    with pytest.raises(ValueError, match="num_hops"):
        node_batch(tiny_node_dataset.data, torch.tensor([0]), 0)
    with pytest.raises(AssertionError):
        graph_batch(tiny_node_dataset, torch.tensor([0]))


def test_sparse_construction_equals_the_dense_reference():
    """The frontier-search batch (cost of the subgraphs) equals the dense-table one."""
    from torch_geometric.data import Data
    from torch_geometric.utils import barabasi_albert_graph

    from suite.graph.subgraphs import _node_batch_chunk, _node_batch_sparse

    torch.manual_seed(0)
    edge_index = barabasi_albert_graph(200, 3)
    data = Data(x=torch.randn(200, 3), edge_index=edge_index)
    targets = torch.tensor([5, 0, 199, 37, 5])  # repeated and hub targets included
    for k in (1, 2, 3):
        dense, sparse = _node_batch_chunk(data, targets, k, 2), _node_batch_sparse(data, targets, k, 2)
        for name in ("x", "edge_index", "node_ids", "node_instance", "edge_ids", "edge_instance",
                     "explainable", "target_index"):
            assert torch.equal(getattr(dense, name), getattr(sparse, name)), (name, k)


def _fields(batch):
    return {name: getattr(batch, name) for name in batch.__dataclass_fields__}


@pytest.mark.parametrize("dataset_name", ["tiny_node_dataset", "tiny_graph_dataset"])
def test_take_rebuilds_the_batch_of_any_instances_in_any_order(dataset_name, request):
    """Mini-batches sliced out of one batch equal the batches extracted afresh, field by
    field (PGExplainer's fit slices its epochs' mini-batches this way)."""
    dataset = request.getfixturevalue(dataset_name)
    ids = dataset.splits["train"][:12]
    every = instance_batch(dataset, ids, 3)
    shuffled = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    for rows in (torch.tensor([5, 0, 11, 3]), shuffled, torch.tensor([7])):
        taken, fresh = _fields(every.take(rows)), _fields(instance_batch(dataset, ids[rows], 3))
        assert taken.keys() == fresh.keys()
        for name, value in fresh.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(taken[name], value), name
                assert taken[name].dtype == value.dtype, name
            else:
                assert taken[name] == value, name


def test_take_carries_the_pruning_plan_sliced(tiny_node_dataset):
    """A batch sliced out of a planned one carries its part of the plan: the plan a hop
    search on the slice itself gives."""
    ids = tiny_node_dataset.splits["train"][:12]
    every = instance_batch(tiny_node_dataset, ids, 3)
    plan_for(every, 3)
    taken = every.take(torch.tensor([9, 2, 4]))
    carried = taken.__dict__["_plans"][3]
    fresh = layer_plan(taken.edge_index, taken.target_index, int(taken.x.size(0)), 3)
    assert [n.tolist() for n in carried.need] == [n.tolist() for n in fresh.need]
    assert [k.tolist() for k in carried.keep] == [k.tolist() for k in fresh.keep]
