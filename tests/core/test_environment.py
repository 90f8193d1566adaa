"""The recorded environment: complete, JSON-ready, cross-checked, and never failing."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import suite
from suite.core.environment import PACKAGES, device_name, environment_record, git_state

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                          cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_record_is_complete_and_json_ready():
    record = environment_record("cpu")
    assert json.loads(json.dumps(record)) == record
    assert record["suite_version"] == suite.__version__
    assert set(record["packages"]) == set(PACKAGES)
    assert record["packages"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    import torch_geometric

    assert record["packages"]["torch_geometric"] == torch_geometric.__version__
    assert record["python"] == platform.python_version()
    assert record["cpu_count"] == os.cpu_count()
    assert record["torch_threads"] == torch.get_num_threads()
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["device"] == "cpu"
    assert record["device_name"] == record["cpu_model"] and record["device_name"]
    for key in ("platform", "hostname", "git_commit"):
        assert isinstance(record[key], str) and record[key]


@needs_git
def test_git_commit_matches_git_for_this_checkout():
    package_dir = Path(suite.__file__).parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package_dir, capture_output=True,
                          text=True)
    if head.returncode != 0:
        pytest.skip("the suite is not running from a git checkout")
    state = git_state()
    assert state["git_commit"] == head.stdout.strip()
    assert isinstance(state["git_dirty"], bool)


@needs_git
def test_git_state_tracks_commit_dirty_flag_and_ignored_copies(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("venv/\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "init")
    sha = _git(tmp_path, "rev-parse", "HEAD")
    assert git_state(tmp_path / "pkg") == {"git_commit": sha, "git_dirty": False}
    # a run's own outputs (the store, boards, the dataset cache) are not code changes
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "store.sqlite").write_text("cells")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "cache.pt").write_text("data")
    assert git_state(tmp_path / "pkg") == {"git_commit": sha, "git_dirty": False}
    (tmp_path / "pkg" / "mod.py").write_text("x = 2\n")
    assert git_state(tmp_path / "pkg") == {"git_commit": sha, "git_dirty": True}
    # an installed copy inside an ignored folder is not this repository's code
    (tmp_path / "venv" / "pkg").mkdir(parents=True)
    assert git_state(tmp_path / "venv" / "pkg")["git_commit"] == "unknown"


def test_git_state_unknown_outside_a_repository_or_without_git(tmp_path, monkeypatch):
    assert git_state(tmp_path) == {"git_commit": "unknown", "git_dirty": None}
    assert git_state(tmp_path / "missing")["git_commit"] == "unknown"
    monkeypatch.setenv("PATH", str(tmp_path))  # no git binary on the path
    assert git_state()["git_commit"] == "unknown"
    assert environment_record("cpu")["git_commit"] == "unknown"


def test_device_name_never_fails():
    assert device_name("not-a-device") == "unknown"
    if not torch.cuda.is_available():
        assert device_name("cuda") == "unknown"
    else:
        assert device_name("cuda") == torch.cuda.get_device_name(0)
