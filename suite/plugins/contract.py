"""The explainer contract: the checks every explainer must pass before it is scored.

One implementation serves the registry-wide tests (``tests/explainers/test_contract.py``)
and ``suite validate-plugin`` (a method author's explainer, before it reaches the board).
Each check raises :class:`ContractError` whose message starts with the check's name:

- ``metadata``: ``info`` has a name, citation, description and a known source;
- ``shapes``: ``Explanation.validate()``, the task, the explained instance ids, the
  edge ids and offsets of the shared instance batch, node ids/offsets;
- ``finite``: no NaN or inf scores;
- ``ranges``: unsigned scores in [0, 1] (non-negative only for magnitudes), ``signed``
  as declared, ``seconds > 0``;
- ``determinism``: a fresh instance (fitted again) gives identical scores under the same seed;
- ``model unchanged``: parameters, ``requires_grad`` flags, train/eval mode and predictions;
- ``no leftover hooks``: no forward/backward hooks, no PyG message-passing hooks or
  explain state (``explain``, ``_edge_mask``) left on any layer;
- ``raising model``: when the model raises in the middle of ``fit``/``explain``, the
  error propagates and no state is left behind.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset, Explanation
from suite.datasets import load_dataset
from suite.explainers import EXPLAINERS
from suite.graph.masking import message_layers
from suite.graph.subgraphs import instance_batch
from suite.models import build_model
from suite.models.base import GraphModel
from suite.training import build_training

#: Scores that are magnitudes, not masks: non-negative but unbounded.
UNBOUNDED: frozenset[str] = frozenset({"saliency", "pyg-saliency"})
#: Small settings so the contract runs in seconds (applied to the fields a config has).
FAST: dict[str, int] = {"epochs": 3, "steps": 3, "fit_epochs": 2, "epochs_per_layer": 2}
#: Known values of ``ExplainerInfo.source``.
SOURCES: tuple[str, ...] = ("suite", "pyg", "baseline", "reference", "plugin")
#: The checks, in the order they run.
CHECKS: tuple[str, ...] = ("metadata", "shapes", "finite", "ranges", "determinism",
                           "model unchanged", "no leftover hooks", "raising model")

_HOOK_DICTS = (
    "_propagate_forward_pre_hooks", "_propagate_forward_hooks", "_message_forward_pre_hooks",
    "_message_forward_hooks", "_aggregate_forward_pre_hooks", "_aggregate_forward_hooks",
    "_message_and_aggregate_forward_pre_hooks", "_message_and_aggregate_forward_hooks",
    "_edge_update_forward_pre_hooks", "_edge_update_forward_hooks",
)


class ContractError(AssertionError):
    """An explainer broke the contract; the message starts with the failing check's name."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check


def _require(condition: bool, check: str, message: str) -> None:
    if not condition:
        raise ContractError(check, message)


@dataclass
class ContractCase:
    """A trained model, its dataset and the instances to explain.

    Attributes:
        level: ``node`` or ``graph``.
        model, dataset: the model (eval mode) and the dataset it was trained on.
        ids: [B] instances to explain (node or graph ids).
        fit_ids: [F] instances amortised explainers fit on.
    """

    level: str
    model: GraphModel
    dataset: BenchmarkDataset
    ids: Tensor
    fit_ids: Tensor


