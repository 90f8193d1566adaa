"""The README stays a users' front page whose plug-in example passes the contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_readme_quickstart_runs():
    """The Python quickstart, run as written: it explains three house nodes of a model that
    learned BA-Shapes, and the explanation scores the house edges above the others."""
    text = README.read_text()
    marker = "<!-- quickstart -->\n```python\n"
    assert marker in text
    code = text.split(marker, 1)[1].split("```", 1)[0]
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    scope: dict = {}
    exec(compile(code, "README.md quickstart", "exec"), scope)
    explanation = scope["explanation"]
    assert explanation.instance_ids.tolist() == [300, 305, 310]
    assert 0.5 < scope["auc"] <= 1.0


def test_readme_command_line_quickstart_runs(tmp_path):
    """The command-line quickstart, each line as written, in a fresh root directory."""
    text = README.read_text()
    marker = "<!-- quickstart-cli -->\n```bash\n"
    assert marker in text
    block = text.split(marker, 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split() for line in block.splitlines() if line.strip()]
    assert [c[:2] for c in commands] == [["suite", "list"], ["suite", "run"], ["suite", "leaderboard"]]
    env = {**os.environ, "SUITE_HOME": str(tmp_path)}
    for command in commands:
        done = subprocess.run([sys.executable, "-m", "suite", *command[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    assert (tmp_path / "results" / "leaderboard" / "leaderboard.md").is_file()
