"""GraphMask (amortised) and its per-instance variant: objective parts, schedule, model
selection, hook safety on GCN/GIN/GAT/R-GCN, batching and the explanation contract."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch_geometric.data import Data

import suite.explainers.graphmask as gm  # registers graphmask and graphmask-instance
from suite.core.config import ConfigError
from suite.core.types import TaskLevel
from suite.explainers import build_explainer
from suite.explainers import hard_concrete as hc
from suite.explainers.graphmask import amortised, hooks
from suite.graph.masking import MessageContext, message_layers
from suite.graph.subgraphs import graph_batch, instance_batch
from suite.models import build_model
from suite.protocol import dev_instances

HOOK_DICTS = [
    "_propagate_forward_pre_hooks", "_propagate_forward_hooks", "_message_forward_pre_hooks",
    "_message_forward_hooks", "_aggregate_forward_pre_hooks", "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks", "_message_and_aggregate_forward_hooks",
    "_forward_hooks", "_forward_pre_hooks",
]
FAST = {"epochs_per_layer": 2}


def _ids(dataset) -> torch.Tensor:
    return torch.cat([dataset.explain_ids["val"], dataset.explain_ids["test"]])


def _predict(model, dataset) -> torch.Tensor:
    d = dataset.data
    kwargs = {"batch": d.batch} if dataset.task == TaskLevel.GRAPH else {}
    if getattr(d, "edge_type", None) is not None:
        kwargs["edge_type"] = d.edge_type
    with torch.no_grad():
        return model(d.x, d.edge_index, **kwargs)


# ----------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def fitted_node(tiny_gcn, tiny_node_dataset):
    explainer = gm.GraphMask(epochs_per_layer=3, lr=0.01)
    explainer.fit(tiny_gcn, tiny_node_dataset, tiny_node_dataset.splits["train"], 0)
    return explainer


@pytest.fixture(scope="module")
def fitted_graph(tiny_gin_graph, tiny_graph_dataset):
    explainer = gm.GraphMask(epochs_per_layer=2, lr=0.01, batch_size=8)
    explainer.fit(tiny_gin_graph, tiny_graph_dataset, tiny_graph_dataset.splits["train"], 0)
    return explainer


@pytest.fixture(scope="module", params=["gcn", "gin", "gat", "rgcn"])
def any_model(request, tiny_node_dataset, tiny_graph_dataset):
    """(untrained model, dataset): GCN/GIN/GAT on the node task (random features),
    R-GCN on the graph task with three random edge types."""
    torch.manual_seed(0)
    if request.param == "rgcn":
        d = tiny_graph_dataset.data
        edge_type = torch.randint(3, (d.edge_index.size(1),), generator=torch.Generator().manual_seed(0))
        dataset = dataclasses.replace(tiny_graph_dataset, num_edge_types=3, data=Data(
            x=d.x, edge_index=d.edge_index, batch=d.batch, edge_type=edge_type))
        return build_model("rgcn", dataset, hidden=16, num_layers=2).eval(), dataset
    x = torch.randn(tiny_node_dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
    dataset = dataclasses.replace(tiny_node_dataset, data=Data(x=x, edge_index=tiny_node_dataset.data.edge_index))
    return build_model(request.param, dataset, hidden=16, num_layers=3).eval(), dataset


def _view(dataset):
    if dataset.task == TaskLevel.NODE:
        return amortised._full_graph(dataset, torch.arange(dataset.data.num_nodes))
    return graph_batch(dataset, torch.arange(dataset.num_graphs))


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("field,value", [("epochs_per_layer", 0), ("lr", 0.0), ("allowance", -1.0),
                                         ("layer_reduce", "sum"), ("dev_set", "test"), ("zeta", 0.5),
                                         ("lambda_init", 40.0), ("batch_size", 0),
                                         ("node_view", "sentences")])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        gm.GraphMask(**{field: value})


def test_reference_defaults():
    cfg = gm.GraphMask().config
    assert (cfg.allowance, cfg.lambda_init, cfg.lambda_lr) == (0.03, 0.55, 1e-2)
    assert (cfg.lambda_min, cfg.lambda_max, cfg.dev_tolerance) == (-2.0, 30.0, 0.05)
    assert (cfg.gamma, cfg.zeta, cfg.loc_bias, cfg.threshold) == (-0.2, 1.0, 3.0, 0.5)
    assert gm.GraphMask.info.amortised and not gm.GraphMaskInstance.info.amortised


# ------------------------------------------------------ objective and schedule

def test_lambda_goes_up_above_the_allowance_and_down_below():
    cfg = gm.GraphMaskConfig()
    lag = gm.Lagrangian(cfg, (2,))
    before = lag.multiplier.clone()
    for _ in range(3):
        lag.zero_grad()
        lag.term(torch.tensor([0.5, 0.0])).sum().backward()  # D > beta, D < beta
        lag.ascend()
    after = lag.multiplier
    assert after[0] > before[0] and after[1] < before[1]


def test_lambda_is_clipped():
    cfg = gm.GraphMaskConfig(lambda_lr=10.0)
    lag = gm.Lagrangian(cfg)
    for _ in range(20):
        lag.zero_grad()
        lag.term(torch.tensor(100.0)).backward()
        lag.ascend()
    assert float(lag.alpha.detach()) == cfg.lambda_max
    lag = gm.Lagrangian(cfg)
    for _ in range(20):
        lag.zero_grad()
        lag.term(torch.tensor(0.0)).backward()
        lag.ascend()
    assert float(lag.alpha.detach()) == cfg.lambda_min


@pytest.mark.parametrize("centered", [True, False])
def test_safe_rmsprop_matches_torch_rmsprop(centered):
    gen = torch.Generator().manual_seed(0)
    ours = torch.randn(3, generator=gen).requires_grad_(True)
    theirs = ours.detach().clone().requires_grad_(True)
    mine = gm.SafeRMSprop(ours, lr=1e-2, centered=centered)
    ref = torch.optim.RMSprop([theirs], lr=1e-2, centered=centered)
    for _ in range(50):
        grad = torch.randn(3, generator=gen)
        ours.grad, theirs.grad = grad.clone(), grad.clone()
        mine.step()
        ref.step()
    assert torch.equal(ours.detach(), theirs.detach())


def test_lambda_stays_finite_when_the_divergence_stays_under_the_allowance():
    """Regression: a divergence that never reaches the allowance (a model whose output
    hardly depends on its input, e.g. the default GCN at chance on BA-2Motifs) gives alpha
    a constant gradient at ``lambda_min``; torch's centered RMSprop then took the root of
    a variance rounded below 0 and alpha became NaN after ~1,460 steps."""
    lag = gm.Lagrangian(gm.GraphMaskConfig())
    for _ in range(2000):
        lag.zero_grad()
        lag.term(torch.tensor(0.0)).backward()
        lag.ascend()
    assert float(lag.alpha.detach()) == gm.GraphMaskConfig().lambda_min


def test_divergence_is_kl_to_the_original_distribution():
    a = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(gm.divergence(a, a), torch.zeros(2), atol=1e-7)
    b = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.0]])
    p, q = a.softmax(-1), b.softmax(-1)
    torch.testing.assert_close(gm.divergence(a, b), (p * (p / q).log()).sum(-1))


def test_top_down_schedule():
    got = [gm.enabled_layers(e, 3, 2) for e in range(8)]
    assert got == [[2], [2], [1, 2], [1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]]


def test_fit_trains_layers_top_down(tiny_gcn, tiny_node_dataset, monkeypatch):
    seen = []
    original = amortised.gate_messages

    def spy(model, num_edges, gates, baselines, explainable=None):
        if torch.is_grad_enabled():  # training steps (dev evaluation runs without grad)
            seen.append(sorted(gates))
        return original(model, num_edges, gates, baselines, explainable)

    monkeypatch.setattr(amortised, "gate_messages", spy)
    gm.GraphMask(epochs_per_layer=2).fit(tiny_gcn, tiny_node_dataset, tiny_node_dataset.splits["train"], 0)
    assert seen == [[2], [2], [1, 2], [1, 2], [0, 1, 2], [0, 1, 2]]  # node task: one step per epoch


def test_dev_selection_rule():
    c = gm.Candidate
    cands = [c(0, 100, 100, 0.90), c(1, 60, 100, 0.88), c(2, 40, 100, 0.80), c(3, 50, 100, 0.93)]
    assert gm.select_candidate(cands, reference=0.90, tolerance=0.05) == 3  # 0.80 differs by 11%
    cands.append(c(4, 50, 100, 0.86))  # a tie on retained edges: the later state
    assert gm.select_candidate(cands, 0.90, 0.05) == 4
    assert gm.select_candidate([c(0, 10, 100, 0.5), c(1, 20, 100, 0.4)], 0.9, 0.05) == 1  # none: last
    with pytest.raises(ValueError):
        gm.select_candidate([], 0.9, 0.05)


def test_gates_start_open(tiny_gcn, tiny_node_dataset):
    explainer = gm.GraphMask(epochs_per_layer=1, lr=1e-12)  # effectively untrained gates
    explainer.fit(tiny_gcn, tiny_node_dataset, tiny_node_dataset.splits["train"], 0)
    exp = explainer.explain(tiny_gcn, tiny_node_dataset, tiny_node_dataset.explain_ids["test"], 0)
    assert bool(exp.meta["hard_gates"].all())
    assert (exp.edge_layer_scores > 0.5).all()
    assert exp.meta["dev_score_masked"] == exp.meta["dev_score_unmasked"]


# --------------------------------------------------------------- hook safety

def _snapshot(model) -> dict:
    layers = message_layers(model)
    return {
        "hooks": [{name: dict(getattr(layer, name, {})) for name in HOOK_DICTS} for layer in layers],
        "module_hooks": [(dict(m._forward_hooks), dict(m._forward_pre_hooks)) for m in model.modules()],
        "keys": list(model.state_dict().keys()),
        "params": len(list(model.parameters())),
        "buffers": len(list(model.buffers())),
        "flags": [p.requires_grad for p in model.parameters()],
        "training": model.training,
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


def _assert_same_state(model, before: dict) -> None:
    after = _snapshot(model)
    for key in ("hooks", "module_hooks", "keys", "params", "buffers", "flags", "training"):
        assert after[key] == before[key], f"{key} changed"
    for name, value in before["state"].items():
        assert torch.equal(after["state"][name], value)


def test_open_gates_leave_predictions_unchanged(any_model):
    model, dataset = any_model
    bare = _predict(model, dataset)
    view = _view(dataset)
    e = view.edge_index.size(1)
    with gm.record_inputs(model, e) as store:
        recorded = _predict(model, dataset)
    assert torch.equal(recorded, bare)
    layers = len(message_layers(model))
    assert sorted(store) == list(range(layers)) and all(v.msg.size(0) == e for v in store.values())
    gates = {k: torch.ones(e) for k in range(layers)}
    baselines = {k: torch.randn(store[k].msg_shape) for k in range(layers)}
    with gm.gate_messages(model, e, gates, baselines):
        opened = _predict(model, dataset)
    torch.testing.assert_close(opened, bare, atol=1e-6, rtol=0)
    with gm.gate_messages(model, e, {k: torch.zeros(e) for k in range(layers)}, baselines):
        closed = _predict(model, dataset)
    assert not torch.allclose(closed, bare, atol=1e-4)  # the hooks do act
    # gating only a subset (explainable edges, per-edge baselines) = gating all with z = 1 elsewhere
    subset = torch.rand(e, generator=torch.Generator().manual_seed(1)) < 0.5
    m = int(subset.sum())
    with gm.gate_messages(model, e, {k: torch.ones(m) for k in range(layers)},
                          {k: baselines[k].expand(m, *baselines[k].shape) for k in range(layers)}, subset):
        torch.testing.assert_close(_predict(model, dataset), bare, atol=1e-6, rtol=0)
    with gm.gate_messages(model, e, {k: torch.zeros(m) for k in range(layers)},
                          {k: baselines[k].expand(m, *baselines[k].shape) for k in range(layers)}, subset):
        part = _predict(model, dataset)
    with gm.gate_messages(model, e, {k: (~subset).float() for k in range(layers)}, baselines):
        torch.testing.assert_close(part, _predict(model, dataset), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["graphmask", "graphmask-instance"])
def test_no_state_left_after_fit_and_explain(name, any_model):
    model, dataset = any_model
    before = _snapshot(model)
    explainer = build_explainer(name, epochs_per_layer=1)
    explainer.fit(model, dataset, dataset.splits["train"][:8], 0)
    explainer.explain(model, dataset, dataset.explain_ids["test"][:3], 0)
    _assert_same_state(model, before)


@pytest.mark.parametrize("raise_at", [1, 3, 6])
@pytest.mark.parametrize("name", ["graphmask", "graphmask-instance"])
def test_no_state_left_when_the_body_raises(name, raise_at, any_model, monkeypatch):
    model, dataset = any_model
    before = _snapshot(model)
    layer = message_layers(model)[-1]  # the top layer runs on every step (lower ones may be reused)
    calls = {"n": 0}
    original = layer.message

    def message(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == raise_at:
            raise RuntimeError("boom")
        return original(*args, **kwargs)

    monkeypatch.setattr(layer, "message", message)
    explainer = build_explainer(name, epochs_per_layer=2)
    with pytest.raises(RuntimeError, match="boom"):
        explainer.fit(model, dataset, dataset.splits["train"][:8], 0)
        explainer.explain(model, dataset, dataset.explain_ids["test"][:3], 0)
    monkeypatch.undo()
    _assert_same_state(model, before)


# ------------------------------------------------------ explanation contract

@pytest.mark.parametrize("level", ["node", "graph"])
def test_explanation_contract(level, request):
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    fitted = request.getfixturevalue(f"fitted_{level}")
    ids = _ids(dataset)
    reference = build_explainer("gnnexplainer", epochs=1).explain(model, dataset, ids, 0)
    batch = instance_batch(dataset, ids, model.num_layers)
    for exp in (fitted.explain(model, dataset, ids, 0),
                gm.GraphMaskInstance(epochs_per_layer=2).explain(model, dataset, ids, 0)):
        exp.validate()
        assert torch.equal(exp.instance_ids, ids)
        assert torch.equal(exp.edge_ids, reference.edge_ids) and torch.equal(exp.edge_ptr, reference.edge_ptr)
        assert torch.equal(exp.edge_ids, batch.edge_ids[batch.explainable])
        layers = len(message_layers(model))
        m = exp.edge_ids.numel()
        assert exp.edge_layer_scores.shape == (layers, m)
        assert exp.meta["hard_gates"].shape == (layers, m) and exp.meta["hard_gates"].dtype == torch.bool
        assert ((exp.edge_scores >= 0) & (exp.edge_scores <= 1)).all()
        gated = exp.meta.get("gated_layers", list(range(layers)))
        ungated = [k for k in range(layers) if k not in gated]
        assert ((exp.edge_layer_scores[gated] > 0) & (exp.edge_layer_scores[gated] < 1)).all()
        assert (exp.edge_layer_scores[ungated] == 1).all() and exp.meta["hard_gates"][ungated].all()
        torch.testing.assert_close(exp.edge_scores, exp.edge_layer_scores[gated].max(0).values)
        assert not exp.signed and exp.seconds > 0
    assert exp.meta["retained_share"].shape == (ids.numel(), layers)
    amortised = fitted.explain(model, dataset, ids, 0)
    assert amortised.fit_seconds > 0 and amortised.meta["retained_share"].shape == (layers,)
    for key in ("dev_retained_share", "dev_score_masked", "dev_score_unmasked", "selected_epoch"):
        assert key in amortised.meta


def test_explain_needs_fit_and_the_fitted_model(fitted_node, tiny_gcn, tiny_node_dataset):
    ids = tiny_node_dataset.explain_ids["test"]
    with pytest.raises(ValueError, match="call fit"):
        gm.GraphMask().explain(tiny_gcn, tiny_node_dataset, ids, 0)
    same = copy.deepcopy(tiny_gcn)  # the same function: accepted
    torch.testing.assert_close(fitted_node.explain(same, tiny_node_dataset, ids, 0).edge_scores,
                               fitted_node.explain(tiny_gcn, tiny_node_dataset, ids, 0).edge_scores)
    other = copy.deepcopy(tiny_gcn)
    with torch.no_grad():
        next(other.parameters()).add_(0.01)
    with pytest.raises(ValueError, match="another model"):
        fitted_node.explain(other, tiny_node_dataset, ids, 0)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_amortised_batch_equals_its_parts(level, request):
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    fitted = request.getfixturevalue(f"fitted_{level}")
    ids = _ids(dataset)
    whole = fitted.explain(model, dataset, ids, 0)
    parts = [fitted.explain(model, dataset, ids[i:i + 3], 0) for i in range(0, ids.numel(), 3)]
    assert torch.equal(whole.edge_ids, torch.cat([p.edge_ids for p in parts]))
    torch.testing.assert_close(whole.edge_layer_scores, torch.cat([p.edge_layer_scores for p in parts], 1),
                               atol=1e-6, rtol=0)
    assert torch.equal(whole.meta["hard_gates"], torch.cat([p.meta["hard_gates"] for p in parts], 1))


def test_fit_is_deterministic_under_a_seed(fitted_graph, tiny_gin_graph, tiny_graph_dataset):
    ids = _ids(tiny_graph_dataset)
    again = gm.GraphMask(epochs_per_layer=2, lr=0.01, batch_size=8)
    again.fit(tiny_gin_graph, tiny_graph_dataset, tiny_graph_dataset.splits["train"], 0)
    assert torch.equal(again.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores,
                       fitted_graph.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores)


# ---------------------------------------------------------------- per instance

def test_instance_batch_equals_one_at_a_time_on_the_full_graph(tiny_gcn, tiny_node_dataset):
    ids = _ids(tiny_node_dataset)[:6]
    batched = gm.GraphMaskInstance(epochs_per_layer=10).explain(tiny_gcn, tiny_node_dataset, ids, 3)
    single = gm.GraphMaskInstance(epochs_per_layer=10, batched=False).explain(tiny_gcn, tiny_node_dataset, ids, 3)
    assert torch.equal(batched.edge_ids, single.edge_ids)
    torch.testing.assert_close(batched.edge_layer_scores, single.edge_layer_scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched.meta["lambda"], single.meta["lambda"], atol=1e-5, rtol=0)
    parts = [gm.GraphMaskInstance(epochs_per_layer=10).explain(tiny_gcn, tiny_node_dataset, ids[i:i + 2], 3)
             for i in range(0, ids.numel(), 2)]
    torch.testing.assert_close(batched.edge_scores, torch.cat([p.edge_scores for p in parts]), atol=1e-5, rtol=0)


def _hard_gate_divergence(model, view, hard: torch.Tensor) -> torch.Tensor:
    """[B] KL(original || model with layer k's messages scaled by ``hard[:, k]``), i.e. the
    closed edges' messages zeroed, computed with :func:`suite.graph.masking.edge_mask` directly."""
    from suite.graph.masking import edge_mask

    kwargs = view.model_kwargs()
    with torch.no_grad():
        original = view.select_outputs(model(view.x, view.edge_index, **kwargs))
        masks = [view.full_mask(hard[:, k].float()) for k in range(hard.size(1))]
        with edge_mask(model, masks):
            masked = view.select_outputs(model(view.x, view.edge_index, **kwargs))
    return gm.divergence(original, masked)


def test_instance_zero_baseline_zeroes_the_closed_messages(tiny_gcn, tiny_node_dataset):
    ids = _ids(tiny_node_dataset)[:6]
    view = amortised._full_graph(tiny_node_dataset, ids)
    settings = dict(epochs_per_layer=20, penalty_scaling=5.0)
    zero = gm.GraphMaskInstance(baseline="zero", **settings).explain_view(tiny_gcn, view, 0, tiny_node_dataset)
    hard = zero.extras["_hard_gates"]
    assert (hard == 0).any() and (hard == 1).any()  # some messages dropped, some kept
    torch.testing.assert_close(zero.extras["divergence"], _hard_gate_divergence(tiny_gcn, view, hard),
                               atol=1e-5, rtol=1e-4)
    learned = gm.GraphMaskInstance(**settings).explain_view(tiny_gcn, view, 0, tiny_node_dataset)
    replaced = _hard_gate_divergence(tiny_gcn, view, learned.extras["_hard_gates"])
    assert not torch.allclose(learned.extras["divergence"], replaced, atol=1e-4)  # baselines stand in


def test_instance_baseline_option_is_checked_and_left_out_of_the_key_at_its_default():
    assert "baseline" not in gm.GraphMaskInstance().hparams()
    assert gm.GraphMaskInstance(baseline="zero").hparams()["baseline"] == "zero"
    with pytest.raises(ConfigError, match="baseline"):
        gm.GraphMaskInstance(baseline="mean")
    with pytest.raises(ConfigError):
        gm.GraphMask(baseline="zero")  # the amortised variant keeps the paper's learned baseline


def test_instance_shared_baseline_is_fitted_once_and_fixed_when_explaining(tiny_gcn, tiny_node_dataset):
    """``baseline="shared"``: fit learns one baseline per layer for every instance; explain keeps
    it fixed, so a batch equals its parts and the dropped messages get that same baseline."""
    ids = _ids(tiny_node_dataset)
    settings = dict(baseline="shared", epochs_per_layer=10, penalty_scaling=5.0)
    explainer = gm.GraphMaskInstance(**settings)
    with pytest.raises(ValueError, match="fit"):
        explainer.explain(tiny_gcn, tiny_node_dataset, ids[:2], 0)
    explainer.fit(tiny_gcn, tiny_node_dataset, ids, 0)
    shared = [b.clone() for b in explainer._shared]
    assert all(b.size(0) == 1 for b in shared)  # one baseline per layer, not per instance
    whole = explainer.explain(tiny_gcn, tiny_node_dataset, ids[:6], 3)
    parts = [explainer.explain(tiny_gcn, tiny_node_dataset, ids[i:i + 2], 3) for i in range(0, 6, 2)]
    torch.testing.assert_close(whole.edge_scores, torch.cat([p.edge_scores for p in parts]),
                               atol=1e-5, rtol=0)
    for before, after in zip(shared, explainer._shared):
        assert torch.equal(before, after)  # explaining never moves the fitted baseline
    refit = gm.GraphMaskInstance(**settings)
    refit.fit(tiny_gcn, tiny_node_dataset, ids, 0)
    assert all(torch.equal(a, b) for a, b in zip(shared, refit._shared))  # seeded
    assert gm.GraphMaskInstance(baseline="shared").hparams()["baseline"] == "shared"
    assert "fit_instances" not in gm.GraphMaskInstance().hparams()
    with pytest.raises(ConfigError, match="fit_instances"):
        gm.GraphMaskInstance(fit_instances=0)


def test_instance_graph_batch_equals_one_graph_at_a_time(tiny_gin_graph, tiny_graph_dataset):
    # few steps: the model's own batched-vs-single float noise (~5e-7) is amplified by Adam
    ids = _ids(tiny_graph_dataset)
    batched = gm.GraphMaskInstance(epochs_per_layer=2).explain(tiny_gin_graph, tiny_graph_dataset, ids, 3)
    single = gm.GraphMaskInstance(epochs_per_layer=2, batched=False).explain(
        tiny_gin_graph, tiny_graph_dataset, ids, 3)
    torch.testing.assert_close(batched.edge_layer_scores, single.edge_layer_scores, atol=1e-5, rtol=0)
    assert torch.equal(batched.meta["target"], single.meta["target"])


def test_layers_the_selected_probe_does_not_gate_are_open(fitted_node, tiny_gcn, tiny_node_dataset):
    explainer = copy.copy(fitted_node)
    explainer.fitted = dataclasses.replace(fitted_node.fitted, gated_layers=[2])
    exp = explainer.explain(tiny_gcn, tiny_node_dataset, tiny_node_dataset.explain_ids["test"], 0)
    assert (exp.edge_layer_scores[:2] == 1).all() and exp.meta["hard_gates"][:2].all()
    assert torch.equal(exp.edge_scores, exp.edge_layer_scores[2])
    assert exp.meta["gated_layers"] == [2]


# ------------------------------------------------------------- PyG's variant

def test_pyg_graphmask_adapter(tiny_gcn, tiny_gin_graph, tiny_node_dataset, tiny_graph_dataset):
    from suite.explainers import explainer_info

    info = explainer_info("pyg-graphmask")
    assert info.source == "pyg" and not info.amortised and "PER-INSTANCE" in info.description
    explainer = build_explainer("pyg-graphmask", epochs=2)
    assert "in_channels" in explainer.supports(tiny_gin_graph, tiny_graph_dataset)
    gat = build_model("gat", tiny_node_dataset, hidden=16, num_layers=2, heads=4)
    assert "multi-head" in explainer.supports(gat, tiny_node_dataset)
    assert explainer.supports(tiny_gcn, tiny_node_dataset) is None
    before = _snapshot(tiny_gcn)
    ids = tiny_node_dataset.explain_ids["test"][:2]
    exp = explainer.explain(tiny_gcn, tiny_node_dataset, ids, 0)
    exp.validate()
    batch = instance_batch(tiny_node_dataset, ids, tiny_gcn.num_layers)
    assert torch.equal(exp.edge_ids, batch.edge_ids[batch.explainable])
    assert ((exp.edge_scores >= 0) & (exp.edge_scores <= 1)).all()
    _assert_same_state(tiny_gcn, before)  # PyG rewrites messages: it must run on a copy
    with pytest.raises(ConfigError, match="penalty_scaling"):
        build_explainer("pyg-graphmask", penalty_scaling=11.0)


# ------------------------------------------------- reusing frozen lower layers

def _graph_model(name, dataset):
    torch.manual_seed(1)
    return build_model(name, dataset, hidden=16, num_layers=3).eval()


def _propagate_counts(model):
    """(counts list, handles): propagate calls per message-passing layer."""
    counts = [0] * len(message_layers(model))
    handles = []
    for k, layer in enumerate(message_layers(model)):
        def hook(module, inputs, _k=k):
            counts[_k] += 1
        handles.append(layer.register_propagate_forward_pre_hook(hook))
    return counts, handles


@pytest.mark.parametrize("level,name", [("node", "gcn"), ("node", "gin"), ("node", "gat"),
                                        ("graph", "gcn"), ("graph", "gin"), ("graph", "gat")])
def test_instance_reusing_frozen_layers_gives_the_same_gates(level, name, tiny_node_dataset,
                                                             tiny_graph_dataset):
    if level == "node":
        x = torch.randn(tiny_node_dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
        dataset = dataclasses.replace(tiny_node_dataset,
                                      data=Data(x=x, edge_index=tiny_node_dataset.data.edge_index))
    else:
        dataset = tiny_graph_dataset
    model = _graph_model(name, dataset)
    ids = _ids(dataset)[:6]
    epl = 4
    runs = {}
    for reuse in (True, False):
        explainer = gm.GraphMaskInstance(epochs_per_layer=epl)
        explainer.reuse_frozen_layers = reuse
        counts, handles = _propagate_counts(model)
        try:
            runs[reuse] = (explainer.explain(model, dataset, ids, 5), counts)
        finally:
            for handle in handles:
                handle.remove()
    (cached, c_counts), (plain, p_counts) = runs[True], runs[False]
    torch.testing.assert_close(cached.edge_layer_scores, plain.edge_layer_scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.edge_scores, plain.edge_scores, atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.meta["lambda"], plain.meta["lambda"], atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.meta["divergence"], plain.meta["divergence"], atol=1e-5, rtol=0)
    assert torch.equal(cached.meta["hard_gates"], plain.meta["hard_gates"])
    # layer 0 is ungated for 2 phases, layer 1 for 1, layer 2 never; the cached path runs
    # one extra forward to record them
    assert [p - c for p, c in zip(p_counts, c_counts)] == [2 * epl - 1, epl - 1, -1]


@pytest.mark.parametrize("level,name", [("node", "gcn"), ("node", "gat"), ("graph", "gin"), ("graph", "gcn")])
def test_fit_reusing_frozen_layers_gives_the_same_gate_network(level, name, tiny_node_dataset,
                                                                tiny_graph_dataset):
    dataset = tiny_node_dataset if level == "node" else tiny_graph_dataset
    model = _graph_model(name, dataset)
    fits = {}
    for reuse in (True, False):
        explainer = gm.GraphMask(epochs_per_layer=3, lr=0.01, batch_size=8)
        explainer.reuse_frozen_layers = reuse
        counts, handles = _propagate_counts(model)
        try:
            explainer.fit(model, dataset, dataset.splits["train"], 2)
        finally:
            for handle in handles:
                handle.remove()
        fits[reuse] = (explainer.fitted, counts)
    (cached, c_counts), (plain, p_counts) = fits[True], fits[False]
    assert cached.selected_epoch == plain.selected_epoch
    for key, value in plain.network.state_dict().items():
        torch.testing.assert_close(cached.network.state_dict()[key], value, atol=1e-5, rtol=0)
    assert cached.lambda_final == pytest.approx(plain.lambda_final, abs=1e-5)
    # the top layer runs as often on both paths; the lower ones are skipped while ungated
    assert c_counts[2] == p_counts[2] and c_counts[1] < p_counts[1] and c_counts[0] < c_counts[1]

# ---------------------------------------------------------------- node view

def _two_copies(dataset):
    """The node dataset twice, as two components; splits and explained ids in the first copy."""
    d, n = dataset.data, dataset.data.num_nodes
    data = Data(x=torch.cat([d.x, d.x]), edge_index=torch.cat([d.edge_index, d.edge_index + n], 1))
    return dataclasses.replace(dataset, data=data, y=torch.cat([dataset.y, dataset.y]),
                               gt_edge_mask=torch.cat([dataset.gt_edge_mask, dataset.gt_edge_mask]),
                               gt_node_mask=torch.cat([dataset.gt_node_mask, dataset.gt_node_mask]))


def test_subgraph_view_explains_as_the_full_graph(fitted_node, tiny_gcn, tiny_node_dataset):
    dataset = _two_copies(tiny_node_dataset)
    ids = dataset.explain_ids["test"]
    view = amortised._hop_graph(dataset, ids, tiny_gcn.num_layers)
    assert view.edge_ids.numel() <= dataset.data.edge_index.size(1) // 2  # the other copy is left out
    full = fitted_node.explain(tiny_gcn, dataset, ids, 0)
    sub = copy.deepcopy(fitted_node)
    sub.config = dataclasses.replace(sub.config, node_view="subgraph")
    part = sub.explain(tiny_gcn, dataset, ids, 0)
    assert torch.equal(part.edge_ids, full.edge_ids) and torch.equal(part.edge_ptr, full.edge_ptr)
    torch.testing.assert_close(part.edge_layer_scores, full.edge_layer_scores, atol=1e-5, rtol=0)
    assert torch.equal(part.meta["hard_gates"], full.meta["hard_gates"])


def test_subgraph_view_fits_and_is_left_out_of_the_key_at_its_default(tiny_gcn, tiny_node_dataset):
    assert "node_view" not in gm.GraphMask().hparams()
    assert gm.GraphMask(node_view="subgraph").hparams()["node_view"] == "subgraph"
    dataset = _two_copies(tiny_node_dataset)
    explainer = gm.GraphMask(epochs_per_layer=2, lr=0.01, node_view="subgraph")
    explainer.fit(tiny_gcn, dataset, dataset.splits["train"], 0)
    exp = explainer.explain(tiny_gcn, dataset, dataset.explain_ids["test"], 0)
    exp.validate()
    assert exp.meta["dev_size"] == dataset.explain_ids["val"].numel()


def test_message_layout_is_checked_once_per_layer_and_bad_layouts_raise(tiny_gcn, tiny_node_dataset,
                                                                        monkeypatch):
    view = amortised._full_graph(tiny_node_dataset, tiny_node_dataset.explain_ids["test"][:3])
    layers = len(message_layers(tiny_gcn))
    calls = []
    original = hooks._real_messages
    monkeypatch.setattr(hooks, "_real_messages", lambda ctx, m, n: (calls.append(ctx.layer), original(ctx, m, n)))
    with gm.gated_model(tiny_gcn, view, None, {}, {}) as run:
        first = run()
        assert torch.equal(run(), first)
    assert sorted(calls) == list(range(layers))  # two forwards, one check per layer
    ctx = MessageContext(layer=1, edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]), inputs={},
                            propagate_kwargs={})
    with pytest.raises(ValueError, match="layer 1 sent 3 messages for 2 edges"):
        original(ctx, torch.zeros(3, 4), 2)  # the extra message is no self-loop
    original(ctx, torch.zeros(3, 4), 3)


