"""The benchmark matrix: a validated YAML config expanded into cells.

A matrix crosses datasets x models x training modes x explainers x seeds. Each
combination is a :class:`Cell`, the unit of work of the runner and the unit of
storage of the results store. Incompatible combinations (a dataset's task
level that a model or an explainer does not handle) are skipped with the
reason, computed from registry metadata before any compute.

YAML format (presets live in ``suite/presets/*.yaml``)::

    name: smoke
    seeds: [0]              # an integer or a list of integers
    device: cpu             # default device; the CLI can override it
    max_instances: 100      # explained instances per cell (a fixed seeded subset when more)
    instances: correct      # correct (default) or all: see suite.protocol.InstanceSet
    accuracy_floor: 0.8     # optional: one floor for every dataset, or {dataset: floor};
                            # absent: the protocol's floors (suite.protocol.floor_for)
    metrics: {topk_share: 0.1}                  # options passed to every scorer
    datasets: {ba-shapes: {}}                   # name -> builder params (or a list of names)
    models: {gcn: {hidden: 20, num_layers: 3}}  # name -> hyper-parameters
    trainings: {standard: {epochs: 300}}        # name -> config (default: standard)
    explainers: {random: {}, gnnexplainer: {epochs: 100}, pyg-gnnexplainer: {max_instances: 20}}

``max_instances`` inside an explainer's mapping caps that explainer's cells.
``by_task`` inside a model's, training mode's or explainer's mapping gives
per-task-level overrides (one parameter set per task level)::

    trainings:
      standard: {lr: 0.01, by_task: {node: {epochs: 1000}, graph: {epochs: 150}}}

``by_dataset`` inside a model's or training mode's mapping overrides parameters for
named datasets of the matrix (applied after ``by_task``); explainers take none, since
an explainer keeps one parameter set per task level. ``only_datasets`` inside a
model's, training mode's or explainer's mapping restricts it to those datasets; the
other combinations are skipped with the reason::

    models:
      gcn: {num_layers: 4, by_dataset: {ba-shapes: {num_layers: 3}}}
      rgcn: {only_datasets: [graphmask-star]}

Every error names the field path and the value: ``seeds[1]: expected an integer
(got 'x')``; unknown names raise the registry's error (known names, closest match).
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import json
import os
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import yaml

from suite.core.config import ConfigError, build_config, drop_omitted_defaults, stable_hash
from suite.core.records import InstanceRecords
from suite.core.registry import Registry, UnknownNameError
from suite.datasets import DATASETS
from suite.explainers.base import EXPLAINERS
from suite.models import MODELS
from suite.models.base import edge_type_incompatibility
from suite.protocol import PROTOCOL_VERSION, InstanceSet, check_floor_value, floor_for
from suite.training import TRAININGS

if typing.TYPE_CHECKING:
    import torch

#: Bump when what a cell key covers changes (old store rows then no longer match).
CELL_FORMAT = 2

#: Top-level fields of a matrix file, in the order they are documented.
MATRIX_FIELDS = ("name", "seeds", "device", "max_instances", "instances", "accuracy_floor",
                 "metrics", "datasets", "models", "trainings", "explainers")

#: The per-explainer key that caps the explained instances of that explainer's cells.
EXPLAINER_CAP_KEY = "max_instances"

#: The key of per-task-level overrides inside a model, training or explainer mapping.
BY_TASK_KEY = "by_task"

#: The key of per-dataset overrides inside a model or training mapping.
BY_DATASET_KEY = "by_dataset"

#: The key restricting a model, training or explainer to some datasets of the matrix.
ONLY_DATASETS_KEY = "only_datasets"

#: Task levels, by their config names (kept as strings so importing this module needs no torch).
TASK_LEVELS = ("node", "graph")

Params = dict[str, Any]


@dataclass(frozen=True)
class Plugins:
    """The four plug-in registries a matrix crosses."""

    datasets: Registry
    models: Registry
    trainings: Registry
    explainers: Registry


def plugins() -> Plugins:
    """The registries, imported on first use: importing this module (and the results
    store, which reads cells) stays light, without torch or any plug-in."""

    return Plugins(datasets=DATASETS, models=MODELS, trainings=TRAININGS, explainers=EXPLAINERS)


# --------------------------------------------------------------------------- cells


@dataclass(frozen=True)
class Cell:
    """One combination of the matrix: everything that defines one row of results.

    The parameter dicts hold *resolved* values (defaults filled in), so a cell is
    self-describing and a changed default changes its key. Treat them as read-only.

    Attributes:
        dataset, dataset_params: registered dataset name and builder parameters
            (the dataset seed is ``seed``).
        model, model_hparams: registered model name and hyper-parameters.
        training, training_config: registered training mode and its full config.
        explainer, explainer_hparams: registered explainer and its full config.
        seed: seeds the dataset, the model's training and the explainer.
        max_instances: cap on explained instances (a fixed seeded subset when more).
        device: torch device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        accuracy_floor: the model's floor on this dataset (``suite.protocol.floor_for``);
            models below it are shown, never ranked.
        metric_options: options passed to every scorer.
        floor_metric: what the floor is compared with (``accuracy`` or ``balanced_accuracy``).
        instance_set: which test instances are candidates (``suite.protocol.InstanceSet``).
        group_instances: the instances of the cell's comparison group (the matrix's
            ``max_instances``); an explainer capped below it explains a prefix of them.
    """

    dataset: str
    dataset_params: Params
    model: str
    model_hparams: Params
    training: str
    training_config: Params
    explainer: str
    explainer_hparams: Params
    seed: int
    max_instances: int
    device: str
    accuracy_floor: float
    metric_options: Params
    floor_metric: str = "accuracy"
    instance_set: str = "correct"
    group_instances: int = 0

    def __hash__(self) -> int:  # the dict fields are unhashable; the key identifies the cell
        return hash(self.key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``Cell.from_dict(cell.to_dict()) == cell``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Cell":
        """Inverse of :meth:`to_dict`; missing, unknown or mistyped fields raise ``ConfigError``."""
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in values
                   and f.default is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"cell.{missing[0]}: required field missing")
        return build_config(cls, values, where="cell")

    @property
    def key(self) -> str:
        """``stable_hash`` of every field (device included): the cell's identity in the store."""
        return stable_hash({"format": CELL_FORMAT, **self.to_dict()})

    @property
    def dataset_key(self) -> str:
        """Identity of the dataset this cell uses (cells with equal keys share it)."""
        return stable_hash({"dataset": self.dataset, "params": self.dataset_params,
                            "seed": self.seed})

    @property
    def model_key(self) -> str:
        """Identity of the trained model this cell explains (cells with equal keys share it)."""
        return stable_hash({
            "dataset": self.dataset, "dataset_params": self.dataset_params, "model": self.model,
            "model_hparams": self.model_hparams, "training": self.training,
            "training_config": self.training_config, "seed": self.seed, "device": self.device,
        })

    @property
    def label(self) -> str:
        """Short human-readable name: ``dataset/model/training/explainer/seed``."""
        return f"{self.dataset}/{self.model}/{self.training}/{self.explainer}/seed{self.seed}"


