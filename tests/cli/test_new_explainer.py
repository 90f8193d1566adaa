"""`suite new-explainer NAME`: the scaffold passes `suite validate-plugin` unchanged, and its
own contract test passes; bad names and existing folders are refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from suite.cli import main


def test_the_scaffold_passes_validate_plugin_and_its_own_test(tmp_path, capsys, plugin_registry):
    assert main(["new-explainer", "my-explainer", "--out", str(tmp_path)]) == 0
    root = tmp_path / "suite-my-explainer"
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "README.md", "pyproject.toml", "suite_my_explainer/__init__.py",
        "tests/test_contract.py"]
    assert 'my-explainer = "suite_my_explainer"' in (root / "pyproject.toml").read_text()
    spec = f"{root}/suite_my_explainer/__init__.py:MyExplainer"
    assert spec in capsys.readouterr().out  # the next command is printed
    assert main(["validate-plugin", spec, "--levels", "node"]) == 0
    assert "plugin accepted: my-explainer" in capsys.readouterr().out
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "tests"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.parametrize("argv, message", [
    (["saliency"], "'saliency' is already a registered explainer"),
    (["My Explainer"], "NAME: expected lowercase words joined by hyphens"),
])
def test_bad_names_are_refused_in_one_line(tmp_path, capsys, argv, message):
    assert main(["new-explainer", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_never_overwritten(tmp_path, capsys):
    (tmp_path / "suite-my-explainer").mkdir()
    assert main(["new-explainer", "my-explainer", "--out", str(tmp_path)]) == 2
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert not any((tmp_path / "suite-my-explainer").iterdir())
