"""Node states read from message-passing layers by temporary forward hooks."""

from __future__ import annotations

import pytest
import torch

from suite.explainers.embeddings import (
    all_node_states,
    capture_states,
    forward_with_states,
    node_states,
)
from suite.graph.masking import message_layers
from suite.graph.subgraphs import graph_batch, instance_batch


def _manual_states(model, x, edge_index):
    """Every conv's output, computed by hand: conv -> ReLU -> next conv (no dropout in eval)."""
    states = []
    for conv in model.convs:
        out = conv(x, edge_index)
        states.append(out)
        x = torch.relu(out)
    return states


def _no_hooks(model) -> bool:
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


@pytest.mark.parametrize("level", ["node", "graph"])
def test_node_states_equal_a_manual_forward(level, request):
    """GCN (node fixture) and GIN (graph fixture): the last conv's output, before the ReLU."""
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    ids = dataset.explain_ids["test"][:3]
    view = instance_batch(dataset, ids, model.num_layers)
    with torch.no_grad():
        expected = _manual_states(model, view.x, view.edge_index)
        torch.testing.assert_close(node_states(model, view), expected[-1])
        torch.testing.assert_close(all_node_states(model, view), torch.cat(expected, dim=-1))
    assert _no_hooks(model)


def test_forward_with_states_returns_the_model_outputs(tiny_gin_graph, tiny_graph_dataset):
    view = graph_batch(tiny_graph_dataset, torch.tensor([0, 3, 5]))
    with torch.no_grad():
        logits, states = forward_with_states(tiny_gin_graph, view, (0, -1))
        expected = tiny_gin_graph(view.x, view.edge_index, batch=view.node_instance)
        manual = _manual_states(tiny_gin_graph, view.x, view.edge_index)
    torch.testing.assert_close(logits, expected)
    assert len(states) == 2
    torch.testing.assert_close(states[0], manual[0])
    torch.testing.assert_close(states[1], manual[-1])


def test_hooks_are_removed_when_the_forward_raises(tiny_gcn, tiny_node_dataset):
    layer = message_layers(tiny_gcn)[-1]
    with pytest.raises(RuntimeError, match="boom"):
        with capture_states(tiny_gcn) as states:
            tiny_gcn(tiny_node_dataset.data.x, tiny_node_dataset.data.edge_index)
            assert len(states) == len(message_layers(tiny_gcn))
            assert layer._forward_hooks
            raise RuntimeError("boom")
    assert _no_hooks(tiny_gcn)


def test_bad_layer_index_names_the_range(tiny_gcn):
    with pytest.raises(ValueError, match="3 MessagePassing layers"):
        with capture_states(tiny_gcn, [5]):
            pass
    assert _no_hooks(tiny_gcn)


def test_model_without_message_passing_is_refused():
    with pytest.raises(ValueError, match="no MessagePassing layers"):
        with capture_states(torch.nn.Linear(2, 2)):
            pass