class CellStatus(str, enum.Enum):
    """How a cell ended: scored, raised, or refused before any compute."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass
class CellOutcome:
    """What running one cell produced (picklable; the store records it in one transaction).

    Attributes:
        cell: the cell.
        status: done, failed or skipped.
        scores: metric name -> value (NaN where undefined); empty unless done.
        error: the error (failed) or the reason (skipped); empty when done.
        n_instances: number of explained instances.
        dataset_family, task, explainer_source: registry metadata for grouping.
        started_at, finished_at: ISO 8601 UTC timestamps.
        seconds: wall time of the whole cell (s), loading and training included.
        instances: the per-instance records of a done cell (None otherwise).
        protocol: the protocol version the cell was scored under.
    """

    cell: Cell
    status: CellStatus
    scores: dict[str, float] = field(default_factory=dict)
    error: str = ""
    n_instances: int = 0
    dataset_family: str = ""
    task: str = ""
    explainer_source: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    instances: InstanceRecords | None = None
    protocol: int = PROTOCOL_VERSION


def cell_labels(cell: Cell) -> dict[str, str]:
    """Registry metadata of a cell: ``dataset_family``, ``task``, ``explainer_source``."""
    reg = plugins()
    info = reg.datasets.entry(cell.dataset).metadata["info"]
    explainer = reg.explainers.entry(cell.explainer).metadata.get("info")
    return {"dataset_family": info.family, "task": info.task.value,
            "explainer_source": getattr(explainer, "source", "unknown")}


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class MatrixConfig:
    """A validated matrix. Names are canonical registry names; see the module docstring.

    The section dicts hold the parameters as written in the file (defaults are
    filled in when cells are expanded); ``explainers`` values may hold
    ``max_instances``. ``source`` says where the config came from (not part of
    its identity).
    """

    name: str
    datasets: dict[str, Params]
    models: dict[str, Params]
    explainers: dict[str, Params]
    trainings: dict[str, Params] = field(default_factory=lambda: {"standard": {}})
    seeds: tuple[int, ...] = (0,)
    device: str = "cpu"
    max_instances: int = 100
    accuracy_floor: float | dict[str, float] | None = None
    metrics: Params = field(default_factory=dict)
    source: str = ""
    instances: str = "correct"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the YAML format (``parse_matrix`` reads it back)."""
        out = {name: getattr(self, name) for name in MATRIX_FIELDS}
        out["seeds"] = list(self.seeds)
        return out

    def with_device(self, device: str | torch.device) -> "MatrixConfig":
        """The same matrix on another device (cells, and so their keys, change)."""
        return dataclasses.replace(self, device=_device(str(device), "device"))


