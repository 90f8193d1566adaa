"""Plug-ins: --plugin specs, the entry-point group, and `suite validate-plugin`.

The toy plug-in lives in its own package (tests/plugin_pkg, with a pyproject and
an entry point); the contract-breaking explainers in tests/plugins/bad_explainers.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from suite.cli import main
from suite.plugins.loading import PluginError, load_plugin, split_spec

HERE = Path(__file__).resolve().parents[1]  # tests/
TOY_PKG = HERE / "plugin_pkg"
TOY = str(TOY_PKG / "suite_toy_plugin" / "__init__.py")
BAD = str(HERE / "plugins" / "bad_explainers.py")


def test_split_spec():
    assert split_spec("pkg.mod:Cls") == ("pkg.mod", "Cls")
    assert split_spec("pkg.mod") == ("pkg.mod", None)
    assert split_spec("/a/b/file.py:Cls") == ("/a/b/file.py", "Cls")
    assert split_spec("/a/b/file.py") == ("/a/b/file.py", None)


def test_a_file_spec_registers_the_toy_explainer(plugin_registry):
    loaded = load_plugin(f"{TOY}:InverseDegreeExplainer")
    assert loaded.explainers == ("toy-inverse-degree",) and loaded.module == "suite_toy_plugin"
    assert "toy-inverse-degree" in plugin_registry
    assert plugin_registry.entry("toy-inverse-degree").metadata["info"].source == "plugin"
    again = load_plugin(TOY)  # idempotent: the module form finds the same explainer
    assert again.explainers == ("toy-inverse-degree",)


@pytest.mark.parametrize("spec, words", [
    ("no_such_module_xyz:Thing", ["cannot import", "no_such_module_xyz"]),
    (f"{BAD}:NoSuchClass", ["no attribute 'NoSuchClass'", "WrongShape"]),
    ("os.path:join", ["not an Explainer subclass"]),
    ("missing/file.py:Cls", ["no file missing/file.py"]),
])
def test_bad_specs_are_one_line_errors(spec, words, plugin_registry):
    with pytest.raises(PluginError) as info:
        load_plugin(spec)
    message = str(info.value)
    assert "\n" not in message and spec in message
    for word in words:
        assert word in message


def test_a_name_clash_with_a_builtin_is_refused(tmp_path, plugin_registry):
    source = ("from suite.explainers import Explainer, ExplainerInfo\n"
              "class Clash(Explainer):\n"
              "    info = ExplainerInfo(name='saliency', citation='x', description='x')\n"
              "    def explain(self, model, dataset, ids, seed):\n"
              "        raise NotImplementedError\n")
    (tmp_path / "clash_plugin.py").write_text(source)
    with pytest.raises(PluginError, match="already registered by suite.explainers.gradients"):
        load_plugin(f"{tmp_path / 'clash_plugin.py'}:Clash")


def test_the_entry_point_group_loads_an_installed_plugin(tmp_path):
    """A distribution with a `suite.explainers` entry point (as `pip install -e tests/plugin_pkg`
    writes it) is imported on the registry's first lookup."""
    dist = tmp_path / "suite_toy_plugin-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: suite-toy-plugin\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[suite.explainers]\ntoy-inverse-degree = suite_toy_plugin\n")
    probe = ("import sys; from suite.explainers import EXPLAINERS; "
             "a = 'suite_toy_plugin' in sys.modules; b = 'toy-inverse-degree' in EXPLAINERS; "
             "print(a, b, 'suite_toy_plugin' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TOY_PKG)])}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    # not imported before the lookup, registered by it (the package is on the path either way)
    assert out.stdout.split() == ["False", "True", "True"]


def test_validate_plugin_accepts_the_toy_plugin(capsys, plugin_registry):
    assert main(["validate-plugin", f"{TOY}:InverseDegreeExplainer"]) == 0
    out = capsys.readouterr().out
    assert "plugin accepted: toy-inverse-degree" in out
    for check in ("metadata", "shapes", "finite", "ranges", "determinism", "model unchanged",
                  "no leftover hooks", "raising model"):
        assert check in out
    assert "failed" not in out


def test_validate_plugin_refuses_contract_breakers_with_the_checks_message(capsys,
                                                                          plugin_registry):
    specs = [f"{BAD}:{name}" for name in ("WrongShape", "NaNScores", "LeavesHook",
                                          "Nondeterministic")]
    assert main(["validate-plugin", *specs]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "plugin refused by the explainer contract" in err
    assert "bad-shape: shapes: edge_ids (" in err
    assert "bad-nan: finite: " in err
    assert "bad-hook: no leftover hooks: a forward hook was left on" in err
    assert "bad-random: determinism: " in err
