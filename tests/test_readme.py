"""The README stays a users' front page whose plug-in example passes the contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "<!-- plugin-example -->\n```python\n"


def test_readme_is_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_readme_links_point_at_files_that_exist():
    import re

    text = README.read_text()
    for target in re.findall(r"\]\(((?:docs|results)/[^)#]+)\)", text):
        assert (README.parent / target).is_file(), target


def test_readme_plugin_example_passes_validate_plugin(tmp_path):
    text = README.read_text()
    assert MARKER in text
    example = text.split(MARKER, 1)[1].split("```", 1)[0]
    path = tmp_path / "my_method.py"
    path.write_text(example)
    done = subprocess.run([sys.executable, "-m", "suite", "validate-plugin",
                           f"{path}:InverseInDegree"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed the explainer contract" in done.stdout
