"""GNNExplainer: initialisation, objective, cross-check with PyG's implementation, quality."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch_geometric.utils import k_hop_subgraph

from suite.core.config import ConfigError
from suite.core.seeding import generator
from suite.explainers import build_explainer


@pytest.mark.parametrize("init_nodes,init_mean", [("subgraph", 0.0), ("graph", 0.0),
                                                   ("subgraph", 1.0)])
def test_initialisation_is_per_instance_and_scaled_by_node_count(init_nodes, init_mean, tiny_gcn,
                                                                 tiny_node_dataset):
    """epochs=0 returns sigmoid(init): N(init_mean, std_b) with std_b = gain * sqrt(2 / (2 n_b)),
    n_b = nodes of the target's k-hop subgraph ("subgraph") or of the whole graph ("graph")."""
    ids = tiny_node_dataset.explain_ids["test"]
    exp = build_explainer("gnnexplainer", epochs=0, init_nodes=init_nodes, symmetric=False,
                          init_mean=init_mean).explain(tiny_gcn, tiny_node_dataset, ids, seed=7)
    gain = math.sqrt(2.0)  # calculate_gain("relu")
    for b, target in enumerate(ids.tolist()):
        subset, _, _, _ = k_hop_subgraph(target, 3, tiny_node_dataset.data.edge_index,
                                         num_nodes=tiny_node_dataset.data.num_nodes)
        n = subset.numel() if init_nodes == "subgraph" else tiny_node_dataset.data.num_nodes
        _, scores = exp.instance(b)
        std = gain * math.sqrt(2.0 / (2 * n))
        draw = torch.randn(scores.numel(), generator=generator(7, target))
        expected = torch.sigmoid(draw * std + init_mean)
        torch.testing.assert_close(scores, expected)


#: Our settings that match PyG's GNNExplainer (the suite's tuned defaults may differ).
PYG = dict(epochs=100, lr=0.01, symmetric=False, init_mean=0.0)


def _pyg_gnnexplainer(model, dataset, gid: int, seed: int, **coeffs) -> torch.Tensor:
    from torch_geometric.explain import Explainer
    from torch_geometric.explain.algorithm import GNNExplainer

    graph = dataset.graph(gid)
    runner = Explainer(copy.deepcopy(model), GNNExplainer(epochs=100, lr=0.01, **coeffs),
                       explanation_type="model", edge_mask_type="object",
                       model_config=dict(mode="multiclass_classification", task_level="graph",
                                         return_type="raw"))
    with torch.random.fork_rng():
        torch.manual_seed(generator(seed, gid).initial_seed())  # the draw our init makes
        return runner(graph.x, graph.edge_index).edge_mask.detach()


def test_equals_pyg_gnnexplainer_without_regularisers(tiny_gin_graph, tiny_graph_dataset):
    """Same init draw, -log p only: our batched masks equal PyG's one-graph runs."""
    ids = tiny_graph_dataset.explain_ids["test"][:4]
    exp = build_explainer("gnnexplainer", edge_size=0.0, edge_ent=0.0, **PYG).explain(
        tiny_gin_graph, tiny_graph_dataset, ids, seed=1)
    for b, gid in enumerate(ids.tolist()):
        reference = _pyg_gnnexplainer(tiny_gin_graph, tiny_graph_dataset, gid, 1, edge_size=0.0, edge_ent=0.0)
        torch.testing.assert_close(exp.instance(b)[1], reference, atol=1e-5, rtol=1e-4)


def test_close_to_pyg_gnnexplainer_with_default_regularisers(tiny_gin_graph, tiny_graph_dataset):
    """PyG leaves out the regulariser in its first step only: masks stay close.

    Adam's first step moves each logit by about +-lr whatever the gradient's size, so
    the missing regulariser can flip that first step (2 lr = 0.02 in logit) for edges
    with a small likelihood gradient; momentum carries it on for a while.
    """
    ids = tiny_graph_dataset.explain_ids["test"][:4]
    exp = build_explainer("gnnexplainer", edge_size=0.005, edge_ent=1.0, **PYG).explain(
        tiny_gin_graph, tiny_graph_dataset, ids, seed=1)
    for b, gid in enumerate(ids.tolist()):
        reference = _pyg_gnnexplainer(tiny_gin_graph, tiny_graph_dataset, gid, 1)
        assert (exp.instance(b)[1] - reference).abs().max() < 0.05


def test_size_penalty_shrinks_masks(tiny_gcn, tiny_node_dataset):
    ids = tiny_node_dataset.explain_ids["test"]
    loose = build_explainer("gnnexplainer", edge_size=0.0, edge_ent=0.0).explain(tiny_gcn, tiny_node_dataset, ids, 0)
    tight = build_explainer("gnnexplainer", edge_size=0.5, edge_ent=0.0).explain(tiny_gcn, tiny_node_dataset, ids, 0)
    assert tight.edge_scores.mean() < loose.edge_scores.mean() - 0.1


def test_entropy_penalty_pushes_masks_to_the_ends(tiny_gcn, tiny_node_dataset):
    ids = tiny_node_dataset.explain_ids["test"]
    plain = build_explainer("gnnexplainer", edge_ent=0.0, epochs=200, lr=0.05).explain(tiny_gcn, tiny_node_dataset, ids, 0)
    sharp = build_explainer("gnnexplainer", edge_ent=5.0, epochs=200, lr=0.05).explain(tiny_gcn, tiny_node_dataset, ids, 0)

    def spread(s):
        return (s - 0.5).abs().mean()

    assert spread(sharp.edge_scores) > spread(plain.edge_scores)


