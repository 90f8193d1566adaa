"""Claims tables and versioned study configurations (the shared parts of every study)."""

from __future__ import annotations

import math

import pytest
from suite_studies.claims import Claim, Verdict, claims_markdown
from suite_studies.versioning import StudyVersionError, record_configuration


def test_a_claim_whose_interval_covers_zero_is_not_supported():
    covers = Claim("adversarial training raises edge AUC", "paired diff, 5 seeds", 0.03, -0.01, 0.07)
    above = Claim("adversarial training raises edge AUC", "paired diff, 5 seeds", 0.05, 0.01, 0.09)
    below = Claim("adversarial training raises edge AUC", "paired diff, 5 seeds", -0.05, -0.09, -0.01)
    assert covers.verdict == Verdict.NOT_SUPPORTED
    assert above.verdict == Verdict.SUPPORTED
    assert below.verdict == Verdict.NOT_SUPPORTED  # the other side of zero supports nothing
    lower = Claim("per-instance masks are less faithful", "F1 diff", -0.2, -0.3, -0.1, direction=-1)
    assert lower.verdict == Verdict.SUPPORTED
    on_null = Claim("F1 above 0.95", "mean F1, 5 seeds", 0.97, 0.95, 0.99, null=0.95)
    assert on_null.verdict == Verdict.NOT_SUPPORTED  # the interval touches the null value


def test_untestable_claims_are_inconclusive_and_the_table_says_why():
    excluded = Claim("GraphMask is sparse", "kept share", 0.0, -0.1, 0.1,
                     excluded="GraphMask kept every edge")
    one_seed = Claim("F1 >= 0.95", "one seed", 1.0, math.nan, math.nan, null=0.95)
    assert excluded.verdict == one_seed.verdict == Verdict.INCONCLUSIVE
    table = claims_markdown([excluded, one_seed])
    assert "not tested: GraphMask kept every edge" in table and table.count("inconclusive") == 2
    with pytest.raises(ValueError, match="direction"):
        Claim("x", "y", 0.0, -1.0, 1.0, direction=0)


def test_a_changed_configuration_needs_a_new_version(tmp_path):
    config = {"epochs_per_layer": 100, "seeds": [0, 1, 2, 3, 4]}
    first = record_configuration(tmp_path, "graphmask", 1, config)
    assert record_configuration(tmp_path, "graphmask", 1, dict(config)) == first  # a rerun
    with pytest.raises(StudyVersionError, match="new version of the study"):
        record_configuration(tmp_path, "graphmask", 1, {**config, "epochs_per_layer": 300})
    with pytest.raises(StudyVersionError, match="needs its own output folder"):
        record_configuration(tmp_path, "graphmask", 2, {**config, "epochs_per_layer": 300})
    assert record_configuration(tmp_path / "v2", "graphmask", 2, {**config, "epochs_per_layer": 300})
