"""Registry-wide contract: every registered explainer, node and graph fixtures.

The checks live in :mod:`suite.plugins.contract` (``suite validate-plugin`` runs the same
ones on a plug-in): shapes and the shared edge set, score ranges, determinism
under a seed, and no side effects on the model (parameters, requires_grad flags,
mode, predictions, hooks, PyG explain state), also when the model raises in the
middle of a run.
"""

from __future__ import annotations

import pytest

from suite.explainers import EXPLAINERS, explainer_info
from suite.plugins.contract import (
    ContractCase,
    check_contract,
    check_metadata,
    check_raising_model,
    make_fast,
)

NAMES = EXPLAINERS.names()

#: The refusals each built-in explainer is expected to give on the fixtures: (explainer,
#: level) -> a phrase of its reason. Any other refusal fails the test instead of skipping.
EXPECTED_REFUSALS: dict[tuple[str, str], str] = {
    ("erasure-search", "node"): "does not explain node-level tasks",
    ("erasure-search", "graph"): "tries 2^m edge subsets per graph",
    ("pyg-graphmask", "graph"): "GINConv has none",
}


def _refused(name: str, level: str, reason: str | None) -> None:
    """Skip an expected refusal (with its reason); fail on any other one, or when an expected
    refusal did not come."""
    expected = EXPECTED_REFUSALS.get((name, level))
    if reason is None:
        assert expected is None, f"{name} ({level}) was expected to refuse: {expected}"
        return
    assert expected is not None and expected in reason, f"unexpected refusal: {reason}"
    pytest.skip(reason)


def _case(level: str, request) -> ContractCase:
    model = request.getfixturevalue("tiny_gcn" if level == "node" else "tiny_gin_graph")
    dataset = request.getfixturevalue(f"tiny_{level}_dataset")
    return ContractCase(level, model, dataset, dataset.explain_ids["test"][:4],
                        dataset.splits["train"][:8])


def _factory(name: str):
    return lambda: make_fast(EXPLAINERS.get(name))


@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_metadata(name):
    check_metadata(explainer_info(name), name)


@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_contract(name, level, request):
    _refused(name, level, check_contract(_factory(name), _case(level, request), name))


@pytest.mark.parametrize("raise_at", [1, 2])
@pytest.mark.parametrize("level", ["node", "graph"])
@pytest.mark.parametrize("name", NAMES, ids=NAMES)
def test_no_state_left_when_the_model_raises(name, level, raise_at, request):
    _refused(name, level, check_raising_model(_factory(name), _case(level, request), raise_at))
