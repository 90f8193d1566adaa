"""The GraphMask study over seeds: intervals, claims and the configuration record, on planted
per-seed reports (no training)."""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_studies.claims import Verdict
from suite_studies.graphmask import study as gs
from suite_studies.graphmask.report import GraphMaskReport, MethodResult, ReportConfig
from suite_studies.versioning import StudyVersionError


def _report(f1: dict[str, float], retained: float = 0.35, acc_masked: float = 1.0,
            model_below: str = "") -> GraphMaskReport:
    rows = [MethodResult(m, precision=v, recall=v, f1=v, retained=retained if m == "graphmask" else 0.2,
                         acc_masked=acc_masked if m == "graphmask" else 1.0, agreement=1.0, auc=v)
            for m, v in f1.items()]
    return GraphMaskReport(ReportConfig(), {"test": 1.0}, 1.0, 10, 0.35, rows, model_below=model_below)


def _study(per_seed: list[dict[str, float]], **kwargs) -> gs.GraphMaskStudy:
    config = gs.StudyConfig(seeds=tuple(range(len(per_seed))))
    return gs.GraphMaskStudy(config, [_report(f, **kwargs) for f in per_seed])


def _verdicts(study: gs.GraphMaskStudy) -> dict[str, Verdict]:
    return {c.test.split(",")[0]: c.verdict for c in study.claims()}


def test_claims_follow_the_intervals_over_seeds():
    per_seed = [{"graphmask": 0.97 + 0.005 * s, "graphmask-instance": 0.5 + 0.01 * s,
                 "gnnexplainer": 0.95 + 0.01 * (s % 2)} for s in range(5)]
    verdicts = _verdicts(_study(per_seed))
    assert verdicts["F1 of kept edges vs the counted edges"] == Verdict.SUPPORTED
    assert verdicts["paired F1 difference graphmask - graphmask-instance"] == Verdict.SUPPORTED
    # GraphMask 0.97-0.99 vs GNNExplainer 0.95/0.96: a small, consistent lead
    assert verdicts["paired F1 difference graphmask - gnnexplainer"] == Verdict.SUPPORTED
    tied = [{"graphmask": 0.97, "gnnexplainer": 0.97 + (0.02 if s % 2 else -0.02)} for s in range(5)]
    assert _verdicts(_study(tied))["paired F1 difference graphmask - gnnexplainer"] \
        == Verdict.NOT_SUPPORTED  # the interval covers 0


def test_a_graphmask_that_kept_every_edge_supports_no_claim_and_floors_exclude_seeds():
    per_seed = [{"graphmask": 0.5, "gnnexplainer": 0.2} for _ in range(5)]
    kept_all = _study(per_seed, retained=1.0)
    assert all(c.verdict == Verdict.INCONCLUSIVE for c in kept_all.claims())
    assert "kept every edge" in kept_all.claims()[0].excluded
    below = _study(per_seed, model_below="test accuracy 0.5 < 0.90")
    assert all(c.verdict == Verdict.INCONCLUSIVE for c in below.claims())
    assert "Left out of the claims" in below.markdown()


def test_a_bimodal_f1_gets_a_bootstrap_interval_inside_its_range_and_the_seeds_shown():
    per_seed = [{"graphmask": v} for v in (1.0, 1.0, 0.52, 1.0, 1.0)]
    interval = _study(per_seed).interval("graphmask", "f1")
    assert interval.method == "bootstrap" and 0.0 <= interval.low <= interval.high <= 1.0
    text = _study(per_seed).markdown()
    assert "(seeds: 1.000 / 1.000 / 0.520 / 1.000 / 1.000)" in text and "## Claims" in text


def test_the_configuration_is_recorded_and_a_change_needs_a_new_version(tmp_path, monkeypatch):
    monkeypatch.setattr(gs, "run_report", lambda config, *a, **k: _report({"graphmask": 1.0}))
    config = gs.StudyConfig(seeds=(0, 1))
    study = gs.run_study(config, paths=None, out=tmp_path)  # type: ignore[arg-type]
    assert study.version is not None and study.version.version == gs.STUDY_VERSION
    assert study.version.config_hash in study.markdown()
    changed = gs.StudyConfig(report=ReportConfig(max_test=100), seeds=(0, 1))
    with pytest.raises(StudyVersionError, match="new version"):
        gs.run_study(changed, paths=None, out=tmp_path)  # type: ignore[arg-type]


def test_the_readme_claims_table_is_the_generated_one():
    """The study README quotes the claims table of the committed five-seed reference run."""
    root = Path(__file__).resolve().parents[3]
    reference = (root / "results/reference/graphmask/graphmask.md").read_text(encoding="utf-8")
    readme = (root / "studies/suite_studies/graphmask/README.md").read_text(encoding="utf-8")
    table = reference.split("## Claims\n\n", 1)[1].split("\n\n", 1)[0]
    assert table in readme
    assert f"Study version {gs.STUDY_VERSION}" in reference
    assert (root / "results/reference/graphmask/study-version.json").is_file()
