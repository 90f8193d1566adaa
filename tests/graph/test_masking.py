import pytest
import torch

from suite.graph.masking import edge_mask, message_hooks, message_layers
from suite.models import build_model


def hooks_left(model) -> int:
    return sum(len(layer._message_forward_hooks) + len(layer._propagate_forward_pre_hooks)
               for layer in message_layers(model))


@pytest.mark.parametrize("name", ["gcn", "gin", "gat"])
def test_ones_mask_is_identity_and_zero_mask_changes_output(name, tiny_node_dataset):
    torch.manual_seed(0)
    model = build_model(name, tiny_node_dataset, hidden=8, num_layers=2).eval()
    x = torch.randn_like(tiny_node_dataset.data.x)
    ei = tiny_node_dataset.data.edge_index
    bare = model(x, ei)
    with edge_mask(model, torch.ones(ei.size(1))):
        torch.testing.assert_close(model(x, ei), bare)
    with edge_mask(model, torch.zeros(ei.size(1))):
        assert not torch.allclose(model(x, ei), bare)
    with edge_mask(model, None):
        torch.testing.assert_close(model(x, ei), bare)
    assert hooks_left(model) == 0


def test_per_layer_masks_only_touch_their_layer(tiny_node_dataset):
    torch.manual_seed(0)
    model = build_model("gin", tiny_node_dataset, hidden=8, num_layers=2).eval()
    ei = tiny_node_dataset.data.edge_index
    x = torch.randn_like(tiny_node_dataset.data.x)
    seen = []

    def spy(ctx, messages):
        seen.append((ctx.layer, messages.abs().sum().item()))
        return messages

    ones, zeros = torch.ones(ei.size(1)), torch.zeros(ei.size(1))
    with edge_mask(model, [ones, zeros]), message_hooks(model, spy):
        model(x, ei)
    assert [i for i, _ in seen] == [0, 1]
    assert seen[0][1] > 0 and seen[1][1] == 0


def test_hooks_removed_when_body_raises(tiny_node_dataset):
    model = build_model("gcn", tiny_node_dataset, hidden=8, num_layers=2)
    with pytest.raises(RuntimeError, match="boom"):
        with edge_mask(model, torch.ones(tiny_node_dataset.data.edge_index.size(1))):
            assert hooks_left(model) == 4
            raise RuntimeError("boom")
    assert hooks_left(model) == 0


def test_mask_shorter_than_messages_is_an_error(tiny_node_dataset):
    model = build_model("gin", tiny_node_dataset, hidden=8, num_layers=1)
    ei = tiny_node_dataset.data.edge_index
    with pytest.raises(ValueError, match="mask has 3 entries"):
        with edge_mask(model, torch.ones(3)):
            model(tiny_node_dataset.data.x, ei)
    assert hooks_left(model) == 0


def test_model_without_message_passing_is_refused():
    with pytest.raises(ValueError, match="no MessagePassing layers"):
        with edge_mask(torch.nn.Linear(2, 2), torch.ones(1)):
            pass
