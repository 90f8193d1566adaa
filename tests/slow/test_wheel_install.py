"""The wheel, installed without extras in a fresh virtualenv, runs the smoke matrix and the
quality gate; with ``[all]`` it lists every family. Prints the install sizes.

torch is installed first, pinned (``torch==2.13.0``, the CPU wheel): an unpinned torch
resolves to a multi-GB CUDA build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.source_tree import checkout_only

pytestmark = [pytest.mark.slow, pytest.mark.wheel]

ROOT = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: int = 1800) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def _megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def test_the_wheel_runs_the_smoke_matrix_and_the_gate_without_extras(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path / "home"), "SUITE_DATA_MIRROR": ""}
    env.pop("SUITE_HOME", None)
    (tmp_path / "home").mkdir()
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=checkout_only)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
          str(tmp_path / "dist"), str(source)], tmp_path, env)
    (wheel,) = (tmp_path / "dist").glob("gnn_explain_suite-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run([*pip, TORCH], tmp_path, env)
    site = next((venv / "lib").glob("python*/site-packages"))
    torch_only = _megabytes(site)
    _run([*pip, str(wheel)], tmp_path, env)
    lean = _megabytes(site)
    suite = str(venv / "bin" / "suite")
    work = tmp_path / "work"  # a folder without the checkout: nothing read from a clone
    work.mkdir()
    out = _run([suite, "run", "--matrix", "smoke", "--root", str(tmp_path / "run"),
                "--no-progress"], work, env)
    assert "3 done, 0 failed" in out, out
    out = _run([suite, "check", "--root", str(tmp_path / "check"), "--no-progress"], work, env)
    assert "quality check passed" in out, out
    # a family whose extra is missing is listed, and skipped with the extra to install
    listed = _run([suite, "list", "datasets"], work, env)
    assert "benzene" in listed
    out = _run([suite, "run", "--datasets", "benzene", "--models", "gin", "--explainers",
                "random", "--seeds", "0", "--root", str(tmp_path / "lean"), "--no-progress",
                "--no-leaderboard"], work, env)
    assert "0 failed, 1 skipped" in out and 'pip install "gnn-explain-suite[molecules]"' in out, out
    _run([*pip, f"{wheel}[all]"], tmp_path, env)
    full = _megabytes(site)
    print(f"\ninstall sizes (site-packages): torch {torch_only:.0f} MB; + the wheel without "
          f"extras {lean - torch_only:.0f} MB (total {lean:.0f} MB); + [all] "
          f"{full - lean:.0f} MB more (total {full:.0f} MB)")
    assert full > lean
