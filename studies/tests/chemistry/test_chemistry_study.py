"""The chemistry study over seeds: recall against random, floors, claims, resuming."""

from __future__ import annotations

import json
import math

import pytest
from suite_studies.chemistry.fragments import group_recall
from suite_studies.chemistry.report import ChemistryConfig
from suite_studies.chemistry.study import ChemistryStudy, StudyConfig, run_study
from suite_studies.claims import Verdict
from suite_studies.versioning import StudyVersionError


def test_group_recall_counts_only_molecules_that_have_the_group():
    per_molecule = [[("c1ccccc1", {"ring"})], [("C", set())], [("C", set())]]
    present = [{"ring"}, {"ring"}, set()]
    out = group_recall(per_molecule, present, ["ring", "F"])
    assert out["ring"] == 0.5 and math.isnan(out["F"])


def _record(seed: int, recall: dict[tuple[str, str], float], below: dict[str, str] | None = None
            ) -> dict:
    """One seed of benzene: (training, explainer) -> recall of the benzene ring."""
    cells = [{"training": t, "explainer": e, "n": 10, "error": "", "top": [["c1ccccc1", 0.5]],
              "in_top": {"benzene ring": e != "random"}, "share": {}, "recall": {"benzene ring": v}}
             for (t, e), v in recall.items()]
    return {"seed": seed, "seconds": 1.0, "datasets": [{
        "name": "benzene", "groups": ["benzene ring"], "error": "", "figure": "",
        "accuracy": {"standard": 0.98, "adv-features": 0.97},
        "below": below or {"standard": "", "adv-features": ""}, "cells": cells}]}


def _study(records: list[dict]) -> ChemistryStudy:
    config = StudyConfig(report=ChemistryConfig(explainers={"saliency": {}, "random": {}}),
                         seeds=tuple(r["seed"] for r in records))
    return ChemistryStudy(config, records)


def test_claims_compare_with_random_and_leave_below_floor_seeds_out():
    records = [_record(s, {("standard", "saliency"): 0.6 + 0.01 * s,
                           ("standard", "random"): 0.1,
                           ("adv-features", "saliency"): 0.6 + 0.02 * (s % 2) - 0.01,
                           ("adv-features", "random"): 0.1}) for s in range(5)]
    study = _study(records)
    found, adversarial = study.claims()
    assert found.verdict is Verdict.SUPPORTED and found.estimate == pytest.approx(0.52)
    assert adversarial.verdict is Verdict.NOT_SUPPORTED  # the interval covers 0
    text = study.markdown()
    assert "| saliency | standard | 0.620 [" in text and "| 5/5 |" in text
    assert "| random | standard | 0.100" in text and "0/5" in text
    # every seed's model below its floor: untested, and the reason is given
    low = [_record(s, {("standard", "saliency"): 0.9, ("standard", "random"): 0.1},
                   {"standard": "test accuracy 0.700 < 0.95", "adv-features": ""})
           for s in range(3)]
    claim = _study(low).claims()[0]
    assert claim.verdict is Verdict.INCONCLUSIVE
    assert claim.excluded == "0 seed(s) with its models at their floor (below it: standard on 3 of 3)"


def test_seeds_are_kept_and_a_changed_configuration_needs_a_new_version(tmp_path, monkeypatch):
    import suite_studies.chemistry.study as study_module

    ran = []

    def fake_run(config, paths, device, out_dir, progress):
        ran.append(config.seed)
        return study_module.ChemistryReport(config=config, datasets=[], seconds=1.0)

    monkeypatch.setattr(study_module, "run_chemistry", fake_run)
    config = StudyConfig(report=ChemistryConfig(datasets={}), seeds=(3, 4))
    run_study(config, None, out=tmp_path)
    assert ran == [3, 4]
    assert json.loads((tmp_path / "seeds" / "seed-4.json").read_text())["seed"] == 4
    run_study(config, None, out=tmp_path)  # resumes: nothing reruns
    assert ran == [3, 4]
    changed = StudyConfig(report=ChemistryConfig(datasets={}, max_test=5), seeds=(3, 4))
    with pytest.raises(StudyVersionError, match="new version"):
        run_study(changed, None, out=tmp_path)
