"""`suite list` from the shipped metadata index: equal to the registries, and torch-free."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from suite.cli import quick_list
from suite.cli.listing import LISTINGS, built_in_index, listing_of
from suite.core.version import __version__


def test_the_shipped_index_equals_the_registries():
    shipped = json.loads(quick_list.INDEX_PATH.read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(built_in_index())), (
        "the metadata index is stale: run `suite list --write-index` and commit it")


@pytest.mark.parametrize("argv", [["list", "datasets"],
                                  ["list", "explainer", "--params", "--format", "json"]])
def test_a_fresh_process_lists_from_the_index_without_torch(argv, capsys):
    script = ("import sys; from suite.cli import main; code = main(sys.argv[1:]); "
              "print('torch imported:', 'torch' in sys.modules); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed, _, last = done.stdout.rstrip("\n").rpartition("\n")
    assert last == "torch imported: False"
    kind = "explainers" if argv[1] == "explainer" else argv[1]
    params = "--params" in argv
    output_format = "json" if "json" in argv else "table"
    assert listed == quick_list.render(kind, listing_of(kind), output_format, params)


def test_the_index_stands_in_only_when_it_can_be_exact(monkeypatch, tmp_path):
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"version": __version__, "kinds": {
        "explainers": {"headers": [], "items": [{"name": "only-in-the-index", "columns": []}]}}}))
    # the registry is imported in this process: its in-process items count, not the index
    assert quick_list.list_from_index(["list", "explainers"], index) is None
    monkeypatch.delitem(sys.modules, "suite.explainers.base")
    assert quick_list.list_from_index(["list", "explainers"], index) == 0
    # an installed plug-in in the kind's group, another version, other arguments: not exact
    for argv in (["list", "explainers", "--help"], ["list", "explainers", "--format", "xml"],
                 ["list", "datasets", "--params"], ["list", "nothing"], ["run"]):
        assert quick_list.list_from_index(argv, index) is None, argv
    index.write_text(json.dumps({"version": "0.0.0", "kinds": {"explainers": {}}}))
    assert quick_list.list_from_index(["list", "explainers"], index) is None
    index.write_text(json.dumps({"version": __version__, "kinds": {
        "explainers": {"headers": [], "items": []}}}))
    monkeypatch.setattr(quick_list.metadata, "entry_points", lambda group: ["a plug-in"])
    assert quick_list.list_from_index(["list", "explainers"], index) is None


def test_the_index_knows_each_listing_by_its_registry_module_and_plugin_group():
    """quick_list.KINDS repeats, without importing them, where each registry lives and which
    entry-point group adds to it: both must be what the listings and registries say."""
    assert set(quick_list.KINDS) == set(LISTINGS.names())
    for kind, (module, group) in quick_list.KINDS.items():
        listing = LISTINGS.get(kind)
        assert listing.registry.split(":")[0] == module, kind
        assert listing.load().entry_point_group == group, kind