def test_feature_mask_option(tiny_gcn, tiny_node_dataset):
    ids = tiny_node_dataset.explain_ids["test"][:3]
    batched = build_explainer("gnnexplainer", node_feat_mask=True, epochs=30).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    single = build_explainer("gnnexplainer", node_feat_mask=True, epochs=30, batched=False).explain(
        tiny_gcn, tiny_node_dataset, ids, 2)
    feat = batched.meta["node_feat_mask"]
    assert feat.shape == (3, tiny_node_dataset.num_node_features)
    assert ((feat > 0) & (feat < 1)).all()
    torch.testing.assert_close(feat, single.meta["node_feat_mask"], atol=1e-5, rtol=0)
    torch.testing.assert_close(batched.edge_scores, single.edge_scores, atol=1e-5, rtol=0)
    plain = build_explainer("gnnexplainer", epochs=30).explain(tiny_gcn, tiny_node_dataset, ids, 2)
    assert "node_feat_mask" not in plain.meta


def test_quality_on_houses(tiny_gcn, tiny_node_dataset):
    """Edge ROC-AUC vs the house ground truth is above random (PyG defaults, all motif nodes).

    Measured: 0.58-0.67 (random 0.52; PyG's GNNExplainer 0.51-0.67 on the same model).
    The tiny GCN's *signed* gradients carry little ground truth (signed grad-x-input
    AUC 0.56 vs 0.87 for |grad|) and GNNExplainer keeps edges that raise log p, so
    the margin is small here; the slow test below checks real BA-Shapes.
    """
    ids = torch.nonzero(tiny_node_dataset.y > 0).view(-1)
    gt = tiny_node_dataset.gt_edge_mask

    def auc(name: str) -> float:
        exp = build_explainer(name).explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
        return roc_auc_score(gt[exp.edge_ids].numpy(), exp.edge_scores.numpy())

    ours, baseline = auc("gnnexplainer"), auc("random")
    assert ours > 0.55 and ours > baseline + 0.04, (ours, baseline)


def test_symmetric_mask_ties_both_directions(tiny_gcn, tiny_node_dataset):
    """symmetric=True (the paper's code: (M + M^T) / 2): u->v and v->u score the same
    whenever both are explainable, and batched still equals one-at-a-time."""
    ids = tiny_node_dataset.explain_ids["test"][:4]
    exp = build_explainer("gnnexplainer", epochs=20, symmetric=True).explain(
        tiny_gcn, tiny_node_dataset, ids, seed=0)
    ei = tiny_node_dataset.data.edge_index
    for b in range(ids.numel()):
        edge_ids, scores = exp.instance(b)
        by_pair = {tuple(ei[:, e].tolist()): float(s) for e, s in zip(edge_ids.tolist(), scores)}
        pairs = [(u, v) for (u, v) in by_pair if (v, u) in by_pair]
        assert pairs
        for u, v in pairs:
            assert by_pair[(u, v)] == pytest.approx(by_pair[(v, u)], abs=1e-6)
    single = build_explainer("gnnexplainer", epochs=20, symmetric=True, batched=False).explain(
        tiny_gcn, tiny_node_dataset, ids, seed=0)
    torch.testing.assert_close(exp.edge_scores, single.edge_scores, atol=1e-5, rtol=0)


@pytest.mark.parametrize("field,value", [("epochs", -1), ("lr", 0.0), ("edge_size", -0.1),
                                         ("init_nodes", "all"), ("mask_mode", "edges")])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        build_explainer("gnnexplainer", **{field: value})


def test_unknown_field_lists_known_ones():
    with pytest.raises(ConfigError, match="known fields: .*edge_ent"):
        build_explainer("gnnexplainer", epoch=10)


def test_weight_mask_mode_batched_equals_one_at_a_time_and_differs_from_message(tiny_gcn,
                                                                                tiny_node_dataset):
    """mask_mode=weight (degrees recomputed from the mask): batched == one target at a time
    on the full graph; on a GCN its masks differ from the default message mode's; the
    default is left out of the cell key."""
    ids = tiny_node_dataset.explain_ids["test"][:4]
    weight = build_explainer("gnnexplainer", epochs=20, mask_mode="weight")
    exp = weight.explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    single = build_explainer("gnnexplainer", epochs=20, mask_mode="weight", batched=False).explain(
        tiny_gcn, tiny_node_dataset, ids, seed=0)
    torch.testing.assert_close(exp.edge_scores, single.edge_scores, atol=1e-5, rtol=0)
    message = build_explainer("gnnexplainer", epochs=20).explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    assert not torch.allclose(exp.edge_scores, message.edge_scores, atol=1e-4)
    from suite.core.config import config_dict

    assert "mask_mode" not in config_dict(build_explainer("gnnexplainer").config)
    assert config_dict(weight.config)["mask_mode"] == "weight"


def test_weight_mask_mode_skips_attention_models(tiny_node_dataset):
    from suite.models import build_model

    gat = build_model("gat", tiny_node_dataset, hidden=8, num_layers=2)
    reason = build_explainer("gnnexplainer", mask_mode="weight").supports(gat, tiny_node_dataset)
    assert reason and "GATConv" in reason
    assert build_explainer("gnnexplainer").supports(gat, tiny_node_dataset) is None
