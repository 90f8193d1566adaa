"""``gcn-sum`` (the GNNExplainer paper's node model) against a hand-run dense forward."""

from __future__ import annotations

import pytest
import torch

from suite.models import build_model


def _dense_forward(model, x, edge_index, self_term: bool, last_relu: bool) -> torch.Tensor:
    """Independent reference: y = ((A [+ I]) h) W + b, row-wise L2 norm, ReLU (not on the
    last layer when ``last_relu`` is False), classifier on the concatenated states."""
    n = x.size(0)
    adj = torch.zeros(n, n)
    adj.index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.size(1)), accumulate=True)
    if self_term:
        adj = adj + torch.eye(n)
    h, states = x, []
    for i, conv in enumerate(model.convs):
        lin = conv.nn
        h = (adj @ h) @ lin.weight.T + lin.bias
        h = h / h.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        if last_relu or i < len(model.convs) - 1:
            h = torch.relu(h)
        states.append(h)
    return model.head(torch.cat(states, dim=-1))


@pytest.mark.parametrize("self_term,last_relu", [(True, True), (True, False), (False, False)])
def test_gcn_sum_matches_dense_reference(tiny_node_dataset, self_term, last_relu):
    torch.manual_seed(0)
    ds = tiny_node_dataset
    model = build_model("gcn-sum", ds, hidden=8, num_layers=3, self_term=self_term,
                        last_relu=last_relu).eval()
    x = torch.randn_like(ds.data.x)  # varied features, so the self term and norm show
    expected = _dense_forward(model, x, ds.data.edge_index, self_term, last_relu)
    got = model(x, ds.data.edge_index)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # the options matter: the reference with the other choice differs
    for other in (_dense_forward(model, x, ds.data.edge_index, not self_term, last_relu),
                  _dense_forward(model, x, ds.data.edge_index, self_term, not last_relu)):
        assert not torch.allclose(other, got, atol=1e-4)


def test_gcn_sum_states_are_unit_norm(tiny_node_dataset):
    ds = tiny_node_dataset
    model = build_model("gcn-sum", ds, hidden=8, num_layers=2, last_relu=False).eval()
    z = model.embed(torch.randn_like(ds.data.x), ds.data.edge_index)
    last = z[:, 8:]  # jk=cat: the last layer's state, L2-normalised and without ReLU
    torch.testing.assert_close(last.norm(dim=-1), torch.ones(z.size(0)), atol=1e-5, rtol=0)
    assert bool((last < 0).any())


# ------------------------------------------------- gcn's paper form (normalize: false)


def test_gcn_paper_form_equals_gcn_sum(tiny_node_dataset):
    """``gcn`` with the GNNExplainer paper's options builds ``gcn-sum``'s model: same
    parameters from the same seed, same outputs, and both match the dense reference."""
    ds = tiny_node_dataset
    torch.manual_seed(3)
    paper = build_model("gcn", ds, hidden=8, num_layers=3, normalize=False, l2_norm=True,
                        last_relu=False).eval()
    torch.manual_seed(3)
    reference = build_model("gcn-sum", ds, hidden=8, num_layers=3, last_relu=False).eval()
    for (name, a), (_, b) in zip(paper.state_dict().items(), reference.state_dict().items()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    x = torch.randn_like(ds.data.x)
    got = paper(x, ds.data.edge_index)
    torch.testing.assert_close(got, reference(x, ds.data.edge_index), atol=0, rtol=0)
    torch.testing.assert_close(got, _dense_forward(paper, x, ds.data.edge_index, True, False),
                               atol=1e-5, rtol=1e-5)


def test_gcn_defaults_keep_the_normalised_layer(tiny_node_dataset):
    from torch_geometric.nn import GCNConv

    ds = tiny_node_dataset
    torch.manual_seed(0)
    plain = build_model("gcn", ds, hidden=8, num_layers=2).eval()
    assert all(isinstance(conv, GCNConv) for conv in plain.convs)
    torch.manual_seed(0)
    unnormalised = build_model("gcn", ds, hidden=8, num_layers=2, normalize=False).eval()
    x = torch.randn_like(ds.data.x)
    assert not torch.allclose(plain(x, ds.data.edge_index), unnormalised(x, ds.data.edge_index),
                              atol=1e-4)
