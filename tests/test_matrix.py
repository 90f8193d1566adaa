"""The matrix: YAML parsing, validation errors, expansion into cells, cell identity."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from suite.core.config import ConfigError
from suite.core.registry import UnknownNameError
from suite.core.types import TaskLevel
from suite.explainers.base import EXPLAINERS, Explainer, ExplainerInfo
from suite.matrix import (
    Cell,
    MatrixConfig,
    expand,
    load_matrix,
    matrix_document,
    parse_matrix,
    preset_names,
    resolved_parameters,
    restrict_document,
)
from suite.models.base import MODELS, ModelInfo

NODE, GRAPH = frozenset({TaskLevel.NODE}), frozenset({TaskLevel.GRAPH})


@dataclass
class StepsConfig:
    steps: int = 5
    lr: float = 0.1


def _explainer_class(name: str, levels: frozenset, source: str = "suite") -> type[Explainer]:
    class Fake(Explainer):
        Config = StepsConfig
        info = ExplainerInfo(name=name, citation="test", task_levels=levels, source=source)

        def explain(self, model, dataset, ids, seed):  # pragma: no cover - never run here
            raise NotImplementedError

    return Fake


@pytest.fixture(scope="module", autouse=True)
def fakes():
    """Test-only explainers and a node-only model, removed after this module."""
    explainers = {"test-any": frozenset({TaskLevel.NODE, TaskLevel.GRAPH}),
                  "test-node-only": NODE, "test-graph-only": GRAPH}
    for name, levels in explainers.items():
        cls = _explainer_class(name, levels)
        EXPLAINERS.add(name, cls, info=cls.info)
    gcn = MODELS.get("gcn")
    MODELS.add("test-node-model", lambda dataset, hidden=8: gcn(dataset, hidden=hidden),
               info=ModelInfo(name="test-node-model", citation="test", task_levels=NODE))
    yield
    for name in explainers:
        EXPLAINERS.remove(name)
    MODELS.remove("test-node-model")


def _raw(**changes):
    raw = {"name": "t", "seeds": [0, 1], "datasets": {"ba-shapes": {"num_motifs": 10}},
           "models": {"gcn": {"hidden": 8}}, "trainings": {"standard": {"epochs": 5}},
           "explainers": {"test-any": {"steps": 3}}}
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


# --------------------------------------------------------------------------- presets


def test_presets_are_listed_and_smoke_loads():
    assert {"smoke", "default"} <= set(preset_names())
    config = load_matrix("smoke")
    assert config.name == "smoke" and config.source == "preset:smoke"
    cells, skipped = expand(config)
    assert not skipped
    assert {c.dataset for c in cells} == {"ba-shapes"} and {c.model for c in cells} == {"gcn"}
    assert 2 <= len({c.explainer for c in cells}) <= 3 and len(config.seeds) == 1
    assert all(c.max_instances <= 20 for c in cells)


def test_default_preset_covers_the_synthetic_datasets_and_every_builtin_explainer():
    config = load_matrix("default")
    assert set(config.datasets) == {"ba-shapes", "ba-community", "tree-cycles", "tree-grid",
                                    "ba-2motifs", "dep-role", "benzene"}
    assert config.datasets["benzene"] == {"max_molecules": 1200}  # the molecule slice
    assert set(config.models) == {"gcn-sum", "gin", "gin-l2", "syntactic-gcn"}
    assert config.seeds == (0, 1, 2)
    builtin = {e.name for e in EXPLAINERS.entries()  # registered by the suite, not by plugins
               if e.factory.__module__.startswith("suite.explainers.")}
    assert set(config.explainers) == builtin
    cells, skipped = expand(config)
    assert len(cells) + len(skipped) == 7 * 4 * 1 * len(builtin) * 3
    # the GIN family: gin-l2 on BA-Community (model selection round 6), gin elsewhere
    gins = {(c.dataset, c.model) for c in cells if c.model.startswith("gin")}
    assert {m for d, m in gins if d == "ba-community"} == {"gin-l2"}
    assert {m for d, m in gins if d != "ba-community"} == {"gin"}
    # the NLP slice: syntactic-gcn only on dep-role, and only there
    assert {(c.dataset, c.model) for c in cells if "dep-role" in (c.dataset,) or c.model == "syntactic-gcn"} \
        == {("dep-role", "syntactic-gcn")}
    assert len({c.key for c in cells}) == len(cells)
    capped = {"pyg-graphmask": 3, "graphmask-instance": 10, "pyg-gnnexplainer": 10,
              "pyg-integrated-gradients": 10}
    for cell in cells:
        expected = capped.get(cell.explainer, 30)
        assert cell.max_instances == expected, cell.explainer


def test_paper_preset_holds_the_whole_molecule_family():
    from suite.datasets import DATASETS

    config = load_matrix("paper")
    family = {e.name for e in DATASETS.entries() if e.metadata["info"].family == "molecules"}
    assert family <= set(config.datasets)
    assert {"gine", "gcn-ogb"} <= set(config.models)
    assert {"standard", "adv-features", "adv-structure"} <= set(config.trainings)
    cells, _ = expand(config)
    assert {c.dataset for c in cells} >= family


# --------------------------------------------------------------------------- parsing


def test_lists_and_mappings_are_equivalent_and_names_are_normalised():
    listed = parse_matrix(_raw(datasets=["BA_Shapes"], models=["GCN"], explainers="test_any"))
    mapped = parse_matrix(_raw(datasets={"ba-shapes": None}, models={"gcn": {}},
                               explainers={"test-any": {}}))
    assert listed == mapped
    assert list(listed.datasets) == ["ba-shapes"] and list(listed.explainers) == ["test-any"]


def test_defaults_and_round_trip_through_to_dict():
    config = parse_matrix({"datasets": ["ba-shapes"], "models": ["gcn"], "explainers": ["test-any"]},
                          default_name="mine")
    assert config.name == "mine" and config.seeds == (0,) and config.device == "cpu"
    assert list(config.trainings) == ["standard"]
    again = parse_matrix(json.loads(json.dumps(config.to_dict())))
    assert again == config


@pytest.mark.parametrize("changes, path, shown", [
    ({"seeds": [0, "x"]}, "seeds[1]: expected an integer", "'x'"),
    ({"seeds": [-1]}, "seeds[0]", "-1"),
    ({"seeds": [1, 1]}, "seeds", "[1, 1]"),
    ({"seeds": "all"}, "seeds", "'all'"),
    ({"max_instances": 0}, "max_instances", "0"),
    ({"max_instances": 2.5}, "max_instances: expected an integer", "2.5"),
    ({"accuracy_floor": 1.5}, "accuracy_floor", "1.5"),
    ({"device": "gpu"}, "device", "'gpu'"),
    ({"name": ""}, "name", "''"),
    ({"metrics": [1]}, "metrics", "[1]"),
    ({"seed": [0]}, "seed: unknown field. Did you mean 'seeds'?", "seeds"),
    ({"datasets": 3}, "datasets", "3"),
    ({"datasets": [3]}, "datasets[0]: expected a dataset name", "3"),
    ({"datasets": {}}, "datasets: list at least one dataset", "{}"),
    ({"datasets": {"ba-shapes": 5}}, "datasets.ba-shapes: expected a mapping", "5"),
    ({"datasets": {"ba-shapes": {"seed": 3}}}, "datasets.ba-shapes.seed", "3"),
    ({"datasets": {"ba-shapes": {"num_motifs": "x"}}}, "datasets.ba-shapes.num_motifs", "'x'"),
    ({"datasets": {"ba-shapes": {"motifs": 3}}}, "datasets.ba-shapes.motifs: unknown field",
     "num_motifs"),
    ({"models": None}, "models: required", "gcn"),
    ({"models": {"gcn": {}, "GCN": {}}}, "models.GCN", "listed twice"),
    ({"models": {"gcn": {"hiden": 8}}}, "models.gcn.hiden: unknown field", "hidden"),
    ({"models": {"gcn": {"hidden": "big"}}}, "models.gcn.hidden: expected an integer", "'big'"),
    ({"trainings": {"standard": {"epochs": "x"}}}, "trainings.standard.epochs", "'x'"),
    ({"trainings": {"standard": {"lr": -1}}}, "trainings.standard", "-1"),
    ({"explainers": {"test-any": {"steps": "many"}}}, "explainers.test-any.steps", "'many'"),
    ({"explainers": {"test-any": {"max_instances": -3}}},
     "explainers.test-any.max_instances: must be >= 1", "-3"),
    ({"explainers": {"test-any": {"stpes": 3}}}, "explainers.test-any.stpes: unknown field",
     "steps"),
])
def test_errors_name_the_field_and_show_the_value(changes, path, shown):
    with pytest.raises(ConfigError) as info:
        parse_matrix(_raw(**changes))
    message = str(info.value)
    assert path in message and shown in message, message


def test_top_level_must_be_a_mapping():
    with pytest.raises(ConfigError, match=r"expected a mapping .* \(got \['a'\]\)"):
        parse_matrix(["a"])


@pytest.mark.parametrize("section, given, closest", [
    ("datasets", "ba-shape", "ba-shapes"),
    ("models", "gcm", "gcn"),
    ("trainings", "standrad", "standard"),
    ("explainers", "test-anx", "test-any"),
])
def test_unknown_names_raise_the_registry_error_with_the_closest_name(section, given, closest):
    with pytest.raises(UnknownNameError) as info:
        parse_matrix(_raw(**{section: [given]}))
    message = str(info.value)
    assert message.startswith(f"{section}[0]: ")
    assert f"Did you mean {closest!r}" in message and given in message
    assert "Known" in message


def test_yaml_files_and_their_errors(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("seeds: [3]\ndatasets: [ba-shapes]\nmodels: {gcn: {hidden: 8}}\n"
                    "explainers: {test-any: {max_instances: 7}}\n")
    config = load_matrix(good)
    assert config.name == "mine" and config.seeds == (3,) and config.source == str(good)
    assert load_matrix(str(good)) == config
    bad = tmp_path / "bad.yaml"
    bad.write_text("seeds: [0, 1\ndatasets: [ba-shapes]\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: malformed YAML at line 2, column 9: expected ',' or ']'"):
        load_matrix(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n")
    with pytest.raises(ConfigError, match="got 'just text'"):
        load_matrix(scalar)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        load_matrix(tmp_path / "missing.yaml")


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'smoke'.*path of a YAML file"):
        load_matrix("smok")


# --------------------------------------------------------------------------- expansion


def test_expand_resolves_defaults_applies_caps_and_orders_cells():
    config = parse_matrix(_raw(explainers={"test-any": {"max_instances": 7}},
                               max_instances=50, metrics={"topk_share": 0.2}))
    cells, skipped = expand(config)
    assert not skipped and [c.seed for c in cells] == [0, 1]
    cell = cells[0]
    assert cell.explainer_hparams == {"steps": 5, "lr": 0.1}  # defaults filled, cap split off
    assert cell.max_instances == 7 and cell.metric_options == {"topk_share": 0.2}
    assert cell.dataset_params["num_motifs"] == 10 and "num_base" in cell.dataset_params
    assert cell.model_hparams["hidden"] == 8 and "num_layers" in cell.model_hparams
    assert cell.training_config["epochs"] == 5 and "lr" in cell.training_config
    caps = resolved_parameters(parse_matrix(_raw(max_instances=5,
                                                 explainers={"test-any": {"max_instances": 9}})))
    assert caps.explainer_caps == {"test-any": 9}
    assert expand(parse_matrix(_raw(max_instances=5, explainers={
        "test-any": {"max_instances": 9}})))[0][0].max_instances == 5


def test_incompatible_combinations_are_skipped_with_the_reason():
    config = parse_matrix(_raw(datasets=["ba-shapes", "ba-2motifs"], seeds=[0],
                               models=["gcn", "test-node-model"],
                               explainers=["test-any", "test-node-only", "test-graph-only"]))
    cells, skipped = expand(config)
    assert len(cells) + len(skipped) == 2 * 2 * 3
    reasons = {(c.dataset, c.model, c.explainer): r for c, r in skipped}
    assert set(reasons) == {
        ("ba-shapes", "gcn", "test-graph-only"), ("ba-shapes", "test-node-model", "test-graph-only"),
        ("ba-2motifs", "gcn", "test-node-only"),
        ("ba-2motifs", "test-node-model", "test-any"),
        ("ba-2motifs", "test-node-model", "test-node-only"),
        ("ba-2motifs", "test-node-model", "test-graph-only"),
    }
    assert "test-node-model" in reasons[("ba-2motifs", "test-node-model", "test-any")]
    assert "graph-level" in reasons[("ba-2motifs", "test-node-model", "test-any")]
    assert "test-graph-only" in reasons[("ba-shapes", "gcn", "test-graph-only")]
    assert "node-level" in reasons[("ba-shapes", "gcn", "test-graph-only")]


# --------------------------------------------------------------------------- cells


@pytest.fixture()
def cell() -> Cell:
    return expand(parse_matrix(_raw(seeds=[0])))[0][0]


def test_cell_json_and_pickle_round_trip(cell):
    text = json.dumps(cell.to_dict())
    again = Cell.from_dict(json.loads(text))
    assert again == cell and again.key == cell.key and hash(again) == hash(cell)
    assert pickle.loads(pickle.dumps(cell)) == cell
    assert {cell, again} == {cell}


def test_cell_from_dict_errors_name_the_field(cell):
    values = cell.to_dict()
    del values["seed"]
    with pytest.raises(ConfigError, match="cell.seed: required"):
        Cell.from_dict(values)
    with pytest.raises(ConfigError, match=r"cell.seed: expected an integer \(got 'x'\)"):
        Cell.from_dict({**cell.to_dict(), "seed": "x"})
    with pytest.raises(ConfigError, match="cell.colour: unknown field"):
        Cell.from_dict({**cell.to_dict(), "colour": 1})


def test_cell_key_is_stable_across_processes(cell):
    code = ("import json, sys; from suite.matrix import Cell; "
            "print(Cell.from_dict(json.loads(sys.stdin.read())).key)")
    env = {**os.environ, "PYTHONHASHSEED": "123",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(cell.to_dict()),
                         capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == cell.key


def test_cell_key_ignores_dict_order_and_changes_with_every_field(cell):
    reordered = dataclasses.replace(
        cell, dataset_params=dict(reversed(list(cell.dataset_params.items()))))
    assert reordered.key == cell.key
    changes = {
        "dataset": "ba-community", "dataset_params": {**cell.dataset_params, "num_motifs": 11},
        "model": "gin", "model_hparams": {**cell.model_hparams, "hidden": 9},
        "training": "other", "training_config": {**cell.training_config, "epochs": 6},
        "explainer": "test-node-only", "explainer_hparams": {**cell.explainer_hparams, "steps": 6},
        "seed": 5, "max_instances": 3, "device": "cuda", "accuracy_floor": 0.5,
        "metric_options": {"topk": 3}, "floor_metric": "balanced_accuracy",
        "instance_set": "all", "group_instances": 7,
    }
    assert set(changes) == {f.name for f in dataclasses.fields(Cell)}
    keys = {cell.key}
    for name, value in changes.items():
        keys.add(dataclasses.replace(cell, **{name: value}).key)
    assert len(keys) == len(changes) + 1


def test_model_key_groups_cells_that_share_a_trained_model():
    config = parse_matrix(_raw(seeds=[0, 1], explainers=["test-any", "test-node-only"]))
    cells, _ = expand(config)
    by_model: dict[str, set[str]] = {}
    for c in cells:
        by_model.setdefault(c.model_key, set()).add(c.explainer)
    assert len(by_model) == 2 and all(v == {"test-any", "test-node-only"} for v in by_model.values())
    assert len({c.dataset_key for c in cells}) == 2


def test_with_device_changes_every_key():
    config = parse_matrix(_raw())
    moved = config.with_device("cuda:1")
    assert isinstance(moved, MatrixConfig) and moved.device == "cuda:1"
    before, after = expand(config)[0], expand(moved)[0]
    assert all(c.device == "cuda:1" for c in after)
    assert not {c.key for c in before} & {c.key for c in after}
    with pytest.raises(ConfigError, match="device"):
        config.with_device("gpu")


def test_by_task_overrides_apply_per_task_level_and_are_validated():
    config = parse_matrix(_raw(datasets=["ba-shapes", "ba-2motifs"], seeds=[0], models=["gcn"],
                               trainings={"standard": {"lr": 0.05, "by_task": {
                                   "node": {"epochs": 11}, "graph": {"epochs": 22}}}}))
    cells, _ = expand(config)
    by_dataset = {c.dataset: c.training_config for c in cells}
    assert by_dataset["ba-shapes"]["epochs"] == 11 and by_dataset["ba-2motifs"]["epochs"] == 22
    assert by_dataset["ba-shapes"]["lr"] == by_dataset["ba-2motifs"]["lr"] == 0.05
    with pytest.raises(ConfigError, match=r"trainings\.standard\.by_task: expected task levels "
                                          r"among node, graph \(got 'edge'\)"):
        parse_matrix(_raw(trainings={"standard": {"by_task": {"edge": {}}}}))
    with pytest.raises(ConfigError, match=r"trainings\.standard\.by_task\.graph"):
        parse_matrix(_raw(trainings={"standard": {"by_task": {"graph": {"epochs": "x"}}}}))


def test_by_dataset_overrides_a_model_and_a_training_on_named_datasets_only():
    config = parse_matrix(_raw(
        datasets=["ba-shapes", "tree-cycles", "ba-2motifs"], seeds=[0], models={"gcn": {
            "hidden": 8, "num_layers": 4, "by_dataset": {"ba-shapes": {"num_layers": 3}}}},
        trainings={"standard": {"lr": 0.05, "by_task": {"node": {"epochs": 11}},
                                "by_dataset": {"ba-2motifs": {"epochs": 7}}}}))
    cells, _ = expand(config)
    layers = {c.dataset: c.model_hparams["num_layers"] for c in cells}
    assert layers == {"ba-shapes": 3, "tree-cycles": 4, "ba-2motifs": 4}
    assert {c.dataset: c.model_hparams["hidden"] for c in cells} == {
        "ba-shapes": 8, "tree-cycles": 8, "ba-2motifs": 8}
    epochs = {c.dataset: c.training_config["epochs"] for c in cells}
    assert epochs["ba-shapes"] == epochs["tree-cycles"] == 11  # by_task still applies
    assert epochs["ba-2motifs"] == 7
    assert {c.training_config["lr"] for c in cells} == {0.05}
    by_key = {c.dataset: c.model_key for c in cells}
    assert by_key["ba-shapes"] != by_key["tree-cycles"]


@pytest.mark.parametrize("entry,match", [
    ({"gcn": {"by_dataset": {"tree-grid": {}}}}, r"models\.gcn\.by_dataset: dataset 'tree-grid' "
                                                   r"is not in the matrix"),
    ({"gcn": {"by_dataset": {"ba-shapes": {"num_layers": "x"}}}},
     r"models\.gcn\.by_dataset\.ba-shapes\.num_layers"),
    ({"gcn": {"by_dataset": ["ba-shapes"]}}, r"models\.gcn\.by_dataset: expected a mapping"),
    ({"gcn": {"only_datasets": []}}, r"models\.gcn\.only_datasets: expected a non-empty list"),
])
def test_by_dataset_and_only_datasets_errors_name_the_field(entry, match):
    with pytest.raises(ConfigError, match=match):
        parse_matrix(_raw(models=entry))


def test_explainers_take_no_by_dataset_but_may_be_restricted():
    with pytest.raises(ConfigError, match=r"explainers\.test-any\.by_dataset: explainers keep one "
                                          r"parameter set per task level"):
        parse_matrix(_raw(explainers={"test-any": {"by_dataset": {"ba-shapes": {"steps": 1}}}}))
    config = parse_matrix(_raw(datasets=["ba-shapes", "tree-cycles"], seeds=[0],
                               models={"gcn": {}, "gin": {"only_datasets": ["tree-cycles"]}},
                               explainers={"test-any": {"only_datasets": ["ba-shapes"]},
                                           "test-node-only": {}}))
    cells, skipped = expand(config)
    ran = {(c.dataset, c.model, c.explainer) for c in cells}
    assert ran == {("ba-shapes", "gcn", "test-any"), ("ba-shapes", "gcn", "test-node-only"),
                   ("tree-cycles", "gcn", "test-node-only"), ("tree-cycles", "gin", "test-node-only")}
    reasons = {(c.dataset, c.model, c.explainer): r for c, r in skipped}
    assert reasons[("ba-shapes", "gin", "test-node-only")] == (
        "models.gin.only_datasets restricts it to tree-cycles")
    assert reasons[("tree-cycles", "gcn", "test-any")] == (
        "explainers.test-any.only_datasets restricts it to ba-shapes")


def test_a_restricted_preset_runs_the_same_cells_as_the_whole_one():
    """`suite run --datasets ... --models ... --explainers ... --seeds ...`: the default preset
    cut down gives a subset of the whole preset's cells, with the same keys (so a later full
    run reuses them), and a name the preset lacks lists the names it has."""
    name, _source, raw = matrix_document("default")
    whole = {c.key for c in expand(parse_matrix(raw, default_name=name))[0]}
    cut = restrict_document(raw, seeds=[1], datasets=["tree-grid", "ba-2motifs"],
                            models=["gin"], explainers=["random", "pgexplainer"])
    cells = expand(parse_matrix(cut, default_name=name))[0]
    assert {(c.dataset, c.model, c.explainer, c.seed) for c in cells} == {
        (d, "gin", e, 1) for d in ("tree-grid", "ba-2motifs") for e in ("random", "pgexplainer")}
    assert {c.key for c in cells} <= whole
    assert "tree-cycles" not in str(cut["models"])  # overrides of cut datasets go with them
    with pytest.raises(ConfigError, match="'gcm' is not in this matrix; it has gcn-sum, gin"):
        restrict_document(raw, models=["gcm"])


@pytest.mark.parametrize("section, name, params, message", [
    ("models", "gcn", {"hidden": -4}, "models.gcn.hidden: expected a value in [1, inf) (got -4)"),
    ("models", "gcn", {"num_layers": 0}, "models.gcn.num_layers: expected a value in [1, inf)"),
    ("models", "gin", {"jk": "foo"}, "models.gin.jk: expected one of cat, last (got 'foo')"),
    ("models", "gcn", {"dropout": 2.0}, "models.gcn.dropout: expected a value in [0, 1) (got 2.0)"),
    ("datasets", "ba-shapes", {"noise_ratio": -1}, "datasets.ba-shapes.noise_ratio: expected "
                                                   "a value in [0, inf) (got -1.0)"),
    ("trainings", "standard", {"lr": 1e30, "epochs": 0}, "epochs: must be >= 1"),
])
def test_out_of_range_hyper_parameters_are_refused_when_the_matrix_is_parsed(
        section, name, params, message):
    """Each value once passed the parser and failed every cell at run time (issue 30)."""
    raw = {"name": "ranges", "seeds": [0], "datasets": {"ba-shapes": {}},
           "models": {"gcn": {}}, "trainings": {"standard": {}}, "explainers": {"random": {}}}
    raw[section] = {name: params}
    with pytest.raises(ConfigError) as caught:
        parse_matrix(raw)
    assert message in str(caught.value)
