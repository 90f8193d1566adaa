import pytest

from suite.core.registry import Registry, UnknownNameError, normalise_name


def make() -> Registry:
    reg: Registry = Registry("explainer")

    @reg.register("GNN_Explainer", citation="Ying 2019")
    def gnnexplainer():
        return "g"

    reg.add("saliency", lambda: "s")
    return reg


def test_forgiving_lookup_normalises_case_and_separators():
    reg = make()
    assert reg.get("gnn-explainer")() == "g"
    assert reg.get("GNN explainer")() == "g"
    assert reg.resolve("Gnn_Explainer") == "gnn-explainer"
    assert reg.entry("gnn-explainer").metadata == {"citation": "Ying 2019"}
    assert normalise_name(" A_b c ") == "a-b-c"


def test_miss_lists_known_names_and_suggests_closest():
    reg = make()
    with pytest.raises(UnknownNameError) as err:
        reg.get("saliancy")
    message = str(err.value)
    assert "'saliancy'" in message
    assert "Did you mean 'saliency'?" in message
    assert "gnn-explainer, saliency" in message


def test_duplicates_are_refused():
    reg = make()
    with pytest.raises(ValueError, match="already registered"):
        reg.add("Saliency", lambda: None)


def test_remove_and_contains():
    reg = make()
    assert "SALIENCY" in reg and len(reg) == 2
    reg.remove("saliency")
    assert "saliency" not in reg and reg.names() == ["gnn-explainer"]


def test_entry_point_plugins_are_loaded_on_first_lookup(monkeypatch):
    loaded = []

    class FakeEntryPoint:
        def load(self):
            loaded.append(True)
            reg.add("plugin-method", lambda: "p")

    from suite.core import registry as registry_module

    monkeypatch.setattr(registry_module.importlib_metadata, "entry_points",
                        lambda group: [FakeEntryPoint()] if group == "test.group" else [])
    reg: Registry = Registry("explainer", entry_point_group="test.group")
    assert reg.get("plugin_method")() == "p"
    assert loaded == [True]
    reg.names()
    assert loaded == [True]  # loaded once