@pytest.mark.parametrize("level,name", [("node", "gcn"), ("graph", "gin")])
def test_instance_direct_grads_give_bitwise_the_autograd_path(level, name, tiny_node_dataset,
                                                             tiny_graph_dataset):
    dataset = tiny_node_dataset if level == "node" else tiny_graph_dataset
    model = _graph_model(name, dataset)
    ids = _ids(dataset)[:6]
    runs = {}
    for direct in (True, False):
        explainer = gm.GraphMaskInstance(epochs_per_layer=8, lambda_lr=0.5)
        explainer.direct_grads = direct
        runs[direct] = explainer.explain(model, dataset, ids, 5)
    fast, plain = runs[True], runs[False]
    assert torch.equal(fast.edge_layer_scores, plain.edge_layer_scores)
    assert torch.equal(fast.meta["lambda"], plain.meta["lambda"])
    assert torch.equal(fast.meta["divergence"], plain.meta["divergence"])


def test_direct_lagrangian_and_l0_grads_match_autograd():
    cfg = gm.GraphMaskInstanceConfig()
    gen = torch.Generator().manual_seed(0)
    div = torch.rand(5, generator=gen) * 3
    plain, direct = gm.Lagrangian(cfg, (5,)), gm.Lagrangian(cfg, (5,))
    with torch.no_grad():  # spread alpha over softplus' linear (> 20) and curved ranges
        for lag in (plain, direct):
            lag.alpha.copy_(torch.tensor([-3.0, 0.0, 2.5, 19.9, 25.0]))
    d1, d2 = div.clone().requires_grad_(True), div.clone().requires_grad_(True)
    plain.term(d1).sum().backward()
    direct.direct_term(d2).sum().backward()
    direct.direct_grad()
    assert torch.equal(plain.alpha.grad, direct.alpha.grad) and torch.equal(d1.grad, d2.grad)
    logits = torch.randn(40, generator=gen) * 4
    weight = torch.rand(40, generator=gen)
    a = logits.clone().requires_grad_(True)
    (hc.expected_l0(a, cfg.hard_concrete) * weight).sum().backward()
    b = logits.clone().requires_grad_(True)
    gm.add_l0_grad([b], weight, cfg.hard_concrete)
    assert torch.equal(a.grad, b.grad)
    b.grad = torch.ones(40)
    gm.add_l0_grad([b], weight, cfg.hard_concrete)  # adds to a gradient already there
    assert torch.equal(b.grad, torch.ones(40) + a.grad)


