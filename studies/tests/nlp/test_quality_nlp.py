"""Slow tier: the NLP family's numbers on the real treebank (issue 6's targets).

Uses the settings of ``suite report nlp`` (``NLPConfig``: dep-count and dep-role on the full
treebank, dep-role in mini-batches of 64 verbs; ewt-genre on 4,000 sentences), prints every
number for the closing note and
asserts the issue's thresholds: dep-count accuracy >= 0.95, dep-role balanced
accuracy >= 0.95 per question (targets are balanced, so accuracy = balanced
accuracy), and every explainer (GraphMask at the paper's defaults, as in the study's
version 2) scored on dep-role. The study's claims, over five seeds, are in
``suite report nlp``; the version 1 assertions on GraphMask's tuned dep-role gates and on
ewt-genre's accuracy drop went with version 1's settings (studies/suite_studies/nlp/README.md).
Needs the data mirror (``mirror`` fixture). Run with ``make test-slow``.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from suite_studies.nlp.report import NLPConfig, run_task

from suite.core.paths import Paths
from suite.datasets.nlp import ewt

pytestmark = [pytest.mark.slow, pytest.mark.nlp]


def test_ewt_sizes_per_split(mirror):
    stats = {}
    for split in ewt.SPLITS:
        sentences = ewt.load_split(split)
        stats[split] = (len(sentences), sum(len(s) for s in sentences),
                        len({r for s in sentences for _h, _d, r in s.arcs()}))
    print("\nsentences, tokens, relation labels per split:", stats)
    assert stats == {"train": (12544, 204577, 50), "dev": (2001, 25147, 48), "test": (2077, 25094, 48)}


def _run(name: str, setup=None, explainers: bool = True):
    config = NLPConfig()
    if not explainers:
        config.explainers = {}
    setup = setup or config.tasks[name]
    task = run_task(name, setup, config, Paths.from_env(), "cpu", print)
    for row in task.rows:
        print(f"{name} {row.method}: P {row.precision:.3f} R {row.recall:.3f} F1 {row.f1:.3f} "
              f"AUC {row.auc:.3f} kept {row.retained:.1%} acc-kept {row.acc_masked:.3f} {row.error}")
    return task


def test_dep_count_accuracy_and_explainers(mirror):
    task = _run("dep-count")
    assert task.accuracy["test"] >= 0.95
    graphmask = next(r for r in task.rows if r.method == "graphmask")
    assert not graphmask.error and not math.isnan(graphmask.f1)
    assert all(not r.error for r in task.rows)


@pytest.mark.parametrize("question", ["obj", "nsubj-pass", "comp"])
def test_dep_role_balanced_accuracy(mirror, question):
    base = NLPConfig().tasks["dep-role"]
    setup = dataclasses.replace(base, dataset_params={**base.dataset_params, "question": question})
    # the explainers run on obj (the report's question); the other questions train the model only
    task = _run(f"dep-role ({question})", setup, explainers=question == "obj")
    print(f"dep-role ({question}) balanced targets train/val/test: {task.stats['targets']}; "
          f"accuracy {task.accuracy}")
    assert task.accuracy["test"] >= 0.95
    if question == "obj":  # every explainer ran and was scored (GraphMask at the paper's defaults)
        assert all(not r.error and not math.isnan(r.f1) for r in task.rows)


def test_ewt_genre_accuracy_and_droppable_edges(mirror):
    task = _run("ewt-genre")
    graphmask = next(r for r in task.rows if r.method == "graphmask")
    print(f"ewt-genre test accuracy {task.accuracy['test']:.3f}; GraphMask drops {1 - graphmask.retained:.1%} "
          f"of edges, accuracy {graphmask.acc_masked:.3f} vs {task.acc_unmasked:.3f}")
    assert task.accuracy["test"] > 0.4  # majority class (email) is ~0.29 of the test split
    # no accuracy-drop assertion: the model is below its floor (the study's claims leave it
    # out), and at the paper's defaults GraphMask may keep every edge (nothing to judge)
    assert not graphmask.error
