"""The PyG adapter: PyG's explainers, one instance per call, on the suite's edge set."""

from __future__ import annotations

import copy
import sys
import warnings

import pytest
import torch

from suite.core.config import ConfigError
from suite.explainers import build_explainer, explainer_info
from suite.explainers.toolkit import full_graph_view

pytest.importorskip("captum")


def _direct(model, dataset, instance: int, algorithm, level: str) -> torch.Tensor:
    """PyG's Explainer called by hand on the full graph / the single graph: edge mask [E_view]."""
    from torch_geometric.explain import Explainer

    view = full_graph_view(dataset, instance, model.num_layers)
    runner = Explainer(copy.deepcopy(model), algorithm, explanation_type="model", edge_mask_type="object",
                       model_config=dict(mode="multiclass_classification", task_level=level,
                                         return_type="raw"))
    index = instance if level == "node" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runner(view.x, view.edge_index, index=index).edge_mask.detach()


@pytest.mark.parametrize("level", ["node", "graph"])
def test_saliency_adapter_equals_a_direct_pyg_call(level, request):
    from torch_geometric.explain.algorithm import CaptumExplainer

    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    ids = dataset.explain_ids["test"][:3]
    exp = build_explainer("pyg-saliency").explain(model, dataset, ids, seed=0)
    for b, instance in enumerate(ids.tolist()):
        view = full_graph_view(dataset, instance, model.num_layers)
        reference = _direct(model, dataset, instance, CaptumExplainer("Saliency"), level)
        torch.testing.assert_close(exp.instance(b)[1], reference[view.explainable])


def test_pyg_hard_mask_is_our_explainable_edge_set(tiny_gcn, tiny_node_dataset):
    """PyG keeps the edges whose first mask gradient is non-zero: exactly our explainable edges."""
    from torch_geometric.explain.algorithm import GNNExplainer

    for target in tiny_node_dataset.explain_ids["test"].tolist():
        mask = _direct(tiny_gcn, tiny_node_dataset, target, GNNExplainer(epochs=2), "node")
        view = full_graph_view(tiny_node_dataset, target, tiny_gcn.num_layers)
        assert torch.equal(mask != 0, view.explainable)


def test_gnnexplainer_adapter_is_seeded_per_instance_and_keeps_global_rng(tiny_gcn, tiny_node_dataset):
    ids = tiny_node_dataset.explain_ids["test"][:4]
    explainer = build_explainer("pyg-gnnexplainer", epochs=5)
    state = torch.get_rng_state()
    whole = explainer.explain(tiny_gcn, tiny_node_dataset, ids, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    parts = torch.cat([explainer.explain(tiny_gcn, tiny_node_dataset, ids[i:i + 1], seed=3).edge_scores
                       for i in range(ids.numel())])
    assert torch.equal(whole.edge_scores, parts)
    other = explainer.explain(tiny_gcn, tiny_node_dataset, ids, seed=4)
    assert not torch.equal(whole.edge_scores, other.edge_scores)


def test_integrated_gradients_adapter_is_signed_captum_ig(tiny_gin_graph, tiny_graph_dataset):
    from torch_geometric.explain.algorithm import CaptumExplainer

    ids = tiny_graph_dataset.explain_ids["test"][:2]
    exp = build_explainer("pyg-integrated-gradients", steps=10).explain(tiny_gin_graph, tiny_graph_dataset, ids, 0)
    assert exp.signed and explainer_info("pyg-integrated-gradients").source == "pyg"
    for b, gid in enumerate(ids.tolist()):
        reference = _direct(tiny_gin_graph, tiny_graph_dataset, gid,
                            CaptumExplainer("IntegratedGradients", n_steps=10), "graph")
        torch.testing.assert_close(exp.instance(b)[1], reference)


def test_missing_captum_is_a_reason_not_a_crash(tiny_gcn, tiny_node_dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "captum", None)  # import captum now fails
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    reason = build_explainer("pyg-saliency").supports(tiny_gcn, tiny_node_dataset)
    assert reason is not None and 'needs captum' in reason and "gnn-explain-suite[pyg]" in reason
    assert build_explainer("pyg-gnnexplainer").supports(tiny_gcn, tiny_node_dataset) is None
    with pytest.raises(ValueError, match="captum"):
        build_explainer("pyg-saliency").explain(tiny_gcn, tiny_node_dataset, torch.tensor([60]), 0)


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="epochs"):
        build_explainer("pyg-gnnexplainer", epochs=0)
    with pytest.raises(ConfigError, match="steps"):
        build_explainer("pyg-integrated-gradients", steps=0)
