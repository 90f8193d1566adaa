"""Static security checks of the package: bandit finds nothing of medium or high severity,
and every finding silenced is silenced by its id with a reason on the line above."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "suite"


def test_bandit_reports_no_medium_or_high_finding():
    pytest.importorskip("bandit")
    done = subprocess.run([sys.executable, "-m", "bandit", "-q", "-r", str(PACKAGE), "-ll",
                           "-f", "json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    report = json.loads(done.stdout)
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
                for r in report["results"]]
    assert findings == [], "\n".join(findings)
    assert not report["errors"], report["errors"]


def test_every_nosec_names_its_test_and_gives_a_reason():
    silenced = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if "nosec" not in line:
                continue
            ids = re.findall(r"#\s*nosec\s+(B\d{3})", line)
            reason = lines[number - 1].strip() if number else ""
            if not ids or not reason.startswith("#"):
                silenced.append(f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}")
    assert silenced == [], "a nosec without its test id or a reason above:\n" + "\n".join(silenced)
