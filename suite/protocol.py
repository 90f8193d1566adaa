"""The evaluation protocol: which instances are explained, fitted on and used as a dev
set, which models are good enough to explain, and which rows may be ranked together.

One place holds these rules so the runner, the explainers and the board cannot drift
apart. Explainers receive the instances they fit on; they never choose them.

- **Floors**: a model is explained only as a model that learned its task. Listed
  datasets need a test accuracy (and a recall on the test instances that have ground
  truth) of at least their floor on every seed; any other dataset needs a balanced
  accuracy of at least ``DEFAULT_BALANCED_FLOOR`` and an accuracy above its
  majority class. Models below their floor are shown, never ranked.
- **Explained instances** (:class:`InstanceSet`): by default the test instances with
  ground truth that the model predicts correctly (a ground-truth explanation of a wrong
  prediction means nothing); without ground truth, the correctly predicted test
  instances. ``all`` keeps every such test instance.
- **One instance set per comparison**: every explainer of a (dataset, model, training,
  seed) group explains the first ``n`` of one seeded permutation of the candidates;
  an explainer capped below the group's ``n`` explains a prefix of it and is shown
  with its own ``n``, unranked.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from suite.core.config import ConfigError
from suite.core.records import InstanceRecords
from suite.core.seeding import generator
from suite.core.stats import (
    Interval,
    RankRange,
    is_bimodal,
    percentile_interval,
    rank_ranges,
    resample_counts,
    weighted_mean,
    weighted_pooled_auc,
)
from suite.core.types import BenchmarkDataset, TaskLevel
from suite.models.base import GraphModel
from suite.training.loop import eval_mode, task_data

#: The protocol every new score is recorded under. Version 1: the first wave's (each
#: explainer its own instance cap, all ground-truth test instances, one 0.8 floor).
PROTOCOL_VERSION = 2

#: Extra key mixed into the instance-subset seed (kept fixed: it defines which instances run).
_SUBSET_STREAM = 0x5E1EC7


class InstanceSet(str, enum.Enum):
    """Which test instances a cell explains (before the seeded cap)."""

    CORRECT = "correct"  # with ground truth (where the dataset has it) and predicted correctly
    ALL = "all"  # every test instance with ground truth (every test instance without it)

    @classmethod
    def parse(cls, value: "str | InstanceSet", field_name: str = "instances") -> "InstanceSet":
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(m.value for m in cls)
            raise ConfigError(f"{field_name}: expected one of {known} (got {value!r})") from None


class FloorMetric(str, enum.Enum):
    """What a floor is compared with."""

    ACCURACY = "accuracy"  # test accuracy, and recall on the test instances with ground truth
    BALANCED = "balanced_accuracy"  # test balanced accuracy, and accuracy above the majority


@dataclass(frozen=True)
class Floor:
    """A model quality floor: ``metric`` must reach ``value`` (in [0, 1]) on every seed."""

    value: float
    metric: FloorMetric = FloorMetric.ACCURACY


#: Floors of the listed datasets (test accuracy and ground-truth recall, every seed).
DEFAULT_FLOORS: Mapping[str, float] = {
    "ba-shapes": 0.95, "tree-cycles": 0.95, "ba-2motifs": 0.95, "benzene": 0.95,
    "ba-community": 0.90, "tree-grid": 0.90,
}
#: The balanced-accuracy floor of every other dataset (and above its majority class).
DEFAULT_BALANCED_FLOOR = 0.90


def check_floor_value(value: Any, field_name: str) -> float:
    """``value`` as a float in [0, 1]; anything else raises ``ConfigError`` naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{field_name}: expected a number in [0, 1] (got {value!r})")
    return float(value)


def floor_for(dataset: str, override: float | Mapping[str, float] | None = None) -> Floor:
    """The floor of ``dataset``: the matrix's override (one number for every dataset, or
    ``{dataset: number}``), else :data:`DEFAULT_FLOORS`, else the balanced floor."""
    if isinstance(override, Mapping) and dataset in override:
        return Floor(check_floor_value(override[dataset], f"accuracy_floor.{dataset}"))
    if override is not None and not isinstance(override, Mapping):
        return Floor(check_floor_value(override, "accuracy_floor"))
    if dataset in DEFAULT_FLOORS:
        return Floor(DEFAULT_FLOORS[dataset])
    return Floor(DEFAULT_BALANCED_FLOOR, FloorMetric.BALANCED)