# ------------------------------------------------------- layer_reduce: auto


def test_auto_layer_reduce_is_amortised_only():
    assert gm.GraphMask(layer_reduce="auto").config.layer_reduce == "auto"
    with pytest.raises(ConfigError, match="layer_reduce: expected one of max, mean .got 'auto'"):
        gm.GraphMaskInstance(layer_reduce="auto")


@pytest.mark.parametrize("level", ["node", "graph"])
def test_auto_layer_reduce_keeps_the_reduction_with_the_better_dev_drop_curve(
        level, tiny_gcn, tiny_node_dataset, tiny_gin_graph, tiny_graph_dataset):
    """``auto`` fits the same gates as ``max`` (same seed), then explains with whichever
    of max / mean has the larger dev drop-curve score, computed here independently."""
    from suite.metrics.drop_curve import drop_curve_score

    model, dataset = ((tiny_gcn, tiny_node_dataset) if level == "node"
                      else (tiny_gin_graph, tiny_graph_dataset))
    params = {"epochs_per_layer": 3, "lr": 0.05, "batch_size": 8, "dev_tolerance": 0.99}
    fits = {}
    for rule in ("max", "mean", "max-varying", "auto"):
        fits[rule] = gm.GraphMask(layer_reduce=rule, **params)
        fits[rule].fit(model, dataset, dataset.splits["train"], 0)
    dev = dev_instances(dataset, fits["max"].config.dev_set)
    view = instance_batch(dataset, dev, model.num_layers)
    expected = {rule: drop_curve_score(model, view, fits[rule].explain(model, dataset, dev, 0).edge_scores)
                for rule in gm.AMORTISED_REDUCE}
    assert fits["auto"].fitted.reduce_scores == pytest.approx(expected, abs=1e-6)
    assert len(fits["max"].fitted.gated_layers) > 1  # max and mean differ: a real choice
    assert expected["max"] != pytest.approx(expected["mean"], abs=1e-4)
    choice = max(gm.AMORTISED_REDUCE, key=expected.__getitem__)  # ties: the first
    test_ids = dataset.explain_ids["test"]
    got = fits["auto"].explain(model, dataset, test_ids, 0)
    assert got.meta["layer_reduce"] == choice
    torch.testing.assert_close(got.edge_scores, fits[choice].explain(model, dataset, test_ids, 0).edge_scores)
    torch.testing.assert_close(got.edge_layer_scores,
                               fits["max"].explain(model, dataset, test_ids, 0).edge_layer_scores)
    assert got.meta[f"report_dev_drop_curve_{choice}"] == max(expected.values())


