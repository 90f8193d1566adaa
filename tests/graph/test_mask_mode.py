"""Weight-mode edge masks: the model run on the weighted subgraph (suite.graph.masking)."""

import pytest
import torch
from torch_geometric.nn import GCNConv

from suite.explainers.toolkit import forward, instance_views
from suite.graph.masking import edge_mask
from suite.models import build_model


def _random_mask(ei: torch.Tensor, seed: int, binary: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    m = torch.rand(ei.size(1), generator=gen)
    return (m > 0.4).float() if binary else m


@pytest.mark.parametrize("name", ["gcn", "gin", "gcn-sum", "graphconv"])
def test_weight_mode_ones_is_identity_and_binary_equals_deletion(name, tiny_node_dataset):
    torch.manual_seed(0)
    model = build_model(name, tiny_node_dataset, hidden=8, num_layers=3).eval()
    x = torch.randn_like(tiny_node_dataset.data.x)
    ei = tiny_node_dataset.data.edge_index
    bare = model(x, ei)
    with edge_mask(model, torch.ones(ei.size(1)), mode="weight"):
        torch.testing.assert_close(model(x, ei), bare, atol=1e-5, rtol=0)
    keep = _random_mask(ei, 1, binary=True)
    deleted = model(x, ei[:, keep.bool()])
    with edge_mask(model, keep, mode="weight"):
        torch.testing.assert_close(model(x, ei), deleted, atol=1e-5, rtol=0)
    if name == "gcn":  # message mode keeps the deleted edges' degrees: it differs
        with edge_mask(model, keep):
            assert not torch.allclose(model(x, ei), deleted, atol=1e-3)


def test_weight_mode_soft_mask_equals_gcn_edge_weight(tiny_node_dataset):
    """A soft mask in weight mode is GCNConv's own ``edge_weight`` (independent path)."""
    torch.manual_seed(0)
    model = build_model("gcn", tiny_node_dataset, hidden=8, num_layers=3, jk="last").eval()
    x = torch.randn_like(tiny_node_dataset.data.x)
    ei = tiny_node_dataset.data.edge_index
    m = _random_mask(ei, 2, binary=False)
    h = x
    for conv in model.convs:
        assert isinstance(conv, GCNConv)
        h = torch.relu(conv(h, ei, edge_weight=m))
    reference = model.classify(h)
    with edge_mask(model, m, mode="weight"):
        torch.testing.assert_close(model(x, ei), reference, atol=1e-5, rtol=0)


def test_sum_aggregation_modes_coincide(tiny_node_dataset):
    torch.manual_seed(0)
    model = build_model("gin", tiny_node_dataset, hidden=8, num_layers=3).eval()
    x = torch.randn_like(tiny_node_dataset.data.x)
    ei = tiny_node_dataset.data.edge_index
    m = _random_mask(ei, 3, binary=False)
    with edge_mask(model, m):
        message = model(x, ei)
    with edge_mask(model, m, mode="weight"):
        torch.testing.assert_close(model(x, ei), message, atol=1e-6, rtol=0)


def test_weight_mode_on_a_batch_view_equals_the_full_graph(tiny_node_dataset, tiny_gcn):
    """forward(mask_mode="weight") on a batched view == deleting the 0 edges of the full graph."""
    model = tiny_gcn
    ds = tiny_node_dataset
    ids = ds.explain_ids["test"][:4]
    (view,) = instance_views(ds, ids, model.num_layers, batched=True)
    m = torch.ones(int(view.explainable.sum()))
    m[::3] = 0.0
    out = forward(model, view, m, mask_mode="weight")
    dropped = view.edge_ids[view.explainable][m == 0]
    keep = torch.ones(ds.data.edge_index.size(1), dtype=torch.bool)
    keep[dropped] = False
    with torch.no_grad():
        full = model(ds.data.x, ds.data.edge_index[:, keep])[ids]
    torch.testing.assert_close(out.detach(), full, atol=1e-5, rtol=0)


def test_weight_mode_refuses_attention_and_unknown_modes(tiny_node_dataset):
    model = build_model("gat", tiny_node_dataset, hidden=8, num_layers=2)
    ones = torch.ones(tiny_node_dataset.data.edge_index.size(1))
    with pytest.raises(ValueError, match="supports GCNConv, GINConv and GraphConv.*GATConv"):
        with edge_mask(model, ones, mode="weight"):
            pass
    with pytest.raises(ValueError, match="mask mode: expected one of message, weight"):
        with edge_mask(model, ones, mode="edge"):
            pass
