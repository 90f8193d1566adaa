"""The environment a run executes in, recorded with its results.

Every row of the results store traces back to a run whose environment record
says which code (suite version, git commit, dirty flag), which packages, which
interpreter and which hardware produced it. Collecting the record never fails:
whatever cannot be determined is reported as ``"unknown"``.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import torch

from suite.core.version import __version__

#: Reported name -> distribution name of the packages whose versions are recorded.
PACKAGES: dict[str, str] = {
    "torch": "torch",
    "torch_geometric": "torch_geometric",
    "numpy": "numpy",
    "pandas": "pandas",
    "sklearn": "scikit-learn",
    "rdkit": "rdkit",
    "ogb": "ogb",
    "captum": "captum",
}

UNKNOWN = "unknown"

#: Seconds a ``git`` call may take before the commit is reported unknown.
_GIT_TIMEOUT_S = 5.0


def package_versions() -> dict[str, str]:
    """Installed version of each package in :data:`PACKAGES` (``"not installed"`` if absent)."""
    out = {}
    for name, dist in PACKAGES.items():
        try:
            out[name] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    """Stdout of ``git args`` in ``cwd`` (stripped), or None on any failure."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


#: Folders (from the repository's top) whose changes do not make the code dirty: a run's
#: results and the dataset cache.
OUTPUT_FOLDERS: tuple[str, ...] = ("results", "datasets")


def git_state(package_dir: Path | None = None) -> dict[str, Any]:
    """``{"git_commit": sha or "unknown", "git_dirty": bool or None}`` of the suite's code.

    The commit is the ``HEAD`` of the git work tree that holds ``package_dir``
    (default: the ``suite`` package). An installed copy that sits in some other
    repository's ignored folder (a virtualenv inside a project) is not that
    repository's code, so it reports ``"unknown"``. ``git_dirty`` is True when
    tracked files differ from ``HEAD`` or untracked, non-ignored files exist, outside the
    repository's :data:`OUTPUT_FOLDERS` (a run writes its own store and boards there).
    """
    package_dir = Path(package_dir or Path(__file__).parents[1]).resolve()
    unknown = {"git_commit": UNKNOWN, "git_dirty": None}
    if not package_dir.is_dir():
        return unknown
    commit = _git(["rev-parse", "HEAD"], package_dir)
    if not commit:
        return unknown
    # exit status 0 = the path is ignored by that repository: not its code
    try:
        ignored = subprocess.run(["git", "check-ignore", "-q", str(package_dir)], cwd=package_dir,
                                 capture_output=True, timeout=_GIT_TIMEOUT_S,
                                 check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return unknown
    if ignored:
        return unknown
    status = _git(["status", "--porcelain", "--", ":(top)",
                   *(f":(top,exclude){folder}" for folder in OUTPUT_FOLDERS)], package_dir)
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux, else ``platform``)."""
    cpuinfo = Path("/proc/cpuinfo")
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or UNKNOWN


def device_name(device: str | torch.device) -> str:
    """A human-readable name of ``device``: the GPU's name for CUDA, the CPU model for CPU."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        return UNKNOWN
    if dev.type == "cuda":
        try:
            return torch.cuda.get_device_name(dev)
        except Exception:  # no driver, bad index: the record must not fail
            return UNKNOWN
    if dev.type == "cpu":
        return cpu_model()
    return dev.type


def environment_record(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Everything that identifies the code, packages and hardware of a run (JSON-ready).

    Keys: ``suite_version``, ``git_commit``, ``git_dirty``, ``packages`` (name ->
    version), ``python``, ``platform``, ``hostname``, ``cpu_model``, ``cpu_capability``
    (the SIMD level torch's CPU kernels dispatch to, e.g. ``AVX2`` or ``AVX512``: float
    results, and so trained models and scores, can differ between levels), ``cpu_count``
    (logical cores), ``torch_threads`` (intra-op threads), ``device`` (as given) and
    ``device_name``.
    """
    try:
        hostname = socket.gethostname()
    except OSError:
        hostname = UNKNOWN
    return {
        "suite_version": __version__,
        **git_state(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": hostname,
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_count": os.cpu_count() or 0,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": device_name(device),
    }
