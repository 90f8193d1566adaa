"""The README's asv commands, run as written: a history over the last two commits.

asv builds its virtualenv from the package registry (torch pinned to the CPU wheel) on
the first run, then installs each commit's wheel and runs the quick subset.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.asv]

ROOT = Path(__file__).resolve().parents[2]


def readme_asv_commands() -> list[str]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip().startswith(".venv/bin/asv ")]


def test_the_readme_asv_commands_track_two_commits():
    commands = readme_asv_commands()
    assert [c.split()[1] for c in commands] == ["machine", "run", "publish"], commands
    run = next(c for c in commands if c.split()[1] == "run")
    commit_range = run.split()[-1]
    commits = subprocess.run(["git", "rev-list", commit_range], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
    assert len(commits) == 2, commit_range
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=ROOT, capture_output=True, text=True,
                              timeout=1800)
        print(f"$ {command}\n{done.stdout[-4000:]}")
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    for commit in commits:
        files = [path for path in (ROOT / ".asv" / "results").glob(f"*/{commit[:8]}-*.json")]
        assert files, f"no asv result for {commit[:8]}"
        results = json.loads(files[0].read_text())["results"]
        for name in ("bench_quick.QuickList.time_suite_list",
                     "bench_quick.QuickExplain.time_explain"):
            timings = results[name][0]
            assert timings and all(isinstance(t, float) and t > 0 for t in timings), (name, timings)
    assert (ROOT / ".asv" / "html" / "index.html").is_file()