#: Seeds are below this: they seed numpy and torch generators and are stored as SQLite integers.
SEED_LIMIT = 2 ** 63


def _int(value: Any, where: str, minimum: int | None = None,
         below: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: expected an integer (got {value!r})")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be >= {minimum} (got {value!r})")
    if below is not None and value >= below:
        raise ConfigError(f"{where}: must be below {below} (got {value!r})")
    return value


def _device(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a device name such as cpu or cuda (got {value!r})")
    import torch

    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"{where}: expected a device name such as cpu, cuda or cuda:1 (got {value!r})") from None
    return value


def _string_keys(value: Any, where: str) -> Params:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of parameters (got {value!r})")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{where}: parameter names must be strings (got {key!r})")
    return dict(value)


def _section(raw: Mapping[str, Any], name: str, registry: Registry) -> dict[str, Params]:
    """A registry section: a list of names or a mapping name -> params, names resolved."""
    value = raw.get(name)
    if value is None:
        raise ConfigError(f"{name}: required; list at least one {registry.kind} "
                          f"(known: {', '.join(registry.names()) or '(none)'})")
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"{name}[{i}]: expected a {registry.kind} name (got {item!r})")
            items.append((item, {}, f"{name}[{i}]"))
    elif isinstance(value, Mapping):
        items = []
        for key, params in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{name}: expected {registry.kind} names as keys (got {key!r})")
            items.append((key, _string_keys(params, f"{name}.{key}"), f"{name}.{key}"))
    else:
        raise ConfigError(f"{name}: expected a list of names or a mapping name -> parameters "
                          f"(got {value!r})")
    if not items:
        raise ConfigError(f"{name}: list at least one {registry.kind} (got {value!r})")
    out: dict[str, Params] = {}
    written: dict[str, str] = {}
    for given, params, where in items:
        try:
            canonical = registry.resolve(given)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{where}: {exc}") from None
        if canonical in out:
            raise ConfigError(f"{where}: {registry.kind} {canonical!r} is listed twice "
                              f"(as {written[canonical]!r} and {given!r})")
        out[canonical], written[canonical] = params, given
    return out


