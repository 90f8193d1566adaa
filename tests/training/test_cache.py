"""The trained-model cache: keys, round trips, corrupt entries, train_or_load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import suite
from suite.core.config import ConfigError
from suite.training import CacheWarning, ModelCache, StandardTraining, train_or_load
from suite.training.base import TrainResult

FAST = {"epochs": 5, "patience": 0}
KEY_ARGS = dict(dataset_name="ba-shapes", dataset_params={"seed": 0, "num_base": 300},
                model_name="gcn", model_hparams={"hidden": 20, "num_layers": 3},
                training_name="standard", training_config={"lr": 0.01, "epochs": 300}, seed=0)


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training ran although the model was cached")

    monkeypatch.setattr(StandardTraining, "train", refuse)


def _train(dataset, cache, seed=0, **kwargs):
    args = dict(model_name="gcn", model_hparams={"hidden": 8}, training_name="standard",
                training_config=FAST, dataset=dataset, seed=seed, cache=cache)
    args.update(kwargs)
    return train_or_load(**args)


# ----------------------------------------------------------------------------- keys


def test_key_is_stable_and_defaults_to_suite_version(tmp_path):
    cache = ModelCache(tmp_path)
    key = cache.key(**KEY_ARGS)
    assert key == ModelCache(tmp_path / "elsewhere").key(**KEY_ARGS)
    assert key == cache.key(**KEY_ARGS, suite_version=suite.__version__)
    reordered = dict(KEY_ARGS, dataset_params={"num_base": 300, "seed": 0})
    assert cache.key(**reordered) == key


@pytest.mark.parametrize("field, value", [
    ("dataset_name", "ba-community"), ("dataset_params", {"seed": 1, "num_base": 300}),
    ("model_name", "gin"), ("model_hparams", {"hidden": 21, "num_layers": 3}),
    ("training_name", "adversarial"), ("training_config", {"lr": 0.001, "epochs": 300}),
    ("seed", 1), ("suite_version", "999.0"),
])
def test_key_changes_with_every_ingredient(tmp_path, field, value):
    cache = ModelCache(tmp_path)
    assert cache.key(**dict(KEY_ARGS, **{field: value})) != cache.key(**KEY_ARGS)


def test_training_context_enters_the_key_only_outside_the_default(tmp_path):
    from suite.training.cache import training_context

    cache = ModelCache(tmp_path)
    assert cache.key(**KEY_ARGS, trained_with={}) == cache.key(**KEY_ARGS)  # old keys kept
    two = cache.key(**KEY_ARGS, trained_with={"torch_threads": 2})
    assert two != cache.key(**KEY_ARGS) != cache.key(**KEY_ARGS, trained_with={"device": "cuda"})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert training_context("cpu") == {}
        assert training_context("cuda:0") == {"device": "cuda"}
        torch.set_num_threads(2)
        assert training_context(torch.device("cpu")) == {"torch_threads": 2}
    finally:
        torch.set_num_threads(before)


def test_a_model_trained_with_more_threads_is_not_reused_by_a_one_thread_run(
        tiny_node_dataset, tmp_path):
    cache = ModelCache(tmp_path / "models")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _, _, cached = _train(tiny_node_dataset, cache)
        assert not cached
        torch.set_num_threads(1)
        _, _, cached = _train(tiny_node_dataset, cache)
        assert not cached  # a separate entry: the weights may differ
        _, _, cached = _train(tiny_node_dataset, cache)
        assert cached
    finally:
        torch.set_num_threads(before)
    metas = [json.loads(p.read_text())["meta"] for p in (tmp_path / "models").glob("*.json")]
    assert sorted(m.get("trained_with", {}).get("torch_threads", 1) for m in metas) == [1, 2]


# ----------------------------------------------------------------------------- round trips


def test_train_then_load_round_trip(tiny_node_dataset, tmp_path, monkeypatch):
    cache = ModelCache(tmp_path / "models")
    model, result, cached = _train(tiny_node_dataset, cache)
    assert not cached and not model.training
    # exactly one entry (state + result) and no temporary files left behind
    assert sorted(p.suffix for p in (tmp_path / "models").iterdir()) == [".json", ".pt"]

    _no_training(monkeypatch)
    again, result2, cached2 = _train(tiny_node_dataset, cache)
    assert cached2 and not again.training
    assert _states_equal(model, again)
    assert result2 == result
    d = tiny_node_dataset.data
    with torch.no_grad():
        assert torch.equal(model(d.x, d.edge_index), again(d.x, d.edge_index))


@pytest.mark.parametrize("damage", ["weights", "truncated", "no checksum"])
def test_a_tampered_truncated_or_unchecked_state_is_never_loaded(tiny_node_dataset, tmp_path,
                                                                 damage):
    """A state whose bytes differ from the recorded SHA-256 (weights edited with the shapes
    kept, or cut short), or an entry without a checksum, is a miss: warned and retrained."""
    cache = ModelCache(tmp_path / "models")
    model, _, _ = _train(tiny_node_dataset, cache)
    state_path = next((tmp_path / "models").glob("*.pt"))
    result_path = state_path.with_suffix(".json")
    if damage == "weights":
        state = torch.load(state_path, weights_only=True)
        state = {k: v + 1.0 if v.is_floating_point() else v for k, v in state.items()}
        torch.save(state, state_path)  # loads into the model: only the checksum tells
    elif damage == "truncated":
        state_path.write_bytes(state_path.read_bytes()[:100])
    else:
        record = json.loads(result_path.read_text())
        del record["sha256"]
        result_path.write_text(json.dumps(record))
    with pytest.warns(CacheWarning, match="checksum"):
        again, _, cached = _train(tiny_node_dataset, cache)
    assert not cached and _states_equal(model, again)  # retrained: the same seeded model


def test_reference_models_are_read_after_the_own_folder_and_never_written(
        tiny_node_dataset, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    model, result, _ = _train(tiny_node_dataset, ModelCache(reference))
    before = sorted(p.name for p in reference.iterdir())
    _no_training(monkeypatch)
    cache = ModelCache(tmp_path / "own", references=[reference])
    again, result2, cached = _train(tiny_node_dataset, cache)
    assert cached and result2 == result and _states_equal(model, again)
    assert not (tmp_path / "own").exists()  # a hit in a reference writes nothing
    assert sorted(p.name for p in reference.iterdir()) == before
    assert ModelCache(reference, references=[reference]).references == ()


def test_for_paths_puts_the_committed_reference_models_behind_the_cache(tmp_path):
    """In this source checkout the committed reference models are found (an earlier path
    pointed one folder too deep, so no run ever read them) and every entry verifies."""
    from suite.core.paths import Paths, reference_models

    paths = Paths.from_env(tmp_path, models=tmp_path / "m")
    cache = ModelCache.for_paths(paths)
    assert cache.directory == tmp_path / "m" and paths.model_cache == tmp_path / "m"
    committed = Path(suite.__file__).resolve().parents[1] / "results" / "reference" / "models"
    assert reference_models() == committed and committed.is_dir()
    assert cache.references == (committed,)
    keys = sorted(p.stem for p in committed.glob("*.json"))
    assert keys and all(key in cache for key in keys)
    assert Paths.from_env(tmp_path).model_cache == tmp_path / "results" / "cache" / "models"


def test_defaults_given_explicitly_share_the_entry(tiny_node_dataset, tmp_path, monkeypatch):
    cache = ModelCache(tmp_path)
    _train(tiny_node_dataset, cache, training_config={"epochs": 5})
    _no_training(monkeypatch)
    explicit_training = dict(StandardTraining(epochs=5).config())
    explicit_model = {"hidden": 8, "num_layers": 3, "jk": "cat", "pool": "mean", "dropout": 0.0}
    _, _, cached = _train(tiny_node_dataset, cache, training_config=explicit_training,
                          model_hparams=explicit_model, training_name="Standard", model_name="GCN")
    assert cached


def test_other_configs_are_other_entries(tiny_node_dataset, tmp_path):
    cache = ModelCache(tmp_path)
    a, _, _ = _train(tiny_node_dataset, cache, seed=0)
    b, _, cached_b = _train(tiny_node_dataset, cache, seed=1)
    c, _, cached_c = _train(tiny_node_dataset, cache, training_config={"epochs": 6, "patience": 0})
    assert not cached_b and not cached_c
    assert not _states_equal(a, b)  # the seed sets the initialisation
    assert len(list(tmp_path.glob("*.pt"))) == 3


def test_train_or_load_without_cache_is_deterministic(tiny_graph_dataset):
    kwargs = dict(model_name="gin", model_hparams={"hidden": 8},
                  training_config={**FAST, "batch_size": 8})
    a, ra, cached = _train(tiny_graph_dataset, None, **kwargs)
    b, rb, _ = _train(tiny_graph_dataset, None, **kwargs)
    assert not cached and _states_equal(a, b) and ra.accuracy == rb.accuracy


def test_saved_state_is_on_cpu_with_result_and_meta(tiny_node_dataset, tmp_path):
    cache = ModelCache(tmp_path)
    _, result, _ = _train(tiny_node_dataset, cache, dataset_params={"seed": 4})
    (state_path,) = tmp_path.glob("*.pt")
    state = torch.load(state_path, weights_only=True)
    assert all(v.device.type == "cpu" for v in state.values())
    record = json.loads(state_path.with_suffix(".json").read_text())
    assert TrainResult(**record["result"]) == result
    assert record["meta"]["model"] == "gcn" and record["meta"]["dataset_params"] == {"seed": 4}
    assert record["meta"]["training_config"]["epochs"] == 5
    assert record["meta"]["suite_version"] == suite.__version__
    assert state_path.stem in cache


# ----------------------------------------------------------------------------- failures


@pytest.mark.parametrize("damage", ["state", "result", "missing_state"])
def test_corrupt_entry_is_rebuilt_with_a_warning(damage, tiny_node_dataset, tmp_path, monkeypatch):
    cache = ModelCache(tmp_path)
    first, _, _ = _train(tiny_node_dataset, cache)
    (state_path,) = tmp_path.glob("*.pt")
    if damage == "state":
        state_path.write_bytes(b"not a checkpoint")
    elif damage == "result":
        state_path.with_suffix(".json").write_text("{truncated")
    else:
        state_path.unlink()
    with pytest.warns(CacheWarning, match="retraining"):
        rebuilt, _, cached = _train(tiny_node_dataset, cache)
    assert not cached and _states_equal(first, rebuilt)
    _no_training(monkeypatch)
    _, _, cached = _train(tiny_node_dataset, cache)  # the entry was rewritten
    assert cached


def test_state_of_another_architecture_is_refused(tiny_node_dataset, tmp_path):
    cache = ModelCache(tmp_path)
    big, result, _ = _train(tiny_node_dataset, None, model_hparams={"hidden": 16})
    cache.save("k", big, result)
    small, _, _ = _train(tiny_node_dataset, None)
    before = {k: v.clone() for k, v in small.state_dict().items()}
    with pytest.warns(CacheWarning, match="does not fit"):
        assert cache.load("k", small) is None
    assert all(torch.equal(before[k], v) for k, v in small.state_dict().items())


def test_miss_returns_none_silently(tiny_node_dataset, tmp_path, recwarn):
    model, _, _ = _train(tiny_node_dataset, None)
    assert ModelCache(tmp_path / "absent").load("nothing", model) is None
    assert not recwarn.list


def test_interrupted_save_leaves_no_files(tiny_node_dataset, tmp_path, monkeypatch):
    cache = ModelCache(tmp_path)
    model, result, _ = _train(tiny_node_dataset, None)

    def torn(obj, handle):
        handle.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", torn)
    with pytest.raises(KeyboardInterrupt):
        cache.save("k", model, result)
    assert list(tmp_path.iterdir()) == []
    assert cache.load("k", model) is None


def test_bad_training_config_fails_before_training(tiny_node_dataset, tmp_path):
    with pytest.raises(ConfigError, match="epoch"):
        _train(tiny_node_dataset, ModelCache(tmp_path), training_config={"epoch": 5})
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
