"""Which model form lets an explainer recover the motifs: model variants x explainer
settings, scored on one split's explain instances (validation to choose, test to confirm).

``python -m suite_studies.gnnexplainer.model_study --spec studies/suite_studies/gnnexplainer/grids/gnnexplainer-models.yaml --split val``
trains (or loads from the shared :class:`~suite.training.ModelCache`, so runs and
tuning share models) every ``variant`` of the spec on every dataset and seed, runs
every ``method`` on the split's explain instances (at most ``max_instances``, the
runner's seeded subset), and writes one Markdown row per (dataset, variant, method):
pooled edge ROC-AUC per seed (the headline convention, ``suite.metrics.auc``), its
mean +- std, the model's accuracy, how many explained targets the model classifies
correctly, and the AUC pooled over those targets only. ``--split test`` confirms a
choice already made on validation; nothing here picks a setting from test numbers.

Spec (YAML)::

    datasets: [ba-shapes, tree-cycles]
    seeds: [0, 1, 2]
    max_instances: 50
    variants:        # label -> model, its hyper-parameters, the standard training's config
      paper: {model: gcn-sum, hparams: {last_relu: false}, training: {lr: 0.001}}
      # optional: the spec's datasets this variant runs on (default: all of them)
      base: {model: gcn, datasets: [tree-cycles]}
    methods:         # label -> explainer and its hyper-parameters (over its defaults)
      gnnexplainer: {explainer: gnnexplainer}
    only:            # optional: method label -> variant labels it runs on (default: all)
      graphmask: [paper]
"""

from __future__ import annotations

import argparse
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
import yaml

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.datasets import load_dataset
from suite.datasets.synthetic import motif_anchors
from suite.execution.tuning import fit_and_explain
from suite.explainers.base import build_explainer
from suite.metrics.auc import attribution_scores, roc_auc
from suite.protocol import select_instances
from suite.training import ModelCache, train_or_load

__all__ = ["Method", "StudyRow", "StudySpec", "Variant", "load_spec", "markdown", "run_study",
           "score_cell"]


@dataclass(frozen=True)
class Variant:
    """A model form: registered ``model``, its ``hparams``, the ``standard`` training's
    config, and the ``datasets`` it runs on (empty: every dataset of the spec)."""

    label: str
    model: str
    hparams: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()

    def runs_on(self, dataset: str) -> bool:
        return not self.datasets or dataset in self.datasets


@dataclass(frozen=True)
class Method:
    """A registered ``explainer`` with ``params`` over its defaults."""

    label: str
    explainer: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudySpec:
    datasets: tuple[str, ...]
    seeds: tuple[int, ...]
    variants: tuple[Variant, ...]
    methods: tuple[Method, ...]
    max_instances: int = 50
    only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def pairs(self) -> list[tuple[Variant, Method]]:
        """(variant, method) pairs to run, in spec order."""
        return [(v, m) for v in self.variants for m in self.methods
                if m.label not in self.only or v.label in self.only[m.label]]


@dataclass
class StudyRow:
    """One (dataset, variant, method, seed) cell on one split.

    Attributes:
        accuracy: the trained model's ``{"train", "val", "test"}`` accuracy.
        n: explained targets; n_correct: of them, classified correctly by the model.
        auc: pooled edge ROC-AUC over all targets' explainable edges; auc_correct: the
            same over the correctly classified targets only (NaN when none).
        edges, positives: pooled directed edges and ground-truth edges among them.
        seconds: fit + explain wall time (s).
    """

    dataset: str
    variant: str
    method: str
    seed: int
    split: str
    accuracy: dict[str, float]
    n: int
    n_correct: int
    auc: float
    auc_correct: float
    edges: int
    positives: int
    seconds: float


#: ``--split`` values: the explain instances of a split, or every motif's anchor node.
SPLITS = ("val", "test", "anchors")


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping (got {value!r})")
    return value


def load_spec(path: str | Path) -> StudySpec:
    """Parse a study spec (module docstring); bad fields raise ``ConfigError`` naming them."""
    raw = _mapping(yaml.safe_load(Path(path).read_text()), str(path))
    for key in ("datasets", "seeds", "variants", "methods"):
        if not raw.get(key):
            raise ConfigError(f"{path}: {key}: required and non-empty")
    variants = tuple(Variant(label, **{k: tuple(v) if k == "datasets" else v
                                       for k, v in _mapping(body, f"variants.{label}").items()
                                       if k in ("model", "hparams", "training", "datasets")})
                     for label, body in _mapping(raw["variants"], "variants").items())
    for variant in variants:
        unknown = sorted(set(variant.datasets) - set(raw["datasets"]))
        if unknown:
            raise ConfigError(f"variants.{variant.label}.datasets: {unknown[0]!r} is not one of "
                              f"the spec's datasets ({', '.join(raw['datasets'])})")
    methods = tuple(Method(label, **{k: v for k, v in _mapping(body, f"methods.{label}").items()
                                     if k in ("explainer", "params")})
                    for label, body in _mapping(raw["methods"], "methods").items())
    only = {m: tuple(vs) for m, vs in _mapping(raw.get("only"), "only").items()}
    labels = {v.label for v in variants}
    for m, vs in only.items():
        if m not in {x.label for x in methods}:
            raise ConfigError(f"only: unknown method {m!r}")
        for v in vs:
            if v not in labels:
                raise ConfigError(f"only.{m}: unknown variant {v!r} (known: {', '.join(labels)})")
    return StudySpec(datasets=tuple(raw["datasets"]), seeds=tuple(int(s) for s in raw["seeds"]),
                     variants=variants, methods=methods,
                     max_instances=int(raw.get("max_instances", 50)), only=only)