def make_fast(factory: Callable[..., Any]) -> Any:
    """An instance of explainer class ``factory`` with :data:`FAST` applied to its config fields."""
    config = getattr(factory, "Config", None)
    fields = {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else set()
    return factory(**{k: v for k, v in FAST.items() if k in fields})


# ----------------------------------------------------------------------------- checks


def check_metadata(info: Any, name: str) -> None:
    """``metadata``: name matches, citation and description given, source known."""
    _require(info is not None, "metadata", f"{name} has no ExplainerInfo")
    _require(info.name == name, "metadata", f"info.name {info.name!r} != registered name {name!r}")
    _require(bool(info.citation) and bool(info.description), "metadata",
             f"{name}: info.citation and info.description must be non-empty")
    _require(info.source in SOURCES, "metadata",
             f"{name}: info.source {info.source!r} is not one of {', '.join(SOURCES)}")


def _predict(model: GraphModel, dataset: BenchmarkDataset) -> Tensor:
    d = dataset.data
    kwargs = {"batch": d.batch} if dataset.node_ptr is not None else {}
    with torch.no_grad():
        return model(d.x, d.edge_index, **kwargs)


def snapshot(model: GraphModel, dataset: BenchmarkDataset) -> dict[str, Any]:
    """What ``check_untouched`` compares against: state, flags, mode, predictions."""
    return {"state": {k: v.clone() for k, v in model.state_dict().items()},
            "flags": [p.requires_grad for p in model.parameters()],
            "training": model.training, "pred": _predict(model, dataset)}


def check_untouched(model: GraphModel, dataset: BenchmarkDataset, before: dict[str, Any]) -> None:
    """``no leftover hooks`` and ``model unchanged`` against :func:`snapshot`."""
    for module in model.modules():
        kind = type(module).__name__
        _require(not module._forward_hooks and not module._forward_pre_hooks,
                 "no leftover hooks", f"a forward hook was left on {kind}")
        _require(not module._backward_hooks, "no leftover hooks",
                 f"a backward hook was left on {kind}")
    for layer in message_layers(model):
        kind = type(layer).__name__
        for attr in _HOOK_DICTS:
            _require(not getattr(layer, attr, {}), "no leftover hooks", f"{kind}.{attr} left behind")
        _require(layer.explain is not True, "no leftover hooks", f"{kind}.explain left True")
        _require(getattr(layer, "_edge_mask", None) is None and "_edge_mask" not in layer._parameters,
                 "no leftover hooks", f"{kind}._edge_mask left behind")
    after = model.state_dict()
    _require(after.keys() == before["state"].keys(), "model unchanged",
             "the model's parameter names changed")
    for key, value in before["state"].items():
        _require(torch.equal(after[key], value), "model unchanged", f"parameter {key} changed")
    _require([p.requires_grad for p in model.parameters()] == before["flags"], "model unchanged",
             "requires_grad flags changed")
    _require(model.training == before["training"], "model unchanged",
             f"train/eval mode changed (training={model.training})")
    _require(torch.equal(_predict(model, dataset), before["pred"]), "model unchanged",
             "the model's predictions changed")


def check_explanation(exp: Explanation, case: ContractCase, signed: bool, bounded: bool) -> None:
    """``shapes``, ``finite`` and ``ranges`` of one explanation of ``case.ids``."""
    dataset, ids = case.dataset, case.ids
    try:
        exp.validate()
    except ValueError as exc:
        if "nan" in str(exc).lower() or "inf" in str(exc).lower():
            raise ContractError("finite", str(exc)) from None
        raise ContractError("shapes", str(exc)) from None
    _require(exp.task == dataset.task, "shapes", f"task {exp.task} != dataset task {dataset.task}")
    _require(torch.equal(exp.instance_ids.cpu().long(), ids), "shapes",
             f"explained instances {exp.instance_ids.tolist()[:8]} != requested {ids.tolist()[:8]}")
    batch = instance_batch(dataset, ids, case.model.num_layers)
    expected = batch.edge_ids[batch.explainable]
    _require(exp.edge_ids.numel() == expected.numel() and torch.equal(exp.edge_ids.cpu(), expected),
             "shapes", f"edge_ids: {exp.edge_ids.numel()} ids, expected the {expected.numel()} "
                       "explainable edges of the instance batch (suite.graph.subgraphs.instance_batch)")
    _require(torch.equal(exp.edge_ptr.cpu(), batch.explained_edge_ptr()), "shapes",
             "edge_ptr differs from the instance batch's explained_edge_ptr()")
    scores = exp.edge_scores.detach().cpu()
    _require(scores.shape == expected.shape, "shapes",
             f"edge_scores has shape {tuple(scores.shape)}, expected {tuple(expected.shape)}")
    _require(bool(torch.isfinite(scores).all()), "finite",
             f"{int((~torch.isfinite(scores)).sum())} edge scores are NaN or inf")
    if exp.node_scores is not None:
        _require(exp.node_ids is not None and exp.node_ptr is not None, "shapes",
                 "node_scores without node_ids / node_ptr")
        _require(exp.node_ids.numel() == exp.node_scores.numel() == int(exp.node_ptr[-1]), "shapes",
                 "node_ids, node_scores and node_ptr[-1] disagree")
        _require(exp.node_ptr.numel() == ids.numel() + 1, "shapes", "node_ptr must have B + 1 entries")
        _require(bool(torch.isfinite(exp.node_scores).all()), "finite", "node scores are NaN or inf")
    _require(exp.signed == signed, "ranges", f"explanation.signed={exp.signed} but info.signed={signed}")
    _require(exp.seconds > 0, "ranges", f"explanation.seconds must be > 0 (got {exp.seconds})")
    if not signed:
        _require(bool((scores >= 0).all()), "ranges",
                 f"unsigned scores must be >= 0 (min {float(scores.min()):.4g})")
        if bounded:
            _require(bool((scores <= 1).all()), "ranges",
                     f"mask scores must lie in [0, 1] (max {float(scores.max()):.4g})")


def check_contract(factory: Callable[..., Any], case: ContractCase, name: str,
                   bounded: bool | None = None) -> str | None:
    """Every check but ``metadata`` and ``raising model`` on ``case``; None, or the reason it is skipped.

    ``factory`` builds a fresh explainer (called twice: the second instance checks
    determinism). ``bounded`` defaults to ``name not in UNBOUNDED``.
    """
    bounded = name not in UNBOUNDED if bounded is None else bounded
    explainer = factory()
    reason = explainer.supports(case.model, case.dataset)
    if reason is not None:
        return reason
    before = snapshot(case.model, case.dataset)
    explainer.fit(case.model, case.dataset, case.fit_ids, 0)
    exp = explainer.explain(case.model, case.dataset, case.ids, 0)
    check_untouched(case.model, case.dataset, before)
    check_explanation(exp, case, signed=bool(explainer.info.signed), bounded=bounded)
    fresh = factory()
    fresh.fit(case.model, case.dataset, case.fit_ids, 0)  # amortised: fit first
    again = fresh.explain(case.model, case.dataset, case.ids, 0)
    _require(again.edge_scores.shape == exp.edge_scores.shape
             and torch.equal(again.edge_scores, exp.edge_scores), "determinism",
             "two fresh instances gave different scores under the same seed")
    check_untouched(case.model, case.dataset, before)
    return None


class _SharedCounter:
    """A call counter that model copies share (deep copies return the same object)."""

    def __init__(self) -> None:
        self.calls = 0

    def __deepcopy__(self, memo: dict) -> "_SharedCounter":
        return self


class RaisingModel(GraphModel):
    """Wraps a trained model; its ``raise_at``-th call raises ``RuntimeError('boom')``."""

    def __init__(self, inner: GraphModel, raise_at: int | None) -> None:
        super().__init__()
        self.inner = inner
        self.task, self.num_layers = inner.task, inner.num_layers
        self.embedding_dim = getattr(inner, "embedding_dim", None)
        self.counter, self.raise_at = _SharedCounter(), raise_at

    def embed(self, x, edge_index, batch=None, edge_attr=None, edge_type=None):  # noqa: ANN001
        self.counter.calls += 1
        if self.raise_at is not None and self.counter.calls == self.raise_at:
            raise RuntimeError("boom")
        return self.inner.embed(x, edge_index, batch, edge_attr, edge_type)

    def classify(self, z):  # noqa: ANN001
        return self.inner.classify(z)


def check_raising_model(factory: Callable[..., Any], case: ContractCase,
                        raise_at: int) -> str | None:
    """``raising model``: the ``raise_at``-th model call raises; it must propagate, leaving no state."""
    model = RaisingModel(case.model, None)
    explainer = factory()
    reason = explainer.supports(model, case.dataset)
    if reason is not None:
        return reason
    before = snapshot(model, case.dataset)  # the snapshot's own call must not count or raise
    model.raise_at, model.counter.calls = raise_at, 0
    try:
        explainer.fit(model, case.dataset, case.fit_ids, 0)
        explainer.explain(model, case.dataset, case.ids, 0)
    except RuntimeError as exc:
        _require("boom" in str(exc), "raising model",
                 f"the model's error was replaced by {type(exc).__name__}: {exc}")
    else:
        _require(model.counter.calls < raise_at, "raising model",
                 "the model raised but the explainer swallowed the error")
    model.raise_at = None  # let the checks call it
    try:
        check_untouched(model, case.dataset, before)
    except ContractError as exc:
        raise ContractError("raising model", f"after the model raised: {exc}") from None
    return None


# ----------------------------------------------------------------------------- a whole explainer


@dataclass(frozen=True)
class CheckResult:
    """One check on one case: ``passed``, ``failed`` (with the message) or ``skipped`` (reason)."""

    check: str
    level: str
    status: str
    message: str = ""


def validate_explainer(name: str, cases: Sequence[ContractCase],
                       factory: Callable[..., Any] | None = None) -> list[CheckResult]:
    """Run the contract on registered explainer ``name`` over ``cases``; stop at the first failure.

    Returns one result per (check, level) that ran; the last one is ``failed`` when a
    check failed. An exception other than ``ContractError`` counts as a failure of
    the check that was running (its type and message are reported).
    """

    entry = EXPLAINERS.entry(name)
    make = factory or (lambda: make_fast(entry.factory))
    # each validation works on its own copies: a bad explainer cannot spoil the cases
    cases = [dataclasses.replace(case, model=copy.deepcopy(case.model)) for case in cases]
    results: list[CheckResult] = []
    try:
        check_metadata(entry.metadata.get("info"), entry.name)
    except ContractError as exc:
        return [CheckResult("metadata", "-", "failed", str(exc))]
    results.append(CheckResult("metadata", "-", "passed"))
    body = ("shapes", "finite", "ranges", "determinism", "model unchanged", "no leftover hooks")
    for case in cases:
        for step, run in (("contract", lambda: check_contract(make, case, entry.name)),
                          ("raising model", lambda: check_raising_model(make, case, 1)),
                          ("raising model", lambda: check_raising_model(make, case, 2))):
            try:
                reason = run()
            except ContractError as exc:
                results.append(CheckResult(exc.check, case.level, "failed", str(exc)))
                return results
            except Exception as exc:  # a crash is a failure of the step that ran
                check = "shapes" if step == "contract" else step
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                results.append(CheckResult(check, case.level, "failed",
                                           f"{check}: {type(exc).__name__}: {message}"))
                return results
            if reason is not None:
                results.append(CheckResult(step, case.level, "skipped", reason))
                break
            if step == "contract":
                results += [CheckResult(check, case.level, "passed") for check in body]
            elif not any(r.check == step and r.level == case.level for r in results):
                results.append(CheckResult(step, case.level, "passed"))
    return results


def contract_cases(seed: int = 0, levels: Sequence[str] = ("node", "graph"),
                   device: str = "cpu") -> list[ContractCase]:
    """Small trained cases from the suite's own generators (seconds on a CPU).

    node: BA-Shapes with 40 base nodes and 8 houses, a 3-layer GCN; graph:
    BA-2Motifs with 40 graphs of 10 base nodes, a 3-layer GIN. Both trained with
    the ``standard`` mode for 100 epochs; 4 explained test instances each.
    """

    specs = {"node": ("ba-shapes", {"num_base": 40, "num_motifs": 8, "num_features": 4}, "gcn"),
             "graph": ("ba-2motifs", {"num_graphs": 40, "num_base": 10, "num_features": 4}, "gin")}
    unknown = [level for level in levels if level not in specs]
    if unknown:
        raise ValueError(f"levels: unknown task level(s) {unknown}; known: node, graph")
    cases = []
    for level in levels:
        name, params, model_name = specs[level]
        # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
        dataset = load_dataset(name, seed=seed, **params)  # nosec B615
        seed_everything(seed)
        model = build_model(model_name, dataset, hidden=16, num_layers=3)
        build_training("standard", epochs=100, patience=0).train(model, dataset, seed, device)
        model.eval()
        ids = dataset.explain_ids["test"][:4]
        fit_ids = dataset.splits["train"][:8]
        cases.append(ContractCase(level, model, dataset, ids, fit_ids))
    return cases


def refusal(results: Sequence[CheckResult]) -> str | None:
    """The failing check's message, or None when every check that ran passed."""
    failed = [r for r in results if r.status == "failed"]
    return None if not failed else failed[-1].message
