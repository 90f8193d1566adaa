"""Explainer plug-ins that break the contract (for `suite validate-plugin` tests).

Each is a small variation of the built-in ``random`` baseline (which passes); none is registered on import: a
test names one with ``--plugin tests/plugins/bad_explainers.py:Class``.
"""

from __future__ import annotations

import torch

from suite.explainers import ExplainerInfo
from suite.explainers.random import RandomExplainer


def _info(name: str, what: str) -> ExplainerInfo:
    return ExplainerInfo(name=name, citation="test", source="plugin", description=what)


class WrongShape(RandomExplainer):
    """Drops the last edge score."""

    info = _info("bad-shape", "one edge score too few")

    def explain(self, model, dataset, ids, seed):
        exp = super().explain(model, dataset, ids, seed)
        exp.edge_scores = exp.edge_scores[:-1]
        return exp


class NaNScores(RandomExplainer):
    """Every other score is NaN."""

    info = _info("bad-nan", "NaN scores")

    def explain(self, model, dataset, ids, seed):
        exp = super().explain(model, dataset, ids, seed)
        exp.edge_scores[::2] = float("nan")
        return exp


class LeavesHook(RandomExplainer):
    """Registers a forward hook on the model and never removes it."""

    info = _info("bad-hook", "leaves a forward hook")

    def explain(self, model, dataset, ids, seed):
        model.register_forward_hook(lambda module, inputs, output: None)
        return super().explain(model, dataset, ids, seed)


class Nondeterministic(RandomExplainer):
    """Scores from the unseeded global generator."""

    info = _info("bad-random", "unseeded random scores")

    def explain(self, model, dataset, ids, seed):
        exp = super().explain(model, dataset, ids, seed)
        exp.edge_scores = torch.rand(exp.edge_scores.shape)
        return exp