# --------------------------------------------------------------------------- model quality


@dataclass(frozen=True)
class ModelQuality:
    """How well a trained model does its task (fractions in [0, 1]; NaN when undefined).

    Attributes:
        test_accuracy, val_accuracy: accuracy on the splits.
        balanced_accuracy, val_balanced_accuracy: mean per-class recall on the test and
            validation splits (classes present).
        majority: share of the test split's most frequent class.
        ground_truth_recall: accuracy on the test instances that have ground truth.
        ground_truth_instances: how many test instances have ground truth.
    """

    test_accuracy: float
    val_accuracy: float
    balanced_accuracy: float
    val_balanced_accuracy: float
    majority: float
    ground_truth_recall: float
    ground_truth_instances: int

    def below(self, floor: Floor) -> str:
        """Why the model is below ``floor`` (empty when it is not)."""
        if floor.metric == FloorMetric.BALANCED:
            if not self.balanced_accuracy >= floor.value:
                return f"balanced accuracy {self.balanced_accuracy:.3f} < {floor.value:.2f}"
            if not self.test_accuracy > self.majority:
                return (f"accuracy {self.test_accuracy:.3f} not above the majority class "
                        f"{self.majority:.3f}")
            return ""
        if not self.test_accuracy >= floor.value:
            return f"test accuracy {self.test_accuracy:.3f} < {floor.value:.2f}"
        if self.ground_truth_instances and not self.ground_truth_recall >= floor.value:
            return (f"accuracy on the {self.ground_truth_instances} ground-truth test instances "
                    f"{self.ground_truth_recall:.3f} < {floor.value:.2f}")
        return ""


def predictions(model: GraphModel, dataset: BenchmarkDataset, ids: Tensor,
                device: torch.device | str = "cpu") -> Tensor:
    """[len(ids)] long: the model's predicted class of each instance (full-graph forward)."""
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1)
    if ids.numel() == 0:
        return torch.empty(0, dtype=torch.long)
    with eval_mode(model):
        return task_data(dataset, device).logits(model, ids).argmax(-1).cpu()


def split_predictions(model: GraphModel, dataset: BenchmarkDataset,
                      device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """``{"val", "test"}`` -> the model's predictions on that split, in split order."""
    return {split: predictions(model, dataset, dataset.splits[split], device)
            for split in ("val", "test")}


def predictions_of(dataset: BenchmarkDataset, predicted_test: Tensor, ids: Tensor) -> Tensor:
    """The predictions [len(ids)] of test instances ``ids``, read from ``predicted_test``
    (the predictions on ``dataset.splits["test"]``, in split order)."""
    test = dataset.splits["test"]
    position = torch.full((int(test.max()) + 1 if test.numel() else 0,), -1, dtype=torch.long)
    position[test] = torch.arange(test.numel())
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1)
    where = position[ids] if ids.numel() else ids
    if (where < 0).any():
        raise ValueError("predictions_of: some ids are not in the test split")
    return predicted_test[where]


def _accuracy(predicted: Tensor, truth: Tensor) -> float:
    """Correct / total as a float64 ratio of integers (a float32 mean makes 38/40 fall
    below 0.95)."""
    return int((predicted == truth).sum()) / truth.numel() if truth.numel() else math.nan


def balanced_accuracy(predicted: Tensor, truth: Tensor) -> float:
    """Mean over the classes present in ``truth`` of the recall of that class."""
    if truth.numel() == 0:
        return math.nan
    recalls = [_accuracy(predicted[truth == c], truth[truth == c]) for c in truth.unique()]
    return sum(recalls) / len(recalls)


