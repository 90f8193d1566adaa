"""Saliency, Integrated Gradients and Grad x Input, cross-checked against Captum through PyG.

The independent reference is PyG's own edge masking (``set_masks``) with Captum's
attribution methods, on a log-softmax wrapper of the model, one target on the full
graph: our batched gradients must match it.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from suite.core.config import ConfigError
from suite.explainers import build_explainer
from suite.explainers.gradients import OUTPUTS
from suite.explainers.toolkit import forward, full_graph_view, predict

captum = pytest.importorskip("captum")


#: Our ``output`` -> (the transform Captum's model applies to the logits, PyG's return_type).
CAPTUM_OUTPUTS = {
    "logit": (lambda z: z, "raw"),
    "probability": (lambda z: torch.softmax(z, dim=-1), "probs"),
    "log-probability": (lambda z: torch.log_softmax(z, dim=-1), "log_probs"),
}


class _Output(nn.Module):
    def __init__(self, model: nn.Module, transform) -> None:
        super().__init__()
        self.model, self.transform = model, transform

    def forward(self, *args, **kwargs):
        return self.transform(self.model(*args, **kwargs))


def _captum(model, dataset, instance: int, attribution: str, nodes: bool = False,
            output: str = "logit", **kwargs):
    """PyG CaptumExplainer on the full graph (node task) or the single graph: edge or node mask,
    attributing ``output`` of the predicted class."""
    from torch_geometric.explain import Explainer
    from torch_geometric.explain.algorithm import CaptumExplainer

    view = full_graph_view(dataset, instance, model.num_layers)
    transform, return_type = CAPTUM_OUTPUTS[output]
    runner = Explainer(
        _Output(copy.deepcopy(model), transform), CaptumExplainer(attribution, **kwargs),
        explanation_type="model", edge_mask_type=None if nodes else "object",
        node_mask_type="attributes" if nodes else None,
        model_config=dict(mode="multiclass_classification", task_level=view.task.value,
                          return_type=return_type))
    index = instance if view.task.value == "node" else None
    extra = view.model_kwargs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = runner(view.x, view.edge_index, index=index, **extra)
    if nodes:
        return out.node_mask.detach()
    return out.edge_mask.detach()[view.explainable]


CASES = [  # (ours, hparams, captum method, captum kwargs, node reduction): defaults = logit
    ("saliency", {}, "Saliency", {}, lambda a: a.norm(dim=-1)),
    ("grad-x-input", {}, "InputXGradient", {}, lambda a: a.sum(dim=-1)),
    ("integrated-gradients", {"steps": 8}, "IntegratedGradients",  # default: the probability
     {"method": "riemann_middle", "n_steps": 8, "output": "probability"}, lambda a: a.sum(dim=-1)),
    ("integrated-gradients", {"steps": 8, "output": "log-probability"}, "IntegratedGradients",
     {"method": "riemann_middle", "n_steps": 8, "output": "log-probability"},
     lambda a: a.sum(dim=-1)),
]


@pytest.mark.parametrize("ours,hparams,method,kwargs,reduce", CASES,
                         ids=[c[0] + ("-" + c[1]["output"] if "output" in c[1] else "") for c in CASES])
@pytest.mark.parametrize("level", ["node", "graph"])
def test_matches_captum_one_target_full_graph(level, ours, hparams, method, kwargs, reduce, request):
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    ids = dataset.explain_ids["test"][:4]
    exp = build_explainer(ours, **hparams).explain(model, dataset, ids, seed=0)
    for b, instance in enumerate(ids.tolist()):
        _, scores = exp.instance(b)
        reference = _captum(model, dataset, instance, method, **kwargs)
        torch.testing.assert_close(scores, reference, atol=1e-5, rtol=1e-4)
        lo, hi = int(exp.node_ptr[b]), int(exp.node_ptr[b + 1])
        node_ref = reduce(_captum(model, dataset, instance, method, nodes=True, **kwargs))
        if level == "graph":
            node_ref_ids = exp.node_ids[lo:hi] - int(dataset.node_ptr[instance])
        else:
            node_ref_ids = exp.node_ids[lo:hi]
        torch.testing.assert_close(exp.node_scores[lo:hi], node_ref[node_ref_ids], atol=1e-5, rtol=1e-4)


def test_trapezoid_is_captum_rescaled(tiny_gcn, tiny_node_dataset):
    """Captum's riemann_trapezoid weights are 1/n (ends halved), summing to (n-1)/n; ours sum to 1."""
    n, target = 6, int(tiny_node_dataset.explain_ids["test"][0])
    exp = build_explainer("integrated-gradients", steps=n, rule="trapezoid", node_scores=False).explain(
        tiny_gcn, tiny_node_dataset, torch.tensor([target]), seed=0)
    reference = _captum(tiny_gcn, tiny_node_dataset, target, "IntegratedGradients",
                        method="riemann_trapezoid", n_steps=n, output="probability")
    torch.testing.assert_close(exp.edge_scores, reference * n / (n - 1), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("rule", ["midpoint", "trapezoid"])
def test_integrated_gradients_completeness(tiny_gcn, tiny_node_dataset, rule):
    """sum_e IG_e = p(m = 1) - p(m = 0) per instance (explainable edges only; the default
    output, the class probability)."""
    ids = tiny_node_dataset.explain_ids["val"]
    exp = build_explainer("integrated-gradients", steps=200, rule=rule, node_scores=False).explain(
        tiny_gcn, tiny_node_dataset, ids, seed=0)
    for b, instance in enumerate(ids.tolist()):
        view = full_graph_view(tiny_node_dataset, instance, tiny_gcn.num_layers)
        target = predict(tiny_gcn, view)
        m = view.num_explainable
        with torch.no_grad():
            full = OUTPUTS["probability"](forward(tiny_gcn, view, torch.ones(m)), target)
            empty = OUTPUTS["probability"](forward(tiny_gcn, view, torch.zeros(m)), target)
        # the mask path crosses ReLU kinks, so the quadrature converges slowly: ~1e-2
        assert float(exp.instance(b)[1].sum()) == pytest.approx(float(full - empty), rel=2e-2, abs=2e-2)


def test_saliency_is_abs_of_grad_x_input_on_edges(tiny_gcn, tiny_node_dataset):
    ids = torch.nonzero(tiny_node_dataset.y > 0).view(-1)
    sal = build_explainer("saliency").explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    gxi = build_explainer("grad-x-input").explain(tiny_gcn, tiny_node_dataset, ids, seed=0)
    assert not sal.signed and gxi.signed
    assert torch.equal(sal.edge_scores, gxi.edge_scores.abs())
    assert (gxi.edge_scores < 0).any()  # signed for real


def test_gradient_quality_on_houses(tiny_gcn, tiny_node_dataset):
    """Edge ROC-AUC vs the house ground truth is well above random on the node fixture."""
    ids = torch.nonzero(tiny_node_dataset.y > 0).view(-1)
    gt = tiny_node_dataset.gt_edge_mask
    aucs = {}
    for name in ("saliency", "integrated-gradients", "random"):
        exp = build_explainer(name, **({"steps": 20} if name == "integrated-gradients" else {})).explain(
            tiny_gcn, tiny_node_dataset, ids, seed=0)
        aucs[name] = roc_auc_score(gt[exp.edge_ids].numpy(), exp.edge_scores.abs().numpy())
    assert 0.4 < aucs["random"] < 0.6, aucs
    assert aucs["saliency"] > 0.75, aucs
    assert aucs["integrated-gradients"] > 0.75, aucs


def test_bad_config_names_the_field():
    with pytest.raises(ConfigError, match="steps"):
        build_explainer("integrated-gradients", steps=0)
    with pytest.raises(ConfigError, match="rule"):
        build_explainer("integrated-gradients", rule="simpson")
    with pytest.raises(ConfigError, match="node_scores"):
        build_explainer("saliency", node_scores="yes")
    with pytest.raises(ConfigError, match="output: expected one of logit, probability"):
        build_explainer("saliency", output="softmax")
