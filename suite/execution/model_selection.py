"""Model selection on task accuracy alone: ``suite select-models SPEC``.

A spec names datasets, seeds and, per model *family*, candidate configurations
(a registered model name with hyper-parameters and a training config). Every
candidate is trained (or read from the model cache) on every seed; the family's
model on a dataset is the candidate with the highest mean of the spec's
``criterion`` over seeds (ties: the first listed). The criterion is a task metric
on data the test split never holds: the validation split, or (``heldout_graph_accuracy``,
node tasks) every labelled node of further graphs of the same generator built with
:data:`HELDOUT_GRAPH_SEEDS`; nothing an explainer produces is read, and any other
criterion is refused. Test accuracy is reported beside the choice, never used by it.

Spec (YAML)::

    name: default-models
    seeds: [0, 1, 2]
    criterion: val_accuracy              # or val_balanced_accuracy, heldout_graph_accuracy
    datasets: {ba-shapes: {}, ba-community: {noise_ratio: 0.03}}
    families:
      gcn:                               # a family: its candidates, in order
        - {model: gcn, hparams: {num_layers: 4, jk: last}, training: {lr: 0.01}}
        - {model: gcn-sum, hparams: {last_relu: false}, training: {lr: 0.001}}
      gin:
        - {model: gin, hparams: {hidden: 32}}

``training`` holds the ``standard`` training mode's config, with ``by_task`` and
``by_dataset`` as in a matrix.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
import yaml

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.datasets import load_dataset
from suite.matrix import ONLY_DATASETS_KEY, Cell, entry_within, expand, parse_matrix
from suite.protocol import ModelQuality, floor_for, model_quality
from suite.training import ModelCache, accuracy, train_or_load

#: Seeds of the further graphs ``heldout_graph_accuracy`` is measured on: no split, seed or
#: run of the suite uses them.
HELDOUT_GRAPH_SEEDS = (10_000, 10_001, 10_002)

#: Criteria a selection may use: task metrics on data the test split never holds.
CRITERIA: Mapping[str, Callable[["Trial"], float]] = {
    "val_accuracy": lambda t: t.quality.val_accuracy,
    "val_balanced_accuracy": lambda t: t.quality.val_balanced_accuracy,
    # node tasks: further graphs of the generator; graph tasks: the validation split
    "heldout_graph_accuracy": lambda t: (t.quality.val_accuracy if math.isnan(t.heldout_accuracy)
                                         else t.heldout_accuracy),
}

SPEC_FIELDS = ("name", "seeds", "criterion", "datasets", "families")
CANDIDATE_FIELDS = ("model", "hparams", "training")
#: Candidate ``hparams`` keys that say where it runs or vary by dataset, not what it is.
UNLABELLED_HPARAMS = ("by_dataset", "only_datasets")


def check_criterion(name: Any) -> str:
    """``name`` when it is a task criterion; anything else (an explanation score) is refused."""
    if name not in CRITERIA:
        raise ConfigError(f"criterion: models are chosen on task metrics only; expected one of "
                          f"{', '.join(CRITERIA)} (got {name!r})")
    return str(name)


@dataclass(frozen=True)
class Candidate:
    """One configuration of a family: a registered model, its hyper-parameters, its training."""

    family: str
    index: int
    model: str
    hparams: dict[str, Any]
    training: dict[str, Any]

    @property
    def label(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(self.hparams.items())
                          if k not in UNLABELLED_HPARAMS)
        return f"{self.model}({shown})" if shown else self.model


@dataclass(frozen=True)
class SelectionSpec:
    name: str
    seeds: tuple[int, ...]
    criterion: str
    datasets: dict[str, dict[str, Any]]
    candidates: tuple[Candidate, ...]


def parse_spec(raw: Any, source: str = "spec") -> SelectionSpec:
    """Validate a selection spec (parsed YAML); errors name the field."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping with the fields {', '.join(SPEC_FIELDS)}")
    unknown = [k for k in raw if k not in SPEC_FIELDS]
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown field; known fields: {', '.join(SPEC_FIELDS)}")
    criterion = check_criterion(raw.get("criterion", "val_accuracy"))
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds: expected a non-empty list of non-negative integers (got {seeds!r})")
    datasets = raw.get("datasets")
    if not isinstance(datasets, Mapping) or not datasets:
        raise ConfigError(f"datasets: expected a mapping name -> parameters (got {datasets!r})")
    families = raw.get("families")
    if not isinstance(families, Mapping) or not families:
        raise ConfigError(f"families: expected a mapping family -> candidates (got {families!r})")
    candidates = []
    for family, entries in families.items():
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"families.{family}: expected a non-empty list of candidates")
        for i, entry in enumerate(entries):
            where = f"families.{family}[{i}]"
            if not isinstance(entry, Mapping) or "model" not in entry:
                raise ConfigError(f"{where}: expected a mapping with a model (got {entry!r})")
            bad = [k for k in entry if k not in CANDIDATE_FIELDS]
            if bad:
                raise ConfigError(f"{where}.{bad[0]}: unknown field; known fields: "
                                  f"{', '.join(CANDIDATE_FIELDS)}")
            candidates.append(Candidate(str(family), i, str(entry["model"]),
                                        dict(entry.get("hparams") or {}),
                                        dict(entry.get("training") or {})))
    spec = SelectionSpec(str(raw.get("name", "models")), tuple(seeds), criterion,
                         {str(k): dict(v or {}) for k, v in datasets.items()}, tuple(candidates))
    for candidate in spec.candidates:  # validate every parameter set before any training
        _matrix(spec, candidate)
    return spec


