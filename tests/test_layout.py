"""The package's shape: import-linter's layer contract holds and can fail; suite imports sit
at the top of their modules."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.source_tree import checkout_only

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "suite"


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([lint, "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=300)


def test_the_layer_contract_holds():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "suite", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    paths = tmp_path / "suite" / "core" / "paths.py"
    paths.write_text(paths.read_text() + "\nimport suite.board.table  # core must not see the board\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "suite.core is not allowed to import suite.board" in result.stdout


def _function_level_suite_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                names = [str(node.args[0].value)]  # importlib.import_module("suite....")
            if any(name == "suite" or name.startswith("suite.") for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_suite_imports_sit_at_the_top_of_their_modules():
    """Only two entry points import lazily, to start without torch: the package root
    (``suite.explain`` at ``import suite``) and the command line's (``suite list``)."""
    lazy = {PACKAGE / "__init__.py", PACKAGE / "cli" / "__init__.py"}
    modules = [p for p in PACKAGE.rglob("*.py") if p not in lazy]
    inside = [hit for path in modules for hit in _function_level_suite_imports(path)]
    assert not inside, inside


def test_the_package_never_imports_a_study():
    hits = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            hits += [f"{path.relative_to(ROOT)}:{node.lineno}" for name in names
                     if name.split(".")[0] == "suite_studies"]
    assert not hits, hits


def test_the_wheel_holds_no_study_code_or_grid(tmp_path):
    """``pip wheel --no-deps .``: the product only (studies are their own distribution)."""
    shutil.copytree(ROOT, tmp_path / "src", ignore=checkout_only)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                             "--no-build-isolation", "--quiet", "-w", str(tmp_path / "dist"),
                             str(tmp_path / "src")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("gnn_explain_suite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name == "suite/presets/default.yaml" for name in names)
    assert "suite/datasets/__init__.py" in names and "suite/cli/app.py" in names
    assert any(name == "suite/presets/tuning.yaml" for name in names)
    # what `suite check` and `suite list` read from an installed wheel
    assert "suite/presets/checks/smoke.json" in names and "suite/cli/listing_index.json" in names
    shipped_models = ROOT / "suite" / "presets" / "checks" / "smoke.models"
    assert {f"suite/presets/checks/smoke.models/{p.name}" for p in shipped_models.iterdir()} \
        <= set(names)  # the models the smoke check explains
    studies = [n for n in names if "suite_studies" in n or "/grids/" in n or n.startswith("studies/")]
    assert not studies, studies


AREAS = ("synthetic", "molecules", "nlp", "adversarial", "graphmask", "ray", "asv", "wheel", "faults")


def test_slow_checks_live_in_the_slow_folders_with_one_area_marker():
    """``-m slow`` is the slow tier and ``-m 'slow and AREA'`` one area of it: every module
    that marks tests slow sits in tests/slow/ (or is a study's test_quality_*.py) and names
    exactly one area."""
    modules = [*ROOT.joinpath("tests").rglob("test_*.py"), *ROOT.joinpath("studies").rglob("test_*.py")]
    for path in modules:
        text = path.read_text()
        if "pytest.mark.slow" not in text or path == Path(__file__).resolve():
            continue
        where = path.relative_to(ROOT)
        assert where.parts[:2] == ("tests", "slow") or (
            where.parts[0] == "studies" and path.name.startswith("test_quality")), where
        marked = [area for area in AREAS if f"pytest.mark.{area}" in text]
        assert len(marked) == 1, (where, marked)


def test_the_design_cards_top_level_is_there():
    for name in ("suite", "benchmarks", "datasets", "results/reference", "tests", "docs", "studies"):
        assert (ROOT / name).is_dir(), name
    for name in ("asv.conf.json", "pyproject.toml", "README.md", "Makefile", ".ci/run", "LICENSE",
                 "CITATION.cff", "CHANGELOG.md", "mkdocs.yml"):
        assert (ROOT / name).is_file(), name
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] and citation["title"] and citation["license"] == "MIT"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert citation["repository-code"] == project["urls"]["Homepage"]
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(project["urls"])
