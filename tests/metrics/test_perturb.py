"""Masked predictions on an InstanceBatch (PyG agreement is in test_fidelity.py)."""

from __future__ import annotations

import pytest
import torch

from suite.core.types import TaskLevel
from suite.graph.masking import message_layers
from suite.graph.subgraphs import instance_batch
from suite.metrics.perturb import masked_log_probs


@pytest.fixture(params=["node", "graph"])
def case(request):
    if request.param == "node":
        dataset = request.getfixturevalue("tiny_node_dataset")
        model = request.getfixturevalue("tiny_gcn")
        ids = torch.cat([dataset.explain_ids["test"], torch.tensor([1, 2, 40])])
    else:
        dataset = request.getfixturevalue("tiny_graph_dataset")
        model = request.getfixturevalue("tiny_gin_graph")
        ids = dataset.explain_ids["test"]
    return dataset, model, ids, instance_batch(dataset, ids, model.num_layers)


def _full_graph_log_probs(dataset, model, ids):
    d = dataset.data
    with torch.no_grad():
        if dataset.task == TaskLevel.NODE:
            return model(d.x, d.edge_index).log_softmax(-1)[ids]
        return model(d.x, d.edge_index, batch=d.batch).log_softmax(-1)[ids]


def test_all_ones_mask_reproduces_full_graph_predictions(case):
    dataset, model, ids, batch = case
    expected = _full_graph_log_probs(dataset, model, ids)
    ones = masked_log_probs(model, batch, torch.ones(batch.num_explainable))
    unmasked = masked_log_probs(model, batch, None)
    assert ones.shape == (ids.numel(), dataset.num_classes)
    assert torch.allclose(ones, expected, atol=1e-5)
    assert torch.allclose(unmasked, expected, atol=1e-5)
    assert not ones.requires_grad


def test_instances_do_not_interact(case):
    dataset, model, ids, batch = case
    gen = torch.Generator().manual_seed(0)
    mask = torch.rand(batch.num_explainable, generator=gen)
    ptr = batch.explained_edge_ptr()
    changed = mask.clone()
    changed[ptr[0]:ptr[1]] = 0.0  # remove the first instance's explanation edges only
    a, b = masked_log_probs(model, batch, mask), masked_log_probs(model, batch, changed)
    assert torch.allclose(a[1:], b[1:], atol=1e-6)
    assert not torch.allclose(a[0], b[0], atol=1e-6)  # the masked instance does react


def test_bool_mask_equals_float_mask_and_bad_length_raises(case):
    dataset, model, ids, batch = case
    gen = torch.Generator().manual_seed(1)
    hard = torch.rand(batch.num_explainable, generator=gen) < 0.5
    assert torch.equal(masked_log_probs(model, batch, hard), masked_log_probs(model, batch, hard.float()))
    with pytest.raises(ValueError, match="explainable edges"):
        masked_log_probs(model, batch, torch.ones(batch.num_explainable + 1))


def test_model_state_is_restored(case):
    dataset, model, ids, batch = case
    model.train()
    try:
        masked_log_probs(model, batch, torch.zeros(batch.num_explainable))
        assert model.training
    finally:
        model.eval()
    assert all(not layer._message_forward_hooks for layer in message_layers(model))


def test_pruned_masked_predictions_equal_the_unpruned_ones(case):
    """Metrics prune messages that cannot reach a target (suite.graph.pruning); with any mask the
    targets' outputs must equal a forward that propagates every message of the batch."""
    from suite.graph.masking import edge_mask

    dataset, model, ids, batch = case
    mask = torch.rand(batch.num_explainable, generator=torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad(), edge_mask(model, batch.full_mask(mask)):
        expected = batch.select_outputs(model(batch.x, batch.edge_index,
                                              **batch.model_kwargs())).log_softmax(-1)
    torch.testing.assert_close(masked_log_probs(model, batch, mask), expected,
                               atol=1e-5, rtol=0)
    if dataset.task == TaskLevel.NODE:  # the node batch really is pruned
        from suite.graph.pruning import model_plan

        plan = model_plan(model, batch)
        assert plan is not None
        assert int(plan.need[-1].sum()) < int(plan.need[0].sum())