def quality_from(dataset: BenchmarkDataset, predicted: Mapping[str, Tensor]) -> ModelQuality:
    """The :class:`ModelQuality` of split predictions (:func:`split_predictions`)."""
    test, val = dataset.splits["test"], dataset.splits["val"]
    truth, truth_val = dataset.y[test], dataset.y[val]
    gt_ids = ground_truth_ids(dataset, "test")
    gt_position = (torch.isin(test, gt_ids) if gt_ids is not None
                   else torch.zeros_like(test, dtype=torch.bool))
    majority = float(truth.bincount().max()) / truth.numel() if truth.numel() else math.nan
    return ModelQuality(
        test_accuracy=_accuracy(predicted["test"], truth),
        val_accuracy=_accuracy(predicted["val"], truth_val),
        balanced_accuracy=balanced_accuracy(predicted["test"], truth),
        val_balanced_accuracy=balanced_accuracy(predicted["val"], truth_val),
        majority=majority,
        ground_truth_recall=_accuracy(predicted["test"][gt_position], truth[gt_position]),
        ground_truth_instances=int(gt_position.sum()),
    )


def model_quality(model: GraphModel, dataset: BenchmarkDataset,
                  device: torch.device | str = "cpu") -> ModelQuality:
    """The :class:`ModelQuality` of ``model`` on ``dataset`` (one forward per split)."""
    return quality_from(dataset, split_predictions(model, dataset, device))


# --------------------------------------------------------------------------- instances


def has_ground_truth(dataset: BenchmarkDataset) -> bool:
    return dataset.gt_edge_mask is not None or dataset.gt_node_mask is not None


def ground_truth_ids(dataset: BenchmarkDataset, split: str) -> Tensor | None:
    """The instances of ``split`` that have a ground-truth explanation (None: no ground truth)."""
    if not has_ground_truth(dataset):
        return None
    return torch.as_tensor(dataset.explain_ids[split], dtype=torch.long).view(-1)


def select_instances(ids: Tensor, cap: int, seed: int) -> Tensor:
    """``ids`` when at most ``cap``, else a fixed seeded random subset of ``cap`` of them (sorted).

    The subset is the first ``cap`` of one permutation drawn from ``seed``, so a
    smaller cap (a slow explainer) explains a subset of a larger cap's instances.
    """
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1)
    if ids.numel() <= cap:
        return ids
    perm = torch.randperm(ids.numel(), generator=generator(seed, _SUBSET_STREAM))
    return ids[perm[:cap]].sort().values


def explain_candidates(dataset: BenchmarkDataset, predicted: Tensor | None,
                       policy: InstanceSet | str = InstanceSet.CORRECT) -> Tensor:
    """The test instances a cell may explain under ``policy`` (sorted ids).

    ``predicted``: the model's predictions on ``dataset.explain_ids["test"]`` (needed
    by ``correct``; ignored by ``all``).
    """
    policy = InstanceSet.parse(policy)
    ids = torch.as_tensor(dataset.explain_ids["test"], dtype=torch.long).view(-1)
    if policy == InstanceSet.ALL:
        return ids
    if predicted is None or predicted.numel() != ids.numel():
        raise ValueError(f"instances={policy.value}: need the model's prediction on each of the "
                         f"{ids.numel()} candidate test instances")
    return ids[predicted.cpu() == dataset.y[ids]]


def fit_instances(dataset: BenchmarkDataset) -> Tensor:
    """Training instances for amortised explainers, chosen the way explained instances are.

    Node tasks: the train-split nodes that lie in a ground-truth motif (all train
    nodes when the dataset has no node ground truth). Graph tasks: every train graph.
    """
    train = dataset.splits["train"]
    if dataset.task == TaskLevel.NODE and dataset.gt_node_mask is not None:
        return train[dataset.gt_node_mask[train]]
    return train


#: Where an explainer's dev (model-selection) instances come from: ``explain``, the
#: validation instances chosen like the explained ones (else the validation split);
#: ``split``, the whole validation split. Never test instances.
DEV_SETS: tuple[str, ...] = ("explain", "split")


def dev_instances(dataset: BenchmarkDataset, dev_set: str = "explain") -> Tensor:
    """The dev instances [k] (long, CPU) an explainer may select its settings on (``DEV_SETS``)."""
    if dev_set not in DEV_SETS:
        raise ValueError(f"dev_set: expected one of {', '.join(DEV_SETS)} (got {dev_set!r})")
    if dev_set == "explain":
        ids = dataset.explain_ids.get("val")
        if ids is not None and ids.numel():
            return ids.long().cpu()
    return dataset.splits["val"].long().cpu()


