"""The NLP study over seeds: claims from per-seed records, floors, a GraphMask that kept
every edge."""

from __future__ import annotations

import pytest
from suite_studies.claims import Verdict
from suite_studies.nlp.report import NLPConfig
from suite_studies.nlp.study import NLPStudy, StudyConfig


def _row(method: str, f1: float, retained: float = 0.3, acc: float = 0.97) -> dict:
    return {"method": method, "precision": f1, "recall": f1, "f1": f1, "auc": 0.9,
            "edge_f1": f1, "retained": retained, "acc_masked": acc, "n": 100, "error": ""}


def _record(seed: int, gm_f1: float, gm_retained: float = 0.3, below: str = "",
            truth: bool = True) -> dict:
    rows = [_row("graphmask", gm_f1 if truth else float("nan"), gm_retained),
            _row("saliency", 0.4 + 0.01 * seed if truth else float("nan"))]
    return {"seed": seed, "seconds": 1.0, "tasks": [{
        "name": "dep-count", "accuracy": {"train": 0.99, "val": 0.98, "test": 0.98},
        "acc_unmasked": 0.98, "below": below, "stats": {}, "rows": rows, "layer_shares": {},
        "drawings": []}]}


def _study(records: list[dict]) -> NLPStudy:
    config = StudyConfig(report=NLPConfig(explainers={"graphmask": {}, "saliency": {}}),
                         seeds=tuple(r["seed"] for r in records))
    return NLPStudy(config, records)


def test_claims_follow_the_intervals_and_name_the_comparisons():
    study = _study([_record(s, 0.60 + 0.01 * s) for s in range(5)])
    preserve, versus = study.claims()
    assert preserve.verdict is Verdict.SUPPORTED and preserve.estimate == pytest.approx(-0.01)
    assert versus.claim == "dep-count: GraphMask finds the deciding arcs better than saliency"
    assert versus.verdict is Verdict.SUPPORTED and versus.estimate == pytest.approx(0.20)
    assert "| graphmask | 100 | 0.620 [" in study.markdown()


def test_a_graphmask_that_kept_every_edge_or_a_model_below_its_floor_supports_nothing():
    kept_all = _study([_record(s, 0.3, gm_retained=1.0) for s in range(5)]).claims()
    assert all(c.verdict is Verdict.INCONCLUSIVE for c in kept_all)
    assert kept_all[0].excluded == "GraphMask kept every edge: no selection to judge"
    below = _study([_record(s, 0.6, below="balanced accuracy 0.534 < 0.90") for s in range(5)])
    claim = below.claims()[0]
    assert claim.verdict is Verdict.INCONCLUSIVE and "below it on 5 of 5" in claim.excluded
    no_truth = _study([_record(s, 0.6, truth=False) for s in range(3)]).claims()
    assert len(no_truth) == 1  # only the accuracy claim where no ground truth exists
