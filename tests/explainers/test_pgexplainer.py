"""PGExplainer: schedule and sampling, fit/explain protocol, batching, isolation, side effects."""

from __future__ import annotations

import math

import pytest
import torch

import suite.explainers.pgexplainer as pgexplainer_module
from suite.core.config import ConfigError
from suite.explainers import build_explainer
from suite.explainers.pgexplainer import (
    PGExplainer,
    PGExplainerConfig,
    concrete_sample,
    size_excess,
    temperature,
)
from suite.explainers.toolkit import model_fingerprint, model_num_hops
from suite.graph.masking import message_layers
from suite.graph.subgraphs import instance_batch
from suite.metrics.drop_curve import DROP_GRID, drop_curve_score
from suite.metrics.perturb import masked_log_probs
from suite.models.base import GraphModel
from suite.protocol import dev_instances

#: small settings: correctness, not quality
FAST = dict(epochs=2, batch_size=8)


def _case(level: str, request):
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    return model, dataset


def _fitted(model, dataset, seed: int = 0, **hparams) -> PGExplainer:
    explainer = PGExplainer(**{**FAST, **hparams})
    explainer.fit(model, dataset, dataset.splits["train"][:16], seed)
    return explainer


@pytest.fixture(scope="module")
def fitted_node(tiny_gcn, tiny_node_dataset):
    return _fitted(tiny_gcn, tiny_node_dataset)


@pytest.fixture(scope="module")
def fitted_graph(tiny_gin_graph, tiny_graph_dataset):
    return _fitted(tiny_gin_graph, tiny_graph_dataset)


# ------------------------------------------------------------------ pure pieces

def test_temperature_schedule_values():
    """tau_e = tau0 * (tauT / tau0) ** (e / T): tau0 at e = 0, geometric in between."""
    assert temperature(0, 30, 5.0, 2.0) == pytest.approx(5.0)
    assert temperature(15, 30, 5.0, 2.0) == pytest.approx(math.sqrt(10.0))
    assert temperature(30, 30, 5.0, 2.0) == pytest.approx(2.0)
    assert temperature(29, 30, 5.0, 2.0) == pytest.approx(5.0 * 0.4 ** (29 / 30))
    values = [temperature(e, 10, 5.0, 1.0) for e in range(10)]
    ratios = [b / a for a, b in zip(values, values[1:])]
    assert all(r == pytest.approx(0.2 ** 0.1) for r in ratios)
    assert temperature(3, 10, 2.0, 2.0) == pytest.approx(2.0)


def test_concrete_sample():
    logits = torch.tensor([-3.0, 0.0, 2.0])
    half = torch.full((3,), 0.5)
    # eps = 1/2 is zero logistic noise: sigmoid(w / tau)
    torch.testing.assert_close(concrete_sample(logits, half, 2.0), torch.sigmoid(logits / 2.0))
    # bias squeezes the noise: u = 0 -> eps = bias
    low = concrete_sample(logits, torch.zeros(3), 1.0, bias=0.1)
    torch.testing.assert_close(low, torch.sigmoid(math.log(0.1 / 0.9) + logits))
    # u = 0 and u -> 1 stay finite without a bias
    extreme = concrete_sample(logits, torch.tensor([0.0, 1.0 - 1e-8, 0.0]), 5.0)
    assert torch.isfinite(extreme).all() and ((extreme >= 0) & (extreme <= 1)).all()