# --------------------------------------------------------------------------- the ranking rule

#: Explainers that are not ranked while their edge scores equal another's on every seed
#: (gradient x input on edges: the edge mask is all ones, so it equals saliency there).
EDGE_DUPLICATES: Mapping[str, str] = {"grad-x-input": "saliency"}

#: The baseline every ranked explainer's lead is measured against.
BASELINE = "random"

#: ``explainer_source`` of faithful reference rows (e.g. leave-one-edge-out occlusion):
#: shown in their own section with their intervals, never ranked.
REFERENCE_SOURCE = "reference"


@dataclass
class GroupEntry:
    """One explainer of a (dataset, model, training) comparison group, over its seeds.

    Attributes:
        name: the explainer.
        protocol: the oldest protocol version among its cells.
        below_floor: why its model is below the floor on some seed (empty when it is not).
        records: seed -> per-instance records (None where the cell has none).
        group_n: seed -> the group's number of instances on that seed.
        degenerate: why its explanations are degenerate on some seed
            (``suite.metrics.degenerate``; empty when they are not).
        reference: a faithful reference row (:data:`REFERENCE_SOURCE`), never ranked.
    """

    name: str
    protocol: int
    below_floor: str
    records: dict[int, InstanceRecords | None]
    group_n: dict[int, int]
    degenerate: str = ""
    reference: bool = False


@dataclass
class Standing:
    """Where an explainer stands in its group.

    ``section``: ``ranked``, ``reference`` (a faithful reference row), ``unranked`` (shown
    with ``reason``) or ``below-floor``.
    ``interval``: the rank metric over seeds with its paired-bootstrap interval (NaN when
    it cannot be computed); ``seed_values``: the metric per seed; ``bimodal``: the seed
    values span more than ``BIMODAL_SPAN``; ``lead``: a ranked explainer's paired
    difference from :data:`BASELINE` (oriented so that positive is better), with its
    interval.
    """

    section: str
    reason: str = ""
    rank: RankRange | None = None
    interval: Interval = Interval(math.nan, math.nan, math.nan)
    seed_values: dict[int, float] | None = None
    bimodal: bool = False
    lead: Interval = Interval(math.nan, math.nan, math.nan)


def _statistic(records: InstanceRecords, metric: str, counts: np.ndarray) -> np.ndarray:
    if metric == "edge_auc":
        if records.edge_labels is None:
            return np.full(counts.shape[0], np.nan)
        return weighted_pooled_auc(records.edge_scores, records.edge_labels, records.edge_owner,
                                   counts)
    if metric not in records.values:
        return np.full(counts.shape[0], np.nan)
    return weighted_mean(records.values[metric], counts)


def _seed_summary(entry: GroupEntry, metric: str, counts: dict[int, np.ndarray]
                  ) -> tuple[np.ndarray, dict[int, float]]:
    """Replicates [R] of the mean over seeds, and the full-sample value per seed."""
    replicates, values = [], {}
    for seed, seed_counts in counts.items():
        records = entry.records[seed]
        values[seed] = float(_statistic(records, metric, np.ones((1, records.num_instances),
                                                                 dtype=np.int64))[0])
        replicates.append(_statistic(records, metric, seed_counts))
    return np.mean(replicates, axis=0), values


def _measure(entry: GroupEntry, metric: str, counts: dict[int, np.ndarray]
             ) -> tuple[float, np.ndarray, Standing]:
    """(estimate, replicates, a standing with the interval and seed values) under ``counts``."""
    replicates, values = _seed_summary(entry, metric, counts)
    estimate = float(np.mean(list(values.values())))
    return estimate, replicates, Standing("ranked", interval=percentile_interval(estimate, replicates),
                                          seed_values=values,
                                          bimodal=is_bimodal(list(values.values())))


def _own_counts(entry: GroupEntry) -> dict[int, np.ndarray]:
    return {seed: resample_counts(r.num_instances, seed=seed)
            for seed, r in sorted(entry.records.items()) if r is not None and r.num_instances}


