"""``--root DIR`` holds every file a command writes: run from a fresh working directory with
a fresh ``HOME``, the working directory and ``HOME`` stay empty."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from suite.cli.common import rooted
from suite.core.paths import Paths
from suite.datasets.fetch import download_dir

TINY = {
    "name": "tiny-root", "seeds": [0], "max_instances": 4,
    "datasets": {"ba-shapes": {"num_base": 40, "base_m": 2, "num_motifs": 8}},
    "models": {"gcn": {"hidden": 8, "num_layers": 2, "jk": "last"}},
    "trainings": {"standard": {"epochs": 5, "patience": 0}},
    "explainers": {"random": {}, "saliency": {}},
}


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_run_and_leaderboard_write_nothing_outside_the_root(tmp_path):
    root, work, home, tmp = (tmp_path / name for name in ("root", "work", "home", "tmp"))
    for folder in (work, home, tmp):
        folder.mkdir()
    matrix = tmp / "tiny.yaml"
    matrix.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("SUITE_HOME", "MPLCONFIGDIR", "SUITE_DATA_MIRROR", "XDG_CACHE_HOME",
                        "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), TMPDIR=str(tmp))
    for command in (["run", "--matrix", str(matrix), "--no-progress", "--executor", "local"],
                    ["leaderboard"]):
        done = subprocess.run([sys.executable, "-m", "suite", *command, "--root", str(root)],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    assert _files(work) == [] and _files(home) == []
    assert (root / "results" / "store.sqlite").is_file()
    assert (root / "results" / "leaderboard" / "leaderboard.md").is_file()


def test_rooted_points_every_cache_at_the_root_and_restores_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("SUITE_HOME", raising=False)
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    with rooted(tmp_path):
        assert Paths.from_env().root == tmp_path.resolve()
        assert download_dir().is_relative_to(tmp_path.resolve())  # downloads, TU, OGB, EWT caches
        assert Path(os.environ["MPLCONFIGDIR"]).is_relative_to(tmp_path.resolve())
    assert "SUITE_HOME" not in os.environ and "MPLCONFIGDIR" not in os.environ
    monkeypatch.setenv("MPLCONFIGDIR", "/somewhere/else")
    with rooted(tmp_path):
        assert os.environ["MPLCONFIGDIR"] == "/somewhere/else"  # the user's choice is kept
