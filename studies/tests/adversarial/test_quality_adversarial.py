"""Slow tier: issue 4's robustness numbers, with the `adversarial` preset's own settings.

Each test trains the standard model and one adversarial mode per seed
(:func:`suite_studies.adversarial.robustness_check.measure`, no explainers) and asserts that the adversarial
models are more accurate on the test split under the attack they were trained against,
as a paired seed-matched difference whose 95% t interval excludes 0, at a bounded
clean-accuracy cost. Every number is printed for the closing note. The pairs are the
ones the replication found beyond noise (docs/studies/adversarial.md): adv-features on
BA-Shapes/GCN and adv-structure (robust selection) on Tree-Cycles/GIN; each is confirmed
here on seeds 15 and up, which neither the study (seeds 0-9) nor the replication (5-14)
used, so the test can fail where the effect does not hold. Run with ``make test-slow``.
"""

from __future__ import annotations

import pytest
from suite_studies.adversarial.robustness_check import (
    BASELINE,
    measure,
    paired_to_baseline,
    rows_by_cell,
)

from suite.matrix import load_matrix

pytestmark = [pytest.mark.slow, pytest.mark.adversarial]


def _paired(tmp_path, dataset: str, model: str, mode: str, seeds: list[int]):
    """(robust, clean) paired differences ``mode - standard`` on the test split, with the
    pairing ``python -m suite_studies.adversarial.robustness_check table`` uses."""
    config = load_matrix("adversarial")
    by = rows_by_cell(measure(config, [(dataset, model)], seeds, cache_dir=tmp_path, train=[mode]))
    assert {(t, s) for (_, _, t), rows in by.items() for s in rows} \
        == {(t, s) for t in (BASELINE, mode) for s in seeds}, sorted(by)
    robust = paired_to_baseline(by, dataset, model, mode, f"{mode}_test")
    clean = paired_to_baseline(by, dataset, model, mode, "clean_test")
    for s in seeds:
        print(f"\n{dataset}/{model} seed {s}: " + "; ".join(
            f"{t} clean {by[dataset, model, t][s]['clean_test']:.3f} "
            f"under {mode} {by[dataset, model, t][s][f'{mode}_test']:.3f}"
            for t in (BASELINE, mode)))
    print(f"\n{dataset}/{model} {mode} - standard (n={robust.n}): under own attack "
          f"{robust.mean:+.3f} [{robust.lo:+.3f}, {robust.hi:+.3f}], "
          f"clean {clean.mean:+.3f} [{clean.lo:+.3f}, {clean.hi:+.3f}]")
    return robust, clean


def test_adv_features_is_more_robust_on_ba_shapes_gcn(tmp_path):
    robust, clean = _paired(tmp_path, "ba-shapes", "gcn", "adv-features", [15, 16, 17])
    assert robust.lo > 0 and robust.mean >= 0.30
    assert clean.mean >= -0.10


def test_adv_structure_is_more_robust_on_tree_cycles_gin(tmp_path):
    robust, clean = _paired(tmp_path, "tree-cycles", "gin", "adv-structure", list(range(15, 25)))
    assert robust.lo > 0
    assert clean.mean >= -0.05
