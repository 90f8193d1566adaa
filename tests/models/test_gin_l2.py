"""``gin-l2``: the GIN's layers with every layer's state L2-normalised per node."""

from __future__ import annotations

import torch

from suite.models import build_model


def test_gin_l2_is_gin_with_unit_norm_states(tiny_node_dataset):
    """Same weights, same layers: each state of ``gin-l2`` is ReLU of gin's pre-activation
    divided by its L2 norm; ``gin``'s own states are not normalised."""
    ds = tiny_node_dataset
    torch.manual_seed(0)
    plain = build_model("gin", ds, hidden=8, num_layers=3).eval()
    torch.manual_seed(0)
    normed = build_model("gin-l2", ds, hidden=8, num_layers=3).eval()
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(),
                                                   normed.state_dict().values()))
    x, edge_index = torch.randn_like(ds.data.x), ds.data.edge_index
    h, expected = x, []
    for conv in normed.convs:
        pre = conv(h, edge_index)
        h = torch.relu(pre / pre.norm(dim=-1, keepdim=True).clamp(min=1e-12))
        expected.append(h)
    torch.testing.assert_close(normed.embed(x, edge_index), torch.cat(expected, dim=-1))
    norms = normed.embed(x, edge_index).view(x.size(0), 3, 8).norm(dim=-1)
    assert (norms <= 1 + 1e-5).all() and not torch.allclose(
        plain.embed(x, edge_index).view(x.size(0), 3, 8).norm(dim=-1), norms)