def parse_matrix(raw: Any, source: str = "", default_name: str = "") -> MatrixConfig:
    """Validate a matrix given as plain data (a parsed YAML document) into a ``MatrixConfig``.

    Every name is checked against its registry and every parameter set is
    validated (explainers and training modes by building them; datasets and
    models against their builder's signature), so a bad config fails here, before
    any compute. Raises ``ConfigError`` (field path and value) or the registry's
    ``UnknownNameError``.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source or 'matrix'}: expected a mapping with the fields "
                          f"{', '.join(MATRIX_FIELDS)} (got {raw!r})")
    unknown = [k for k in raw if k not in MATRIX_FIELDS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), MATRIX_FIELDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"{unknown[0]}: unknown field.{hint} Known fields: {', '.join(MATRIX_FIELDS)}")
    name = raw.get("name", default_name or "custom")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name: expected a non-empty string (got {name!r})")

    seeds_raw = raw.get("seeds", [0])
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        seeds_raw = [seeds_raw]
    if not isinstance(seeds_raw, (list, tuple)) or not seeds_raw:
        raise ConfigError(f"seeds: expected a non-empty list of integers (got {seeds_raw!r})")
    seeds = tuple(_int(s, f"seeds[{i}]", minimum=0, below=SEED_LIMIT)
                  for i, s in enumerate(seeds_raw))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: each seed must appear once (got {list(seeds)!r})")

    device = _device(raw.get("device", "cpu"), "device")
    max_instances = _int(raw.get("max_instances", 100), "max_instances", minimum=1)
    floor = _floor_override(raw.get("accuracy_floor"))
    instances = InstanceSet.parse(raw.get("instances", InstanceSet.CORRECT.value)).value
    metrics = _string_keys(raw.get("metrics"), "metrics")

    reg = plugins()
    datasets = _section(raw, "datasets", reg.datasets)
    models = _section(raw, "models", reg.models)
    trainings = _section({"trainings": raw.get("trainings", {"standard": {}})}, "trainings",
                         reg.trainings)
    explainers = _section(raw, "explainers", reg.explainers)
    config = MatrixConfig(name=name, datasets=datasets, models=models, explainers=explainers,
                          trainings=trainings, seeds=seeds, device=device,
                          max_instances=max_instances, accuracy_floor=floor,
                          metrics=metrics, source=source, instances=instances)
    if isinstance(floor, dict):
        unknown = [d for d in floor if d not in datasets]
        if unknown:
            raise ConfigError(f"accuracy_floor.{unknown[0]}: not a dataset of this matrix "
                              f"(datasets: {', '.join(datasets)})")
    resolved_parameters(config)  # validates every parameter set
    return config


def _floor_override(value: Any) -> float | dict[str, float] | None:
    """``accuracy_floor``: absent, one number in [0, 1], or ``{dataset: number}``."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): check_floor_value(v, f"accuracy_floor.{k}") for k, v in value.items()}
    return check_floor_value(value, "accuracy_floor")


# --------------------------------------------------------------------------- parameters