def test_max_varying_leaves_out_a_layer_with_one_score_for_every_edge(tiny_node_dataset,
                                                                    train_model):
    """A GIN on constant node features: its first layer's gate input (h_u, m_uv, h_v) is the
    same on every edge, so that layer's scores are one constant, which ``max`` lets tie
    every edge below it; ``max-varying`` takes the max over the other gated layers."""
    torch.manual_seed(0)
    dataset = tiny_node_dataset
    assert bool((dataset.data.x == dataset.data.x[0]).all())
    model = train_model(build_model("gin", dataset, hidden=16, num_layers=3), dataset, 200)
    params = {"epochs_per_layer": 30, "lr": 0.05, "penalty_scaling": 3.0, "dev_tolerance": 0.99}
    plain, varying = gm.GraphMask(**params), gm.GraphMask(layer_reduce="max-varying", **params)
    for explainer in (plain, varying):
        explainer.fit(model, dataset, dataset.splits["train"], 0)
    ids = dataset.explain_ids["test"]
    base = plain.explain(model, dataset, ids, 0)
    got = varying.explain(model, dataset, ids, 0)
    gated = plain.fitted.gated_layers
    assert 0 in gated and len(gated) > 1
    layers = base.edge_layer_scores
    assert float(layers[0].max() - layers[0].min()) == 0.0  # the constant layer
    dev = plain.explain(model, dataset, dev_instances(dataset, plain.config.dev_set), 0).edge_layer_scores
    spans = {k: float(dev[k].max() - dev[k].min()) for k in gated}
    assert got.meta["varying_layers"] == [k for k in gated if spans[k] > gm.CONSTANT_SPAN]
    assert 0 not in got.meta["varying_layers"] and got.meta["varying_layers"]
    torch.testing.assert_close(got.edge_layer_scores, layers)
    torch.testing.assert_close(got.edge_scores, layers[got.meta["varying_layers"]].max(dim=0).values)
    torch.testing.assert_close(base.edge_scores, layers[gated].max(dim=0).values)
    assert not torch.allclose(got.edge_scores, base.edge_scores)


def test_graph_fit_on_one_record_equals_recording_each_batch(tiny_gin_graph, tiny_graph_dataset,
                                                             monkeypatch):
    """A graph-task fit records the training graphs once and slices each mini-batch's record
    out of it; above ``RECORD_BYTES`` it records each afresh. Both give the same explanations."""
    ids = tiny_graph_dataset.explain_ids["test"]

    def explained():
        explainer = build_explainer("graphmask", **FAST, batch_size=8)
        explainer.fit(tiny_gin_graph, tiny_graph_dataset, tiny_graph_dataset.splits["train"], 0)
        return explainer.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores

    sliced = explained()
    monkeypatch.setattr(amortised, "RECORD_BYTES", 0)
    assert torch.equal(sliced, explained())
