"""Each study's README quotes the claims table of its committed reference run, and the
reference run carries the configuration record of the study version that produced it."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: study -> (its module with STUDY_VERSION, its reference report)
STUDIES = {
    "graphmask": ("suite_studies.graphmask.study", "results/reference/graphmask/graphmask.md"),
    "chemistry": ("suite_studies.chemistry.study", "results/reference/chemistry/chemistry.md"),
    "nlp": ("suite_studies.nlp.study", "results/reference/nlp/nlp.md"),
    "adversarial": ("suite_studies.adversarial.report",
                    "results/reference/adversarial/adversarial.md"),
}


def _claims_table(text: str) -> str:
    section = text.split("## Claims\n", 1)[1]
    start = section.index("| claim | test |")
    return section[start:].split("\n\n", 1)[0].rstrip()


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_the_readme_quotes_the_reference_claims_table(study):
    module, report = STUDIES[study]
    reference = (ROOT / report).read_text(encoding="utf-8")
    readme = (ROOT / f"studies/suite_studies/{study}/README.md").read_text(encoding="utf-8")
    assert _claims_table(reference) in readme
    record = json.loads((ROOT / report).with_name("study-version.json").read_text())
    version = importlib.import_module(module).STUDY_VERSION
    assert (record["study"], record["version"]) == (study, version)
    assert f"Study version {version}" in reference or f"study version {version}" in reference
    assert record["config_hash"] in reference