def _function_defaults(fn: Callable[..., Any], params: Params, where: str,
                       skip: tuple[str, ...], skip_first: bool) -> Params:
    """Check ``params`` against ``fn``'s keyword parameters; return them with defaults filled in.

    Unknown names and values of the wrong type (by the annotations, via
    ``build_config``) raise ``ConfigError`` naming ``where.param``.
    """
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # not introspectable: accept as given
        return dict(params)
    parameters = list(signature.parameters.values())
    if skip_first and parameters:
        parameters = parameters[1:]
    for name in skip:
        if name in params:
            raise ConfigError(f"{where}.{name}: set by the matrix, not per entry "
                              f"(got {params[name]!r})")
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return dict(params)
    parameters = [p for p in parameters if p.name not in skip
                  and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable annotations: check names only
        hints = {}
    spec = dataclasses.make_dataclass(
        f"{getattr(fn, '__name__', 'params')}_params",
        [(p.name, hints.get(p.name, Any), field(default=None)) for p in parameters])
    checked = build_config(spec, params, where=where)  # unknown names, wrong types raise here
    missing = [p.name for p in parameters if p.default is p.empty and p.name not in params]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: required parameter missing")
    out = {p.name: p.default for p in parameters
           if p.default is not p.empty and _plain(p.default)}
    out.update({name: getattr(checked, name) for name in params})  # ints given for floats -> floats
    return drop_omitted_defaults(fn, out, {p.name: p.default for p in parameters})


def _plain(value: Any) -> bool:
    """True for JSON-representable defaults (only those are recorded in a cell)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _built_config(factory: Callable[..., Any], params: Params, where: str,
                  read: Callable[[Any], Params]) -> Params:
    """Build ``factory(**params)`` (validating them) and return its full config via ``read``."""
    config_cls = getattr(factory, "Config", None)
    if config_cls is not None and dataclasses.is_dataclass(config_cls):
        build_config(config_cls, params, where=where)  # field-path errors
    try:
        obj = factory(**params)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return dict(read(obj))


@dataclass(frozen=True)
class ResolvedParameters:
    """Each section's parameters with defaults filled in (explainer caps split off).

    Models, trainings and explainers map name -> task level -> parameters, after
    merging the entry's ``by_task`` overrides for that level. ``by_dataset`` holds,
    for ``("models" | "trainings", name)``, dataset -> the fully resolved parameters
    of the datasets that entry overrides; ``only`` holds, for ``(section, name)``,
    the datasets an ``only_datasets`` entry is restricted to.
    """

    datasets: dict[str, Params]
    models: dict[str, dict[str, Params]]
    trainings: dict[str, dict[str, Params]]
    explainers: dict[str, dict[str, Params]]
    explainer_caps: dict[str, int]
    by_dataset: dict[tuple[str, str], dict[str, Params]] = field(default_factory=dict)
    only: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def model(self, name: str, dataset: str, task: str) -> Params:
        """Hyper-parameters of model ``name`` on ``dataset`` (of task level ``task``)."""
        return self.by_dataset.get(("models", name), {}).get(dataset, self.models[name][task])

    def training(self, name: str, dataset: str, task: str) -> Params:
        """Config of training mode ``name`` on ``dataset`` (of task level ``task``)."""
        return self.by_dataset.get(("trainings", name), {}).get(dataset,
                                                                self.trainings[name][task])

    def excluded(self, section: str, name: str, dataset: str) -> str | None:
        """Why ``only_datasets`` keeps entry ``section.name`` off ``dataset`` (None if it does not)."""
        only = self.only.get((section, name))
        if only is None or dataset in only:
            return None
        return f"{section}.{name}.{ONLY_DATASETS_KEY} restricts it to {', '.join(only)}"


def _per_task(params: Params, where: str,
              resolve: Callable[[Params, str], Params]) -> dict[str, Params]:
    """Split ``by_task`` off ``params`` and resolve the merged set for every task level."""
    params = dict(params)
    overrides = _by_task(params, where)
    return {level: resolve({**params, **overrides.get(level, {})},
                           f"{where}.{BY_TASK_KEY}.{level}" if level in overrides else where)
            for level in TASK_LEVELS}


def _by_task(params: Params, where: str) -> dict[str, Params]:
    """Pop ``by_task`` off ``params`` (in place): task level -> overrides, validated."""
    overrides = params.pop(BY_TASK_KEY, None) or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}.{BY_TASK_KEY}: expected a mapping task level -> parameters "
                          f"(got {overrides!r})")
    for level in overrides:
        if level not in TASK_LEVELS:
            raise ConfigError(f"{where}.{BY_TASK_KEY}: expected task levels among "
                              f"{', '.join(TASK_LEVELS)} (got {level!r})")
    return {level: _string_keys(value, f"{where}.{BY_TASK_KEY}.{level}")
            for level, value in overrides.items()}


def _dataset_names(value: Any, where: str, datasets: Mapping[str, Any]) -> list[str]:
    """Dataset names of the matrix given as a list (``only_datasets``) or mapping keys."""
    names = list(value) if isinstance(value, (list, tuple, Mapping)) else None
    if names is None or not names:
        raise ConfigError(f"{where}: expected a non-empty list of dataset names (got {value!r})")
    reg = plugins()
    out = []
    for i, given in enumerate(names):
        if not isinstance(given, str):
            raise ConfigError(f"{where}[{i}]: expected a dataset name (got {given!r})")
        try:
            canonical = reg.datasets.resolve(given)
        except UnknownNameError as exc:
            raise UnknownNameError(f"{where}: {exc}") from None
        if canonical not in datasets:
            raise ConfigError(f"{where}: dataset {given!r} is not in the matrix "
                              f"(its datasets: {', '.join(datasets)})")
        out.append(canonical)
    return out


def _scoped(section: str, name: str, params: Params, datasets: Mapping[str, Any],
            resolve: Callable[[Params, str], Params], allow_by_dataset: bool,
            by_dataset_out: dict[tuple[str, str], dict[str, Params]],
            only_out: dict[tuple[str, str], tuple[str, ...]]) -> dict[str, Params]:
    """Resolve one entry per task level, splitting off ``only_datasets`` and ``by_dataset``."""
    where = f"{section}.{name}"
    params = dict(params)
    only = params.pop(ONLY_DATASETS_KEY, None)
    if only is not None:
        only_out[(section, name)] = tuple(_dataset_names(only, f"{where}.{ONLY_DATASETS_KEY}",
                                                         datasets))
    per_dataset = params.pop(BY_DATASET_KEY, None)
    if per_dataset is not None and not allow_by_dataset:
        raise ConfigError(f"{where}.{BY_DATASET_KEY}: explainers keep one parameter set per task "
                          f"level; use {BY_TASK_KEY} (got {per_dataset!r})")
    if per_dataset is not None:
        if not isinstance(per_dataset, Mapping):
            raise ConfigError(f"{where}.{BY_DATASET_KEY}: expected a mapping dataset -> parameters "
                              f"(got {per_dataset!r})")
        names = _dataset_names(per_dataset, f"{where}.{BY_DATASET_KEY}", datasets)
        task_overrides = _by_task(dict(params), where)
        base = {k: v for k, v in params.items() if k != BY_TASK_KEY}
        reg = plugins()
        resolved: dict[str, Params] = {}
        for given, canonical in zip(per_dataset, names):
            level = reg.datasets.entry(canonical).metadata["info"].task.value
            inner = f"{where}.{BY_DATASET_KEY}.{given}"
            resolved[canonical] = resolve({**base, **task_overrides.get(level, {}),
                                           **_string_keys(per_dataset[given], inner)}, inner)
        by_dataset_out[(section, name)] = resolved
    return _per_task(params, where, resolve)


def resolved_parameters(config: MatrixConfig) -> ResolvedParameters:
    """Validate every parameter set of ``config`` and fill in defaults."""
    reg = plugins()
    by_dataset: dict[tuple[str, str], dict[str, Params]] = {}
    only: dict[tuple[str, str], tuple[str, ...]] = {}
    datasets = {name: _function_defaults(reg.datasets.get(name), params, f"datasets.{name}",
                                         skip=("seed",), skip_first=False)
                for name, params in config.datasets.items()}
    models = {name: _scoped("models", name, params, datasets,
                            lambda p, where, f=reg.models.get(name):
                            _function_defaults(f, p, where, skip=(), skip_first=True),
                            True, by_dataset, only)
              for name, params in config.models.items()}
    trainings = {name: _scoped("trainings", name, params, datasets,
                               lambda p, where, f=reg.trainings.get(name):
                               _built_config(f, p, where, lambda mode: mode.config()),
                               True, by_dataset, only)
                 for name, params in config.trainings.items()}
    explainers, caps = {}, {}
    for name, params in config.explainers.items():
        params = dict(params)
        cap = params.pop(EXPLAINER_CAP_KEY, None)
        if cap is not None:
            caps[name] = _int(cap, f"explainers.{name}.{EXPLAINER_CAP_KEY}", minimum=1)
        explainers[name] = _scoped("explainers", name, params, datasets,
                                   lambda p, where, f=reg.explainers.get(name):
                                   _built_config(f, p, where, lambda e: e.hparams()),
                                   False, by_dataset, only)
    return ResolvedParameters(datasets, models, trainings, explainers, caps, by_dataset, only)


# --------------------------------------------------------------------------- expansion


def _incompatibility(dataset: str, model: str, explainer: str) -> str | None:
    """Why a combination cannot run, from registry metadata alone (None when it can)."""

    reg = plugins()
    dataset_meta = reg.datasets.entry(dataset).metadata["info"]
    model_meta = reg.models.entry(model).metadata["info"]
    task = dataset_meta.task
    if task not in model_meta.task_levels:
        return f"model {model} does not support {task.value}-level tasks (dataset {dataset})"
    reason = edge_type_incompatibility(model_meta, dataset, dataset_meta.edge_types,
                                       dataset_meta.needs_edge_types)
    if reason:
        return reason
    info = reg.explainers.entry(explainer).metadata.get("info")
    if info is not None and task not in info.task_levels:
        return f"explainer {explainer} does not explain {task.value}-level tasks (dataset {dataset})"
    return None


def expand(config: MatrixConfig) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    """All cells of ``config`` and the skipped ``(cell, reason)`` combinations.

    Order: dataset, seed, model, training, explainer, so consecutive cells share
    a dataset and a trained model.
    """
    resolved = resolved_parameters(config)
    cells: list[Cell] = []
    skipped: list[tuple[Cell, str]] = []
    reg = plugins()
    for dataset, dataset_params in resolved.datasets.items():
        task = reg.datasets.entry(dataset).metadata["info"].task.value
        floor = floor_for(dataset, config.accuracy_floor)
        for seed in config.seeds:
            for model in resolved.models:
                model_hparams = resolved.model(model, dataset, task)
                for training in resolved.trainings:
                    training_config = resolved.training(training, dataset, task)
                    for explainer, explainer_by_task in resolved.explainers.items():
                        explainer_hparams = explainer_by_task[task]
                        cell = Cell(
                            dataset=dataset, dataset_params=dict(dataset_params), model=model,
                            model_hparams=dict(model_hparams), training=training,
                            training_config=dict(training_config), explainer=explainer,
                            explainer_hparams=dict(explainer_hparams), seed=seed,
                            max_instances=min(config.max_instances,
                                              resolved.explainer_caps.get(explainer,
                                                                          config.max_instances)),
                            device=config.device, accuracy_floor=floor.value,
                            metric_options=dict(config.metrics),
                            floor_metric=floor.metric.value, instance_set=config.instances,
                            group_instances=config.max_instances,
                        )
                        reason = (resolved.excluded("models", model, dataset)
                                  or resolved.excluded("trainings", training, dataset)
                                  or resolved.excluded("explainers", explainer, dataset)
                                  or _incompatibility(dataset, model, explainer))
                        if reason:
                            skipped.append((cell, reason))
                        else:
                            cells.append(cell)
    return cells, skipped


# --------------------------------------------------------------------------- loading


def _presets() -> Any:
    return resources.files("suite").joinpath("presets")


def preset_names() -> list[str]:
    """Names of the bundled presets (``suite/presets/*.yaml``)."""
    root = _presets()
    if not root.is_dir():
        return []
    return sorted(p.name[: -len(".yaml")] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: malformed YAML{where}: {problem}") from None


def _looks_like_path(value: str | os.PathLike) -> bool:
    if not isinstance(value, str):
        return True
    return value.endswith((".yaml", ".yml")) or os.sep in value or "/" in value


def matrix_document(name_or_path: str | os.PathLike) -> tuple[str, str, Any]:
    """(name, source, parsed YAML) of a bundled preset by name or a YAML file by path,
    unvalidated. An unknown preset name lists the known presets and suggests the closest."""
    if _looks_like_path(name_or_path) or Path(name_or_path).is_file():
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"matrix file {str(path)!r} does not exist "
                                    f"(presets: {', '.join(preset_names())})")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
                              f"offset {exc.start}); save the matrix as UTF-8") from None
        return path.stem, str(path), _read_yaml(text, str(path))
    name, raw = preset_document(str(name_or_path))
    return name, f"preset:{name}", raw


def load_matrix(name_or_path: str | os.PathLike) -> MatrixConfig:
    """A bundled preset by name (``"smoke"``, ``"default"``) or a YAML file by path.

    An unknown preset name lists the known presets and suggests the closest.
    """
    name, source, raw = matrix_document(name_or_path)
    return parse_matrix(raw, source=source, default_name=name)


def _canonical_dataset(name: Any) -> Any:
    """A dataset name as its registry spells it (an unknown name as given: parsing the
    matrix reports it)."""
    try:
        return plugins().datasets.resolve(name)
    except UnknownNameError:
        return name


def entry_within(params: Mapping[str, Any], datasets: Iterable[str]) -> dict[str, Any] | None:
    """A model, training or explainer entry restricted to ``datasets``: its ``by_dataset``
    overrides and ``only_datasets`` list keep only those datasets (names compared as the
    registry spells them); None when ``only_datasets`` keeps none, so the entry runs nowhere."""
    kept = {_canonical_dataset(d) for d in datasets}
    out = dict(params)
    if isinstance(out.get(BY_DATASET_KEY), Mapping):
        overrides = {k: v for k, v in out[BY_DATASET_KEY].items() if _canonical_dataset(k) in kept}
        if overrides:
            out[BY_DATASET_KEY] = overrides
        else:
            del out[BY_DATASET_KEY]
    if isinstance(out.get(ONLY_DATASETS_KEY), list):
        only = [d for d in out[ONLY_DATASETS_KEY] if _canonical_dataset(d) in kept]
        if not only:
            return None
        out[ONLY_DATASETS_KEY] = only
    return out


#: The sections :func:`restrict_document` can cut, as ``suite run`` names them.
RESTRICTABLE = ("datasets", "models", "trainings", "explainers")


def restrict_document(raw: Mapping[str, Any], seeds: Sequence[int] | None = None,
                      **keep: Sequence[str] | None) -> dict[str, Any]:
    """A matrix document cut to the named entries of its sections (``keep``: section in
    :data:`RESTRICTABLE` -> names; None keeps the section whole) and, with ``seeds``, those
    seeds. ``by_dataset`` overrides and ``only_datasets`` lists follow the kept datasets;
    an entry left with no dataset to run on goes. A name the section does not hold raises
    ``ConfigError`` listing the names it does hold."""
    out = copy.deepcopy(dict(raw))
    for section, names in keep.items():
        if section not in RESTRICTABLE:
            raise ConfigError(f"{section}: cannot restrict; sections: {', '.join(RESTRICTABLE)}")
        if names is None:
            continue
        entries = out.get(section) or {}
        held = list(entries)
        missing = [n for n in names if n not in held]
        if missing:
            raise ConfigError(f"{section}: {missing[0]!r} is not in this matrix; it has "
                              f"{', '.join(map(str, held))}")
        out[section] = ({n: entries[n] for n in names} if isinstance(entries, Mapping)
                        else [n for n in held if n in names])
    datasets = out.get("datasets") or {}
    kept = list(datasets) if isinstance(datasets, (Mapping, list)) else []
    for section in ("models", "trainings", "explainers"):
        entries = out.get(section)
        if not isinstance(entries, Mapping):
            continue
        for name in list(entries):
            if not isinstance(entries[name], Mapping):
                continue
            restricted = entry_within(entries[name], kept)
            if restricted is None:
                del entries[name]
            else:
                entries[name] = restricted
    if seeds is not None:
        out["seeds"] = list(seeds)
    return out


def preset_document(name: str) -> tuple[str, Any]:
    """(canonical name, parsed YAML) of a bundled preset, unvalidated, for callers that
    derive a matrix from a preset (restrict its datasets, change its explainers)."""
    presets: Registry[str] = Registry("matrix preset")
    for preset in preset_names():
        presets.add(preset, preset)
    try:
        name = presets.resolve(name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{exc} (or give the path of a YAML file)") from None
    text = _presets().joinpath(f"{name}.yaml").read_text()
    return name, _read_yaml(text, f"preset {name}")