@pytest.mark.parametrize("field,value", [("epochs", -1), ("batch_size", 0), ("lr", 0.0),
                                         ("temp_end", -1.0), ("edge_size", -0.1),
                                         ("sample_bias", 0.5), ("embedding", "first"),
                                         ("hidden", 0), ("edge_sizes", [0.5, -1.0]),
                                         ("dev_instances", 0), ("size_budget", -1.0),
                                         ("budget_unit", "nodes"), ("init_bias", math.nan)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        build_explainer("pgexplainer", **{field: value})


def test_fingerprint_tracks_parameters(tiny_gcn):
    import copy

    twin = copy.deepcopy(tiny_gcn)
    assert model_fingerprint(twin) == model_fingerprint(tiny_gcn)
    with torch.no_grad():
        next(twin.parameters()).add_(1e-3)
    assert model_fingerprint(twin) != model_fingerprint(tiny_gcn)


# --------------------------------------------------------------------- protocol

def test_explain_before_fit_raises(tiny_gcn, tiny_node_dataset):
    with pytest.raises(ValueError, match="before explain"):
        PGExplainer().explain(tiny_gcn, tiny_node_dataset, tiny_node_dataset.explain_ids["test"], 0)


def test_fitted_explainer_refuses_another_model(fitted_node, tiny_node_dataset):
    from suite.models import build_model

    torch.manual_seed(3)
    other = build_model("gcn", tiny_node_dataset, hidden=16, num_layers=3).eval()
    with pytest.raises(ValueError, match="another model"):
        fitted_node.explain(other, tiny_node_dataset, tiny_node_dataset.explain_ids["test"], 0)


def test_fitted_explainer_refuses_another_task_level(fitted_node, tiny_gin_graph, tiny_graph_dataset):
    with pytest.raises(ValueError, match="node-level"):
        fitted_node.explain(tiny_gin_graph, tiny_graph_dataset, torch.tensor([0]), 0)


def test_fit_refuses_no_instances(tiny_gcn, tiny_node_dataset):
    with pytest.raises(ValueError, match="no training instances"):
        PGExplainer().fit(tiny_gcn, tiny_node_dataset, torch.zeros(0, dtype=torch.long), 0)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_explanation_validates_and_scores_gnnexplainers_edges(level, request):
    model, dataset = _case(level, request)
    explainer = request.getfixturevalue(f"fitted_{level}")
    ids = dataset.explain_ids["test"][:5]
    exp = explainer.explain(model, dataset, ids, 0)
    exp.validate()
    reference = build_explainer("gnnexplainer", epochs=1).explain(model, dataset, ids, 0)
    assert torch.equal(exp.instance_ids, ids)
    assert torch.equal(exp.edge_ids, reference.edge_ids)
    assert torch.equal(exp.edge_ptr, reference.edge_ptr)
    batch = instance_batch(dataset, ids, model.num_layers)
    assert torch.equal(exp.edge_ids, batch.edge_ids[batch.explainable])
    assert ((exp.edge_scores >= 0) & (exp.edge_scores <= 1)).all()
    assert exp.fit_seconds > 0 and exp.seconds > 0
    assert exp.meta["explainer"] == "pgexplainer" and exp.meta["fit"]["instances"] == 16


def _predictions(model, batch):
    with torch.no_grad():
        return batch.select_outputs(model(batch.x, batch.edge_index, **batch.model_kwargs())).argmax(-1)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_target_is_the_models_prediction(level, request):
    model, dataset = _case(level, request)
    ids = dataset.explain_ids["test"][:5]
    exp = request.getfixturevalue(f"fitted_{level}").explain(model, dataset, ids, 0)
    batch = instance_batch(dataset, ids, model.num_layers)
    assert torch.equal(exp.meta["target"], _predictions(model, batch))


@pytest.mark.parametrize("level", ["node", "graph"])
def test_batch_equals_parts(level, request):
    """One batched explain == one call per instance == full-graph views (batched=False)."""
    model, dataset = _case(level, request)
    explainer = request.getfixturevalue(f"fitted_{level}")
    ids = dataset.explain_ids["test"][:6]
    whole = explainer.explain(model, dataset, ids, 0)
    parts = torch.cat([explainer.explain(model, dataset, ids[i:i + 1], 0).edge_scores
                       for i in range(ids.numel())])
    torch.testing.assert_close(whole.edge_scores, parts, atol=1e-6, rtol=1e-5)
    explainer.config.batched = False
    try:
        reference = explainer.explain(model, dataset, ids, 0)
    finally:
        explainer.config.batched = True
    assert torch.equal(reference.edge_ids, whole.edge_ids)
    torch.testing.assert_close(whole.edge_scores, reference.edge_scores, atol=1e-6, rtol=1e-5)


# ------------------------------------------------------------ isolation, seeds

def test_config_lives_on_the_instance(tiny_gin_graph, tiny_graph_dataset):
    ids = tiny_graph_dataset.explain_ids["test"][:4]
    a = _fitted(tiny_gin_graph, tiny_graph_dataset, edge_size=0.5, temp_start=3.0)
    before = a.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores
    b = _fitted(tiny_gin_graph, tiny_graph_dataset, edge_size=0.0, temp_start=1.0, hidden=8)
    assert (a.config.edge_size, a.config.temp_start, a.config.hidden) == (0.5, 3.0, 64)
    assert (b.config.edge_size, b.config.temp_start, b.config.hidden) == (0.0, 1.0, 8)
    assert PGExplainer().config == PGExplainerConfig()  # the class defaults are untouched
    assert PGExplainer.Config().edge_size == PGExplainerConfig().edge_size
    assert torch.equal(a.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores, before)
    assert not torch.equal(b.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores, before)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_fit_is_seeded_and_leaves_the_global_rng_alone(level, request):
    model, dataset = _case(level, request)
    ids = dataset.explain_ids["test"][:4]
    state = torch.random.get_rng_state()
    first = _fitted(model, dataset, seed=5).explain(model, dataset, ids, 0).edge_scores
    assert torch.equal(torch.random.get_rng_state(), state)
    again = _fitted(model, dataset, seed=5).explain(model, dataset, ids, 0).edge_scores
    other = _fitted(model, dataset, seed=6).explain(model, dataset, ids, 0).edge_scores
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_training_moves_the_mask(tiny_gin_graph, tiny_graph_dataset):
    """A size penalty alone (no likelihood pull can beat it) drives every score down."""
    ids = tiny_graph_dataset.explain_ids["test"]
    untrained = _fitted(tiny_gin_graph, tiny_graph_dataset, epochs=0)
    trained = _fitted(tiny_gin_graph, tiny_graph_dataset, epochs=5, edge_size=5.0, lr=0.01)
    s0 = untrained.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores
    s1 = trained.explain(tiny_gin_graph, tiny_graph_dataset, ids, 0).edge_scores
    assert s1.mean() < s0.mean() - 0.2


# ------------------------------------------------------------------ side effects

_HOOK_DICTS = ["_propagate_forward_pre_hooks", "_propagate_forward_hooks",
               "_message_forward_pre_hooks", "_message_forward_hooks"]


def _assert_clean(model, flags, training):
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
    for layer in message_layers(model):
        for attr in _HOOK_DICTS:
            assert not getattr(layer, attr, {}), f"{attr} left behind"
    assert [p.requires_grad for p in model.parameters()] == flags
    assert model.training == training


@pytest.mark.parametrize("level", ["node", "graph"])
def test_no_hooks_left_after_fit_and_explain(level, request):
    model, dataset = _case(level, request)
    flags = [p.requires_grad for p in model.parameters()]
    explainer = _fitted(model, dataset)
    explainer.explain(model, dataset, dataset.explain_ids["test"][:3], 0)
    _assert_clean(model, flags, model.training)


class _Raising(GraphModel):
    """Wraps a trained model; its ``raise_at``-th forward raises ``RuntimeError('boom')``."""

    def __init__(self, inner: GraphModel, raise_at: int) -> None:
        super().__init__()
        self.inner, self.task, self.num_layers = inner, inner.task, inner.num_layers
        self.calls, self.raise_at = 0, raise_at

    def embed(self, x, edge_index, batch=None, edge_attr=None, edge_type=None):
        self.calls += 1
        out = self.inner.embed(x, edge_index, batch)  # the hooks have fired: states captured
        if self.calls == self.raise_at:
            raise RuntimeError("boom")
        return out

    def classify(self, z):
        return self.inner.classify(z)


@pytest.mark.parametrize("raise_at", [1, 2, 3])
@pytest.mark.parametrize("level", ["node", "graph"])
def test_no_hooks_left_when_the_model_raises(level, raise_at, request):
    """Call 1 reads the states (forward hook), call 2 is a masked training step (message
    hooks); call 3 with epochs=1 is the explain call's forward."""
    inner, dataset = _case(level, request)
    model = _Raising(inner, raise_at)
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    explainer = PGExplainer(epochs=1, batch_size=len(dataset.splits["train"]))
    with pytest.raises(RuntimeError, match="boom"):
        explainer.fit(model, dataset, dataset.splits["train"], 0)
        explainer.explain(model, dataset, dataset.explain_ids["test"][:3], 0)
    _assert_clean(model, flags, True)
    if raise_at < 3:
        assert not explainer.fitted  # a failed fit leaves no half-trained MLP


# ------------------------------------------------------------ edge_size selection

def _dev_view(model, dataset):
    return instance_batch(dataset, dev_instances(dataset)[:12], model.num_layers)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_drop_curve_score_against_a_loop(level, request):
    """Cross-check with a per-instance Python loop (sort each instance's edges, zero the
    floor(q n_b) lowest, average p(yhat)); a strictly increasing map of the scores and
    the reversed order behave as an order-only score must."""
    model, dataset = _case(level, request)
    view = _dev_view(model, dataset)
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(view.num_explainable, generator=gen)
    ptr = view.explained_edge_ptr().tolist()
    yhat = masked_log_probs(model, view, None).argmax(-1)
    points = []
    for q in DROP_GRID:
        mask = torch.ones(view.num_explainable)
        for b in range(len(ptr) - 1):
            lo, hi = ptr[b], ptr[b + 1]
            order = sorted(range(lo, hi), key=lambda e: (float(scores[e]), e))
            for e in order[:math.floor(q * (hi - lo) + 1e-9)]:
                mask[e] = 0.0
        probs = masked_log_probs(model, view, mask).exp()
        points.append(sum(float(probs[b, yhat[b]]) for b in range(len(ptr) - 1)) / (len(ptr) - 1))
    value = drop_curve_score(model, view, scores)
    assert value == pytest.approx(sum(points) / len(points), abs=1e-6)
    assert drop_curve_score(model, view, scores.exp() * 3 - 1) == pytest.approx(value, abs=1e-6)
    assert drop_curve_score(model, view, -scores) != pytest.approx(value, abs=1e-6)


def test_one_candidate_equals_plain_edge_size(tiny_gin_graph, tiny_graph_dataset):
    model, dataset = tiny_gin_graph, tiny_graph_dataset
    ids = dataset.explain_ids["test"][:6]
    plain = _fitted(model, dataset, edge_size=0.3).explain(model, dataset, ids, 0)
    listed = _fitted(model, dataset, edge_size=5.0, edge_sizes=[0.3]).explain(model, dataset, ids, 0)
    assert torch.equal(plain.edge_scores, listed.edge_scores)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_selection_keeps_the_candidate_with_the_best_dev_score(level, request):
    """Several edge_sizes: each MLP equals the one trained alone with that value, and the
    kept one has the largest dev drop-curve score (recomputed here from its explanations)."""
    model, dataset = _case(level, request)
    sizes = [0.0, 0.5, 3.0]
    chosen = _fitted(model, dataset, edge_sizes=sizes, dev_instances=12)
    info = chosen._fitted.info
    assert set(info["dev_drop_scores"]) == {str(v) for v in sizes}
    best = max(sizes, key=lambda v: info["dev_drop_scores"][str(v)])
    assert info["edge_size"] == best
    from suite.protocol import select_instances
    dev = select_instances(dev_instances(dataset), 12, 0)
    view = instance_batch(dataset, dev, model.num_layers)
    for size in sizes:
        alone = _fitted(model, dataset, edge_size=size)
        scores = alone.explain_view(model, view, 0, dataset).edge_scores
        assert drop_curve_score(model, view, scores) == pytest.approx(info["dev_drop_scores"][str(size)])
    ids = dataset.explain_ids["test"][:5]
    torch.testing.assert_close(chosen.explain(model, dataset, ids, 0).edge_scores,
                               _fitted(model, dataset, edge_size=best).explain(model, dataset, ids, 0).edge_scores)


# ------------------------------------------------------------- size budget, init bias

def test_size_excess_by_unit():
    """relu(mass - budget): budget in edges, or a share of each instance's edge count."""
    mass = torch.tensor([0.0, 2.0, 5.0, 9.0])
    counts = torch.tensor([4.0, 10.0, 10.0, 20.0])
    torch.testing.assert_close(size_excess(mass, counts, 0.0, "edges"), mass)
    torch.testing.assert_close(size_excess(mass, counts, 3.0, "edges"),
                               torch.tensor([0.0, 0.0, 2.0, 6.0]))
    torch.testing.assert_close(size_excess(mass, counts, 0.25, "share"),  # budgets 1, 2.5, 2.5, 5
                               torch.tensor([0.0, 0.0, 2.5, 4.0]))


def test_share_budget_error_names_the_field():
    with pytest.raises(ConfigError, match="size_budget"):
        build_explainer("pgexplainer", size_budget=1.5, budget_unit="share")


@pytest.mark.parametrize("level", ["node", "graph"])
def test_budget_of_every_edge_removes_the_size_term(level, request):
    """A budget of the whole instance (share 1) leaves nothing to penalise: the MLP
    trained with any edge_size equals the one trained with edge_size 0; a small budget
    does not."""
    model, dataset = _case(level, request)
    ids = dataset.explain_ids["test"][:5]
    free = _fitted(model, dataset, edge_size=0.0).explain(model, dataset, ids, 0).edge_scores
    full = _fitted(model, dataset, edge_size=2.0, size_budget=1.0,
                   budget_unit="share").explain(model, dataset, ids, 0).edge_scores
    torch.testing.assert_close(full, free, rtol=0, atol=0)
    some = _fitted(model, dataset, edge_size=2.0, size_budget=1.0,
                   budget_unit="edges").explain(model, dataset, ids, 0).edge_scores
    assert not torch.allclose(some, free)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_init_bias_shifts_the_untrained_logits(level, request):
    """With 0 epochs the MLP is its initialisation: init_bias adds exactly b to every logit."""
    model, dataset = _case(level, request)
    ids = dataset.explain_ids["test"][:5]
    base = _fitted(model, dataset, epochs=0, symmetric=False).explain(model, dataset, ids, 0)
    shifted = _fitted(model, dataset, epochs=0, symmetric=False,
                      init_bias=3.0).explain(model, dataset, ids, 0)
    torch.testing.assert_close(torch.logit(shifted.edge_scores.double()),
                               torch.logit(base.edge_scores.double()) + 3.0, atol=1e-4, rtol=0)


@pytest.mark.parametrize("level", ["node", "graph"])
def test_fit_on_subgraphs_extracted_once_equals_extracting_each_batch(level, request, monkeypatch):
    """The fit slices its mini-batches out of the training instances' subgraphs, extracted
    once; above ``BANK_EDGES`` it extracts each afresh. Both give the same explanations."""
    model, dataset = _case(level, request)
    ids = dataset.explain_ids["test"]
    sliced = _fitted(model, dataset, epochs=3).explain(model, dataset, ids, 0).edge_scores
    monkeypatch.setattr(pgexplainer_module, "BANK_EDGES", 0)
    fresh = _fitted(model, dataset, epochs=3).explain(model, dataset, ids, 0).edge_scores
    assert torch.equal(sliced, fresh)


def test_node_fit_slices_each_step_out_of_one_compact_bank(request):
    """Node tasks on a compactable model: the steps come from one compact form of every
    training instance (not a fresh subgraph and compact graph per step)."""
    model, dataset = _case("node", request)
    ids = dataset.splits["train"][:16]
    z_all = torch.zeros(int(dataset.data.num_nodes), 4)
    steps = pgexplainer_module._steps(model, dataset, ids, model_num_hops(model), z_all)
    assert isinstance(steps, pgexplainer_module._BankSteps) and steps.compact is not None
    step = steps(torch.tensor([2, 0]))
    assert step.count == 2 and step.inputs.shape == (step.partner.numel(), 12)