def score_cell(model: torch.nn.Module, dataset: Any, method: Method, seed: int, split: str,
               max_instances: int) -> tuple[int, int, float, float, int, int, float]:
    """Explain ``dataset.explain_ids[split]`` (``split`` "anchors": every motif's anchor
    node, :func:`suite.datasets.synthetic.motif_anchors`), the runner's seeded subset of
    at most ``max_instances``, with ``method``; returns ``(n, n_correct, auc, auc_correct,
    edges, positives, seconds)`` (see :class:`StudyRow`)."""

    if dataset.gt_edge_mask is None:
        raise ValueError(f"dataset {dataset.name} has no ground-truth edge mask")
    pool = motif_anchors(dataset) if split == "anchors" else dataset.explain_ids[split]
    ids = select_instances(pool, max_instances, seed)
    with torch.no_grad():
        pred = model(dataset.data.x, dataset.data.edge_index).argmax(-1)
    correct = (pred[ids] == dataset.y[ids]).cpu()
    explainer = build_explainer(method.explainer, **dict(method.params))
    explanation, seconds = fit_and_explain(explainer, model, dataset, ids, seed)
    scores = attribution_scores(explanation).cpu()
    labels = dataset.gt_edge_mask.cpu()[explanation.edge_ids.cpu()]
    owner = torch.repeat_interleave(torch.arange(explanation.num_instances),
                                    explanation.edge_ptr.diff().cpu())
    keep = correct[owner]
    auc_correct = roc_auc(scores[keep], labels[keep]) if bool(keep.any()) else math.nan
    return (int(ids.numel()), int(correct.sum()), roc_auc(scores, labels), auc_correct,
            int(labels.numel()), int(labels.sum()), seconds)


def run_study(spec: StudySpec, split: str = "val", paths: Paths | None = None,
              progress: Callable[[str], None] | None = None) -> list[StudyRow]:
    """Every (dataset, seed, variant, method) cell of ``spec`` on ``split``."""

    if split not in SPLITS:
        raise ConfigError(f"split: expected one of {', '.join(SPLITS)} (got {split!r})")
    paths = paths or Paths.from_env()
    cache = ModelCache(paths.model_cache)
    rows: list[StudyRow] = []
    for name in spec.datasets:
        for seed in spec.seeds:
            dataset = load_dataset(name, seed=seed, cache_dir=paths.dataset_cache)
            for variant in spec.variants:
                pairs = [m for v, m in spec.pairs() if v is variant]
                if not pairs or not variant.runs_on(name):
                    continue
                model, result, _ = train_or_load(variant.model, dict(variant.hparams), "standard",
                                                 dict(variant.training), dataset, seed=seed,
                                                 cache=cache)
                model.eval()
                for method in pairs:
                    row = StudyRow(name, variant.label, method.label, seed, split,
                                   dict(result.accuracy),
                                   *score_cell(model, dataset, method, seed, split,
                                               spec.max_instances))
                    rows.append(row)
                    if progress is not None:
                        progress(f"{name}/{variant.label}/{method.label}/seed{seed}: "
                                 f"{split} AUC {row.auc:.3f} (correct {row.n_correct}/{row.n}: "
                                 f"{row.auc_correct:.3f}) acc test {row.accuracy['test']:.3f}")
    return rows


def _mean_std(values: Sequence[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "-"
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return f"{statistics.fmean(finite):.3f} +- {std:.3f}"


def markdown(rows: Sequence[StudyRow], spec: StudySpec, title: str = "") -> str:
    """One table row per (dataset, variant, method), seeds side by side (spec order)."""
    split = rows[0].split if rows else "val"
    seeds = list(spec.seeds)
    head = ["dataset", "model", "method", *(f"AUC s{s}" for s in seeds), "AUC mean +- std",
            "AUC correct-only", "correct / n", "model acc val", "model acc test", "edges (GT)"]
    lines = [f"## {title or f'{split} instances'}", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups: dict[tuple[str, str, str], list[StudyRow]] = {}
    for row in rows:
        groups.setdefault((row.dataset, row.variant, row.method), []).append(row)
    for (ds, variant, method), group in groups.items():
        by_seed = {r.seed: r for r in group}
        cells = [ds, variant, method,
                 *(f"{by_seed[s].auc:.3f}" if s in by_seed else "-" for s in seeds),
                 _mean_std([r.auc for r in group]), _mean_std([r.auc_correct for r in group]),
                 " / ".join(f"{r.n_correct}/{r.n}" for r in group),
                 " / ".join(f"{r.accuracy['val']:.3f}" for r in group),
                 " / ".join(f"{r.accuracy['test']:.3f}" for r in group),
                 f"{group[0].edges} ({group[0].positives})"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def describe(spec: StudySpec) -> str:
    """The variants and methods as Markdown bullet lists."""
    out = ["Model variants (standard training):"]
    out += [f"- `{v.label}`: {v.model} {dict(v.hparams)}, training {dict(v.training)}"
            for v in spec.variants]
    out += ["", "Methods (over the explainer's defaults):"]
    out += [f"- `{m.label}`: {m.explainer} {dict(m.params)}" for m in spec.methods]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite_studies.gnnexplainer.model_study", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", required=True, help="study spec YAML (module docstring)")
    parser.add_argument("--split", choices=SPLITS, default="val",
                        help="explain instances to score (choose on val; test only confirms; "
                             "anchors: the attachment node of every motif, all splits, the "
                             "instances of the GNNExplainer / PGExplainer reference code)")
    parser.add_argument("--out", help="also write the Markdown table to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = load_spec(args.spec)
    rows = run_study(spec, args.split, progress=print)
    text = markdown(rows, spec)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