def rank_group(entries: list[GroupEntry], metric: str,
               higher_is_better: bool = True) -> dict[str, Standing]:
    """The ranking rule of one comparison group.

    An explainer is ranked when its models meet their floors on every seed, its
    explanations are not degenerate on any seed (``GroupEntry.degenerate``), it was
    scored under :data:`PROTOCOL_VERSION` with per-instance records, on exactly the
    group's instances on every seed of the group, and it does not duplicate another
    ranked explainer (:data:`EDGE_DUPLICATES`). Ranked explainers get a rank range from
    the paired bootstrap (``suite.core.stats.rank_ranges``; one resample of the instances
    per seed, shared by all); the others are shown with the reason, their interval
    computed on their own instances.
    """
    out: dict[str, Standing] = {}
    seeds = sorted({s for e in entries for s in e.records})
    reference: dict[int, np.ndarray] = {}
    for entry in entries:
        for seed, records in entry.records.items():
            if records is not None and records.num_instances == entry.group_n.get(seed, -1):
                reference.setdefault(seed, records.instance_ids)
    eligible: list[GroupEntry] = []
    for entry in entries:
        reason = ""
        if entry.below_floor:
            out[entry.name] = Standing("below-floor", entry.below_floor)
            continue
        if entry.reference:
            out[entry.name] = Standing("reference", "faithful reference: shown, not ranked")
            continue
        if entry.degenerate:
            reason = f"degenerate: {entry.degenerate}"
        elif entry.protocol != PROTOCOL_VERSION:
            reason = f"scored under protocol {entry.protocol}; this board ranks protocol {PROTOCOL_VERSION}"
        elif any(entry.records.get(s) is None for s in seeds):
            missing = [s for s in seeds if entry.records.get(s) is None]
            reason = f"no per-instance records for seed(s) {', '.join(map(str, missing))}"
        else:
            for seed in seeds:
                records = entry.records[seed]
                if seed not in reference or not np.array_equal(records.instance_ids, reference[seed]):
                    reason = (f"explained {records.num_instances} of the group's "
                              f"{entry.group_n.get(seed, '?')} instances (seed {seed}): own n, "
                              "not ranked")
                    break
        if reason:
            out[entry.name] = Standing("unranked", reason)
        else:
            eligible.append(entry)
    by_name = {e.name: e for e in eligible}
    for duplicate, original in EDGE_DUPLICATES.items():
        if duplicate in by_name and original in by_name and all(
                by_name[duplicate].records[s].same_edges(by_name[original].records[s])
                for s in seeds):
            out[duplicate] = Standing("unranked", f"same edge scores as {original} on every "
                                                  "seed: ranked once, as " + original)
            eligible = [e for e in eligible if e.name != duplicate]
    counts = {seed: resample_counts(int(reference[seed].size), seed=seed) for seed in seeds
              if seed in reference}
    replicates: dict[str, np.ndarray] = {}
    estimates: dict[str, float] = {}
    for entry in eligible:
        estimates[entry.name], replicates[entry.name], out[entry.name] = _measure(entry, metric,
                                                                                  counts)
    sign = 1.0 if higher_is_better else -1.0
    if BASELINE in replicates and math.isfinite(estimates[BASELINE]):
        for name in estimates:
            out[name].lead = percentile_interval(
                sign * (estimates[name] - estimates[BASELINE]),
                sign * (replicates[name] - replicates[BASELINE]))
    defined = [n for n in estimates if math.isfinite(estimates[n])]
    for name, rank in rank_ranges({n: estimates[n] for n in defined},
                                  {n: replicates[n] for n in defined}, higher_is_better).items():
        out[name].rank = rank
    for name in set(estimates) - set(defined):
        out[name] = Standing("unranked", f"{metric} is undefined on these instances")
    for entry in entries:  # intervals of the unranked rows, on their own instances
        standing = out[entry.name]
        if standing.section != "ranked" and all(r is not None for r in entry.records.values()) \
                and entry.records:
            _, _, measured = _measure(entry, metric, _own_counts(entry))
            standing.interval, standing.seed_values, standing.bimodal = (
                measured.interval, measured.seed_values, measured.bimodal)
    return out