def restrict_spec(spec: SelectionSpec, datasets: Sequence[str] | None = None,
                  families: Sequence[str] | None = None) -> SelectionSpec:
    """``spec`` cut to ``datasets`` and ``families`` (None keeps all), to rerun part of a
    selection; a name the spec does not hold raises ``ConfigError`` listing those it does."""
    held_families = list(dict.fromkeys(c.family for c in spec.candidates))
    for field_name, names, held in (("datasets", datasets, list(spec.datasets)),
                                    ("families", families, held_families)):
        missing = [n for n in names or () if n not in held]
        if missing:
            raise ConfigError(f"{field_name}: {missing[0]!r} is not in this spec; it has "
                              f"{', '.join(held)}")
    kept = {k: v for k, v in spec.datasets.items() if datasets is None or k in datasets}
    candidates = []
    for c in spec.candidates:
        if families is not None and c.family not in families:
            continue
        hparams, training = entry_within(c.hparams, kept), entry_within(c.training, kept)
        if hparams is not None and training is not None:  # None: restricted to other datasets
            candidates.append(replace(c, hparams=hparams, training=training))
    return replace(spec, datasets=kept, candidates=tuple(candidates))


def load_spec(path: str | Path) -> SelectionSpec:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"selection spec {str(path)!r} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML ({str(exc).splitlines()[0]})") from None
    return parse_spec(raw, str(path))


def _matrix(spec: SelectionSpec, candidate: Candidate) -> list[Cell]:
    config = parse_matrix({
        "name": spec.name, "seeds": list(spec.seeds), "max_instances": 1,
        "datasets": spec.datasets,
        "models": {candidate.model: candidate.hparams},
        "trainings": {"standard": candidate.training}, "explainers": {"random": {}},
    }, source=f"candidate {candidate.family}[{candidate.index}]")
    cells, _skipped = expand(config)
    return cells


@dataclass
class Trial:
    """One trained candidate on one dataset and seed."""

    candidate: Candidate
    dataset: str
    seed: int
    quality: ModelQuality
    train_accuracy: float
    best_epoch: int
    hparams: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    #: mean accuracy on the held-out graphs (node tasks under ``heldout_graph_accuracy``)
    heldout_accuracy: float = math.nan


def heldout_graphs(name: str, params: Mapping[str, Any], paths: Paths) -> list[BenchmarkDataset]:
    """The further graphs of a node-task dataset (:data:`HELDOUT_GRAPH_SEEDS`, same parameters)."""
    # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
    return [load_dataset(name, seed=seed, cache_dir=paths.dataset_cache, **params)  # nosec B615
            for seed in HELDOUT_GRAPH_SEEDS]


def heldout_accuracy(model: Any, graphs: list[BenchmarkDataset], device: str) -> float:
    """Mean over ``graphs`` of the accuracy on every labelled node (label >= 0)."""
    scores = []
    for graph in graphs:
        labelled = torch.nonzero(graph.y >= 0).view(-1)
        scores.append(accuracy(model, graph, labelled, device))
    return statistics.fmean(scores)


def run_selection(spec: SelectionSpec, paths: Paths, device: str = "cpu",
                  progress: Callable[[str], None] | None = None) -> list[Trial]:
    """Train (or load) every candidate on every dataset and seed; return the trials."""
    trials: list[Trial] = []
    cache = ModelCache.for_paths(paths)
    heldout: dict[str, list[BenchmarkDataset]] = {}
    for dataset_name in spec.datasets:
        for candidate in spec.candidates:
            for cell in (c for c in _matrix(spec, candidate) if c.dataset == dataset_name):
                # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
                dataset = load_dataset(cell.dataset, seed=cell.seed, cache_dir=paths.dataset_cache,  # nosec B615
                                       **cell.dataset_params)
                model, result, _cached = train_or_load(
                    cell.model, cell.model_hparams, cell.training, cell.training_config, dataset,
                    dataset_params=dataset.params or {"seed": cell.seed, **cell.dataset_params},
                    seed=cell.seed, device=device, cache=cache)
                quality = model_quality(model, dataset, device)
                trial = Trial(candidate, dataset_name, cell.seed, quality,
                              float(result.accuracy.get("train", math.nan)),
                              int(result.best_epoch), dict(cell.model_hparams),
                              dict(cell.training_config))
                if spec.criterion == "heldout_graph_accuracy" and dataset.task == TaskLevel.NODE:
                    if dataset_name not in heldout:
                        heldout[dataset_name] = heldout_graphs(dataset_name, cell.dataset_params,
                                                               paths)
                    trial.heldout_accuracy = heldout_accuracy(model, heldout[dataset_name], device)
                trials.append(trial)
                if progress:
                    progress(f"{dataset_name} {candidate.family} {candidate.label} seed "
                             f"{cell.seed}: val {quality.val_accuracy:.3f}")
    return trials


