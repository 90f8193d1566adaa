"""The documentation's explainer example passes the contract as written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXTENDING = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
MARKER = "<!-- toolkit-example -->\n```python\n"


def test_the_toolkit_example_passes_validate_plugin(tmp_path):
    text = EXTENDING.read_text()
    assert MARKER in text
    path = tmp_path / "half_mask.py"
    path.write_text(text.split(MARKER, 1)[1].split("```", 1)[0])
    done = subprocess.run([sys.executable, "-m", "suite", "validate-plugin",
                           f"{path}:HalfMaskGradient"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed the explainer contract" in done.stdout
