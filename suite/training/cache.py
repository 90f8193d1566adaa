"""The trained-model cache: a state dict and its ``TrainResult`` per configuration hash.

Layout under the cache directory (the runner uses ``Paths.model_cache``)::

    <key>.pt    the model's state dict, on CPU (``torch.save``)
    <key>.json  {"format", "result": TrainResult fields, "meta": what the key hashes,
                 "sha256": the SHA-256 of <key>.pt}

Both files are written atomically (a temporary file in the same directory, then
``os.replace``), the JSON last, so a reader sees either a complete entry or none.
The state is read with ``weights_only=True`` (never code) and only when its bytes match
the recorded SHA-256, so a tampered or truncated state, or an entry without a checksum,
is never loaded. An unreadable or mismatching entry is reported with a
:class:`CacheWarning` and treated as a miss; the caller retrains and overwrites it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from suite.core.config import drop_omitted_defaults, stable_hash
from suite.core.paths import Paths, atomic_write, reference_models
from suite.core.seeding import seed_everything
from suite.core.types import BenchmarkDataset
from suite.core.version import __version__
from suite.models import MODELS, GraphModel, build_model  # the package registers the models
from suite.training.base import TRAININGS, TrainResult, build_training

#: Bump when the cache layout or what a key covers changes.
CACHE_FORMAT = 1


class CacheWarning(UserWarning):
    """A cache entry could not be used and will be rebuilt."""


class ModelCache:
    """Trained models keyed by a hash of everything that determines them.

    ``references``: read-only folders of the same layout searched after ``directory``
    (the committed reference models, so every CPU explains the same models); new
    entries are always written to ``directory``.
    """

    def __init__(self, directory: str | os.PathLike,
                 references: Sequence[str | os.PathLike] = ()) -> None:
        self.directory = Path(directory)
        self.references = tuple(Path(r) for r in references if Path(r) != self.directory)

    @classmethod
    def for_paths(cls, paths: Paths) -> "ModelCache":
        """The cache of ``paths`` with ``paths.model_references`` behind it (by default the
        committed reference models, when this is a source checkout)."""
        references = paths.model_references
        if references is None:
            reference = reference_models()
            references = () if reference is None else (reference,)
        return cls(paths.model_cache, references)

    def key(self, dataset_name: str, dataset_params: Mapping[str, Any], model_name: str,
            model_hparams: Mapping[str, Any], training_name: str,
            training_config: Mapping[str, Any], seed: int,
            suite_version: str | None = None,
            trained_with: Mapping[str, Any] | None = None) -> str:
        """``stable_hash`` of the inputs (``suite_version`` defaults to ``suite.__version__``)."""
        return stable_hash(self.key_fields(dataset_name, dataset_params, model_name, model_hparams,
                                            training_name, training_config, seed, suite_version,
                                            trained_with),
                           length=24)

    @staticmethod
    def key_fields(dataset_name: str, dataset_params: Mapping[str, Any], model_name: str,
                    model_hparams: Mapping[str, Any], training_name: str,
                    training_config: Mapping[str, Any], seed: int,
                    suite_version: str | None = None,
                    trained_with: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """What :meth:`key` hashes, as a JSON-ready dict (stored beside each entry).

        ``trained_with`` (:func:`training_context`) is added only when non-empty, so models
        trained in the default context (CPU, one torch thread) keep their keys.
        """
        fields = {
            "format": CACHE_FORMAT, "dataset": dataset_name, "dataset_params": dict(dataset_params),
            "model": model_name, "model_hparams": dict(model_hparams), "training": training_name,
            "training_config": dict(training_config), "seed": int(seed),
            "suite_version": __version__ if suite_version is None else suite_version,
        }
        if trained_with:
            fields["trained_with"] = dict(trained_with)
        return fields

    def paths(self, key: str, directory: Path | None = None) -> tuple[Path, Path]:
        """(state file, result file) of ``key`` (in ``directory``, default the cache's own)."""
        directory = directory or self.directory
        return directory / f"{key}.pt", directory / f"{key}.json"

    def _holder(self, key: str) -> Path | None:
        """The first folder (own, then references) with the result file of entry ``key``
        (its state file is checked when loading: a missing one is a damaged entry)."""
        for directory in (self.directory, *self.references):
            if self.paths(key, directory)[1].exists():
                return directory
        return None

    def __contains__(self, key: object) -> bool:
        directory = self._holder(key) if isinstance(key, str) else None
        return directory is not None and all(p.exists() for p in self.paths(key, directory))

    def load(self, key: str, model: GraphModel) -> TrainResult | None:
        """Load entry ``key`` into ``model`` (in place, on its device) and return its result.

        The own folder first, then the references. None on a miss, or (with a
        :class:`CacheWarning`) when the entry is unreadable or its state does not fit
        ``model``; ``model`` is untouched in both cases.
        """
        directory = self._holder(key)
        if directory is None:
            return None
        state_path, result_path = self.paths(key, directory)
        try:
            record = json.loads(result_path.read_text())
            result = TrainResult(**record["result"])
            payload = state_path.read_bytes()
            problem = _checksum_problem(record, payload)
            if not problem:
                state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
                problem = _mismatch(state, model)
        except Exception as exc:  # any unreadable entry is a miss, never fatal
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            warnings.warn(f"model cache entry {key} in {directory} {problem}; retraining",
                          CacheWarning, stacklevel=2)
            return None
        model.load_state_dict(state)
        return result

    def save(self, key: str, model: GraphModel, result: TrainResult,
             meta: Mapping[str, Any] | None = None) -> None:
        """Write ``model``'s state (moved to CPU) and ``result`` atomically under ``key``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        state_path, result_path = self.paths(key)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        atomic_write(state_path, lambda f: f.write(payload))
        record = {"format": CACHE_FORMAT, "result": dataclasses.asdict(result),
                  "meta": dict(meta or {}), "sha256": hashlib.sha256(payload).hexdigest()}
        text = json.dumps(record, indent=1, sort_keys=True, default=str)
        atomic_write(result_path, lambda f: f.write(text.encode()))


def _checksum_problem(record: Mapping[str, Any], payload: bytes) -> str | None:
    """Why the state bytes ``payload`` are not the ones the entry recorded (None if they are)."""
    recorded = record.get("sha256")
    if not isinstance(recorded, str):
        return "has no checksum (written by an older suite)"
    if hashlib.sha256(payload).hexdigest() != recorded:
        return "has a state whose checksum does not match (tampered or truncated)"
    return None


def _mismatch(state: Any, model: GraphModel) -> str | None:
    """Why ``state`` cannot be loaded into ``model`` (None when it can)."""
    if not isinstance(state, dict):
        return f"holds a {type(state).__name__}, not a state dict"
    expected = model.state_dict()
    if set(state) != set(expected):
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        return f"does not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
    for name, value in expected.items():
        if not isinstance(state[name], torch.Tensor) or state[name].shape != value.shape:
            return f"does not fit the model ({name}: shape {tuple(value.shape)} expected)"
    return None


def resolved_hparams(model_name: str, hparams: Mapping[str, Any] | None) -> dict[str, Any]:
    """``hparams`` completed with the model factory's defaults (so ``{}`` and the explicit
    defaults share a cache key); parameters the factory marks ``omit_at_default`` are left
    out while they hold their default."""
    factory = MODELS.get(model_name)
    defaults: dict[str, Any] = {}
    try:
        params = list(inspect.signature(factory).parameters.values())[1:]
    except (TypeError, ValueError):  # no introspectable signature: use what was given
        params = []
    for p in params:
        variadic = p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        if p.default is not inspect.Parameter.empty and not variadic:
            defaults[p.name] = p.default
    return drop_omitted_defaults(factory, {**defaults, **(hparams or {})}, defaults)


def training_context(device: torch.device | str = "cpu") -> dict[str, Any]:
    """What, besides the configuration, changes the trained weights: ``{}`` on CPU with one
    torch thread (the runner's default), else the device type and, on CPU, the thread count.

    Training is deterministic for a seed only at a fixed thread count: more threads change
    the floating-point reduction order, and over 1,000 epochs that can change the model
    (Tree-Cycles GIN, seed 2: test accuracy 0.989 on one thread, 0.816 on two). Keying
    on it keeps a model trained with ``--threads 2`` from being reused by a one-thread run.
    """
    kind = torch.device(device).type
    if kind != "cpu":
        return {"device": kind}
    threads = torch.get_num_threads()
    return {} if threads == 1 else {"torch_threads": threads}


def train_or_load(model_name: str, model_hparams: Mapping[str, Any] | None, training_name: str,
                  training_config: Mapping[str, Any] | None, dataset: BenchmarkDataset,
                  dataset_params: Mapping[str, Any] | None = None, seed: int = 0,
                  device: torch.device | str = "cpu",
                  cache: ModelCache | None = None) -> tuple[GraphModel, TrainResult, bool]:
    """The trained model of a configuration: from ``cache`` when there, else trained now.

    The training config is validated first; then every generator is seeded with
    ``seed`` and the model built (so its initialisation is deterministic), then
    loaded or trained (and saved). ``dataset_params`` default to ``dataset.params``.
    The key hashes the canonical names, the model hyper-parameters completed with
    the factory's defaults, the training mode's full config and, outside the default
    context, :func:`training_context` (device type, torch threads).

    Returns ``(model in eval mode on device, result, cached)``.
    """
    training = build_training(training_name, **dict(training_config or {}))
    seed_everything(seed)
    model = build_model(model_name, dataset, **dict(model_hparams or {}))
    key, meta = None, {}
    if cache is not None:
        args = (dataset.name, dataset.params if dataset_params is None else dataset_params,
                MODELS.resolve(model_name), resolved_hparams(model_name, model_hparams),
                TRAININGS.resolve(training_name), training.config(), seed, None,
                training_context(device))
        key, meta = cache.key(*args), cache.key_fields(*args)
        result = cache.load(key, model)
        if result is not None:
            return model.to(device).eval(), result, True
    result = training.train(model, dataset, seed, torch.device(device))
    if cache is not None and key is not None:
        cache.save(key, model, result, meta=meta)
    return model.to(device).eval(), result, False