@dataclass(frozen=True)
class Choice:
    dataset: str
    family: str
    candidate: Candidate
    score: float  # the criterion's mean over seeds
    trials: tuple[Trial, ...]


def choose(spec: SelectionSpec, trials: list[Trial]) -> list[Choice]:
    """Per (dataset, family): the candidate with the highest mean criterion (first on ties)."""
    criterion = CRITERIA[spec.criterion]
    choices: list[Choice] = []
    for dataset in spec.datasets:
        for family in dict.fromkeys(c.family for c in spec.candidates):
            best: Choice | None = None
            for candidate in (c for c in spec.candidates if c.family == family):
                mine = tuple(t for t in trials if t.candidate == candidate and t.dataset == dataset)
                if not mine:
                    continue
                score = statistics.fmean(criterion(t) for t in mine)
                if best is None or score > best.score:
                    best = Choice(dataset, family, candidate, score, mine)
            if best is not None:
                choices.append(best)
    return choices


def _fmt(values: list[float]) -> str:
    return " / ".join("-" if math.isnan(v) else f"{v:.3f}" for v in values)


def report_markdown(spec: SelectionSpec, trials: list[Trial], choices: list[Choice]) -> str:
    """Every trial (train/val/test, floor) and the choices, as Markdown."""
    lines = [f"# Model selection: {spec.name}", "",
             f"Criterion: mean {spec.criterion} over seeds {', '.join(map(str, spec.seeds))} "
             "(ties: the first listed candidate). Test accuracy is shown, never used to choose.",
             "", "## Choices", "",
             "| dataset | family | chosen | mean criterion | test acc per seed | floor | meets floor |",
             "|---|---|---|---|---|---|---|"]
    for c in choices:
        floor = floor_for(c.dataset)
        below = [t.quality.below(floor) for t in c.trials]
        lines.append(f"| {c.dataset} | {c.family} | {c.candidate.label} | {c.score:.3f} | "
                     f"{_fmt([t.quality.test_accuracy for t in c.trials])} | "
                     f"{floor.value:.2f} {floor.metric.value} | "
                     f"{'yes' if not any(below) else 'no: ' + '; '.join(b for b in below if b)} |")
    lines += ["", "## Every trial", "",
              "| dataset | family | candidate | train | val | held-out graphs | test | balanced | "
              "gt recall | best epoch |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for dataset in spec.datasets:
        for candidate in spec.candidates:
            mine = [t for t in trials if t.candidate == candidate and t.dataset == dataset]
            if mine:
                lines.append(
                    f"| {dataset} | {candidate.family} | {candidate.label} | "
                    f"{_fmt([t.train_accuracy for t in mine])} | "
                    f"{_fmt([t.quality.val_accuracy for t in mine])} | "
                    f"{_fmt([t.heldout_accuracy for t in mine])} | "
                    f"{_fmt([t.quality.test_accuracy for t in mine])} | "
                    f"{_fmt([t.quality.balanced_accuracy for t in mine])} | "
                    f"{_fmt([t.quality.ground_truth_recall for t in mine])} | "
                    f"{' / '.join(str(t.best_epoch) for t in mine)} |")
    return "\n".join(lines) + "\n"


def preset_models(choices: list[Choice]) -> dict[str, Any]:
    """The chosen models as a matrix's ``models`` and ``trainings`` sections (YAML-ready):
    one entry per registered model, restricted with ``only_datasets`` to where it was chosen,
    its per-dataset hyper-parameters and training under ``by_dataset``."""
    models: dict[str, Any] = {}
    training: dict[str, Any] = {}
    for c in choices:
        entry = models.setdefault(c.candidate.model, {"only_datasets": [], "by_dataset": {}})
        entry["only_datasets"].append(c.dataset)
        entry["by_dataset"][c.dataset] = {k: v for k, v in c.candidate.hparams.items()
                                          if k != ONLY_DATASETS_KEY}
        training.setdefault(c.dataset, {})[c.candidate.model] = dict(c.candidate.training)
    return {"models": models, "trainings_by_dataset": training}


def write_outputs(spec: SelectionSpec, trials: list[Trial], choices: list[Choice],
                  out: Path) -> list[Path]:
    """``out``/selection.md (the report) and ``out``/models.yaml (the chosen entries)."""
    out.mkdir(parents=True, exist_ok=True)
    md, chosen = out / "selection.md", out / "models.yaml"
    md.write_text(report_markdown(spec, trials, choices), encoding="utf-8")
    chosen.write_text(yaml.safe_dump(preset_models(choices), sort_keys=True), encoding="utf-8")
    return [md, chosen]
