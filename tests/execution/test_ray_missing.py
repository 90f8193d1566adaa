"""Without Ray, `--executor ray` fails with one line saying how to install it."""

from __future__ import annotations

import sys

from suite.cli import main


def test_without_ray_the_error_says_how_to_install(monkeypatch, suite_home, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["run", "--matrix", "smoke", "--executor", "ray", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install ".[ray]"' in err
    assert not (suite_home / "results" / "store.sqlite").exists()  # refused before a run starts
