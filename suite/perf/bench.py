"""Side by side with PyG: explanations/s, ratios, AUC and the overhead ratio, in one run.

For each task (:data:`TASKS`) one model is trained (or loaded from the model cache) and
every pair of :data:`PAIRS` explains the same instances with it: ours (batched, or
amortised) and PyG's ``torch_geometric.explain`` implementation (one instance at a time
on the full graph, its own model copy per instance, through ``suite.explainers.pyg_adapter``),
with the same epochs (100) and learning rate (0.01) where the method has them. Both are
scored by the same metric code (pooled edge ROC-AUC over the explained edges, absolute
values for signed methods: ``suite.metrics.roc_auc`` of ``attribution_scores``).

Timing (:func:`bench_clock`): on CPU the process's CPU time of ``explain`` (and of ``fit``
for amortised methods), so other jobs on a shared machine do not inflate one side of a
ratio more than the other; on CUDA wall time, synchronised. One torch thread unless told
otherwise, each measured once. Slow PyG baselines run on a fixed
seeded subset (``pyg_cap``); rates are per instance, so ratios stay comparable.

**Overhead ratio** (optimisation-based explainers): the fastest of ``repeats`` explain runs /
floor (the rate and the ratios use the first run; PyG's explainers run once), where the floor
is ``steps`` x one forward+backward of the model over the batch the explainer builds
(same view builder, same masked forward), timed right before each explain run over the
same number of steps (the fastest of ``repeats`` windows, like the explain time). For amortised explainers the floor is one model forward over the
batch (the explainer network's own forward is not in it). The floor always runs the whole
model, but an explainer may skip work the floor does: ``graphmask-instance`` reuses the
outputs of the frozen model's ungated lower layers (``suite.graph.layer_cache``), so its ratio can
fall below 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from suite.core.paths import Paths
from suite.core.registry import Registry
from suite.core.types import BenchmarkDataset, Explanation, TaskLevel
from suite.datasets import load_dataset
from suite.explainers import build_explainer
from suite.explainers.toolkit import (
    forward,
    frozen,
    instance_views,
    model_num_hops,
    predict,
    target_log_prob,
)
from suite.graph.masking import message_layers
from suite.metrics import attribution_scores, roc_auc
from suite.protocol import fit_instances, select_instances
from suite.training import ModelCache, train_or_load


@dataclass(frozen=True)
class BenchTask:
    """One dataset and model of the side by side.

    Attributes:
        dataset, dataset_params: registered dataset and its parameters (seed 0).
        model, model_hparams: registered model and its hyper-parameters.
        training: config of the ``standard`` training mode.
        n_instances: explained instances (test split; node tasks add the val split's
            motif nodes when the test split has fewer), a fixed seeded subset.
    """

    dataset: str
    dataset_params: dict[str, Any]
    model: str
    model_hparams: dict[str, Any]
    training: dict[str, Any]
    n_instances: int


_NODE_GCN = {"hidden": 20, "num_layers": 3, "jk": "last"}
_NODE_TRAINING = {"lr": 0.01, "epochs": 1000, "patience": 0}

#: The reference setups (REFERENCES.md): BA-Shapes with a 3-layer GCN (hidden 20, lr 0.01,
#: 1000 epochs) and 80 motif nodes; BA-2Motifs with a 3-layer GIN and 100 test graphs. The
#: default matrix's other synthetic datasets use the BA-Shapes setup (for the overhead
#: table, ``suite bench --overhead``; the side by side with PyG runs SIDE_BY_SIDE_TASKS).
TASKS: dict[str, BenchTask] = {
    "ba-shapes": BenchTask("ba-shapes", {}, "gcn", _NODE_GCN, _NODE_TRAINING, 80),
    "ba-2motifs": BenchTask("ba-2motifs", {}, "gin", {"hidden": 32, "num_layers": 3},
                            {"lr": 0.001, "epochs": 300, "patience": 100}, 100),
    "ba-community": BenchTask("ba-community", {}, "gcn", _NODE_GCN, _NODE_TRAINING, 80),
    "tree-cycles": BenchTask("tree-cycles", {}, "gcn", _NODE_GCN, _NODE_TRAINING, 80),
    "tree-grid": BenchTask("tree-grid", {}, "gcn", _NODE_GCN, _NODE_TRAINING, 80),
}
#: The tasks of the side by side with PyG (``suite bench`` without ``--overhead``).
SIDE_BY_SIDE_TASKS: tuple[str, ...] = ("ba-shapes", "ba-2motifs")

#: ``--quick``: tiny data and short runs (a smoke test of the whole path, seconds).
QUICK_TASKS: dict[str, BenchTask] = {
    "ba-shapes": replace(TASKS["ba-shapes"], dataset_params={"num_base": 60, "num_motifs": 12},
                         training={"lr": 0.01, "epochs": 50, "patience": 0}, n_instances=6),
    "ba-2motifs": replace(TASKS["ba-2motifs"], dataset_params={"num_graphs": 40},
                          training={"lr": 0.001, "epochs": 20, "patience": 0}, n_instances=6),
}


@dataclass(frozen=True)
class Pair:
    """Our explainer and PyG's implementation of the same method.

    Attributes:
        ours, theirs: registered explainer names.
        hparams: ours' hyper-parameters (shared settings: epochs, lr, steps).
        pyg_hparams: PyG's.
        steps: what counts the forward+backward passes (the floor's step count): the
            name of a config field, an int (a fixed count), a function of (our explainer's
            config, model) -> int, or "" for amortised methods.
        pyg_cap: at most this many instances for PyG's (slow) implementation.
        quick: hyper-parameter overrides for ``--quick``.
    """

    ours: str
    theirs: str
    hparams: dict[str, Any] = field(default_factory=dict)
    pyg_hparams: dict[str, Any] = field(default_factory=dict)
    steps: str | int | Callable[[Any, nn.Module], int] = ""
    pyg_cap: int = 1000
    quick: dict[str, Any] = field(default_factory=dict)


PAIRS: Registry[Pair] = Registry("bench pair")
PAIRS.add("gnnexplainer", Pair("gnnexplainer", "pyg-gnnexplainer", {"epochs": 100, "lr": 0.01},
                               {"epochs": 100, "lr": 0.01}, steps="epochs",
                               quick={"epochs": 5}))
PAIRS.add("pgexplainer", Pair("pgexplainer", "pyg-pgexplainer", {"epochs": 30},
                              {"epochs": 30, "lr": 0.003, "fit_instances": 100},
                              quick={"epochs": 1}))
PAIRS.add("integrated-gradients", Pair("integrated-gradients", "pyg-integrated-gradients",
                                       {"steps": 50, "node_scores": False}, {"steps": 50},
                                       steps="steps", quick={"steps": 5}))
PAIRS.add("saliency", Pair("saliency", "pyg-saliency", steps=1))
PAIRS.add("graphmask", Pair("graphmask", "pyg-graphmask", {}, {"epochs": 100, "lr": 0.01},
                            pyg_cap=5, quick={"epochs_per_layer": 2}))


def layers_times_epochs(config: Any, model: nn.Module) -> int:
    """GraphMask's step count: one step per epoch, ``epochs_per_layer`` per gated layer."""
    return len(message_layers(model)) * int(config.epochs_per_layer)


# the same PyG run as "graphmask" (same hyper-parameters and instances: measured once)
PAIRS.add("graphmask-instance", Pair("graphmask-instance", "pyg-graphmask", {},
                                     {"epochs": 100, "lr": 0.01}, steps=layers_times_epochs,
                                     pyg_cap=5, quick={"epochs_per_layer": 2}))


@dataclass
class Measured:
    """One explainer's run on one task."""

    name: str
    n: int
    explain_seconds: float
    fit_seconds: float
    auc: float
    skipped: str = ""
    #: the fastest of the repeated ``explain`` runs (the overhead's numerator); the rate
    #: and the ratios use the first run, ``explain_seconds``
    best_seconds: float = math.nan

    @property
    def rate(self) -> float:
        return self.n / self.explain_seconds if self.explain_seconds > 0 else math.nan

    @property
    def rate_with_fit(self) -> float:
        total = self.explain_seconds + self.fit_seconds
        return self.n / total if total > 0 else math.nan


@dataclass
class Row:
    """One line of the table: a pair on a task."""

    task: str
    model: str
    pair: str
    ours: Measured
    theirs: Measured
    amortised: bool
    floor_seconds: float = math.nan
    steps: int = 0

    @property
    def ratio(self) -> float:
        return self.ours.rate / self.theirs.rate if self.theirs.rate > 0 else math.nan

    @property
    def ratio_with_fit(self) -> float:
        """Both rates with their fit time added (PyG's per-instance methods fit nothing)."""
        theirs = self.theirs.rate_with_fit
        return self.ours.rate_with_fit / theirs if theirs > 0 else math.nan

    @property
    def overhead(self) -> float:
        """Fastest explain run / floor (both minima over repeats, so load spikes cancel)."""
        best = self.ours.best_seconds if math.isfinite(self.ours.best_seconds) \
            else self.ours.explain_seconds
        return best / self.floor_seconds if self.floor_seconds > 0 else math.nan


@dataclass
class BenchReport:
    rows: list[Row]
    accuracy: dict[str, float]
    threads: int
    device: str
    quick: bool
    repeats: int = 1

    def overhead_markdown(self) -> str:
        """Overhead ratio table, explainer x task (optimisation-based and gradient methods;
        amortised ones are listed with their explain step against one forward)."""
        tasks = list(dict.fromkeys(r.task for r in self.rows))
        pairs = list(dict.fromkeys(r.pair for r in self.rows))
        cell = {(r.pair, r.task): r for r in self.rows}
        lines = [
            f"Overhead ratio = fastest of {self.repeats} explain run(s) / floor (floor = steps x "
            "the fastest forward+backward of the model over the batch the explainer builds; "
            "amortised: one forward; an explainer may skip frozen layers the floor runs, e.g. "
            "graphmask-instance's ungated lower layers, so a ratio can fall below 1); "
            f"device `{self.device}`, {self.threads} torch thread(s); {_clock_words(self.device)}"
            + (", --quick (not a measurement)" if self.quick else "") + ".",
            "",
            "| explainer | steps | " + " | ".join(tasks) + " |",
            "|---|---|" + "---|" * len(tasks),
        ]
        for pair in pairs:
            rows = [cell.get((pair, task)) for task in tasks]
            steps = next((str(r.steps) for r in rows if r is not None and r.steps), "amortised")
            values = ["-" if r is None or not math.isfinite(r.overhead) else f"{r.overhead:.2f}"
                      for r in rows]
            lines.append(f"| {pair} | {steps} | " + " | ".join(values) + " |")
        return "\n".join(lines) + "\n"

    def markdown(self) -> str:
        lines = [
            "# Side by side with PyG",
            "",
            f"Device `{self.device}`, {self.threads} torch thread(s); {_clock_words(self.device)}"
            + (", **--quick (tiny data, not a measurement)**" if self.quick else "") + ". "
            "Same model, instances, epochs (100) and lr (0.01); AUC = pooled edge ROC-AUC "
            "(|score| for signed methods) by the same code. Rates are explained instances per "
            "second of `explain` (amortised: also with the fit time added, `incl. fit`); "
            "overhead = explain time / floor (floor = steps x one forward+backward of the "
            "model over the batch the explainer builds; amortised: one forward); ours' rate is "
            "its first explain run, its overhead the fastest of "
            f"{self.repeats} run(s); PyG's explainers run once.",
            "",
            "| task | model (test acc) | method | n ours | ours /s | ours incl. fit /s | n PyG | "
            "PyG /s | ratio | ratio incl. fit | AUC ours | AUC PyG | floor (s) | overhead |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]

        def num(value: float, fmt: str) -> str:
            return "-" if value is None or not math.isfinite(value) else format(value, fmt)

        for r in self.rows:
            acc = self.accuracy.get(r.task, math.nan)
            theirs = r.theirs
            pyg = "refused: " + theirs.skipped if theirs.skipped else None
            lines.append("| " + " | ".join([
                r.task, f"{r.model} ({num(acc, '.3f')})", r.pair, str(r.ours.n),
                num(r.ours.rate, ".1f"),
                num(r.ours.rate_with_fit, ".1f") if r.amortised else "-",
                str(theirs.n) if not pyg else "-",
                pyg or (num(theirs.rate, ".2f") + (f" ({num(theirs.rate_with_fit, '.2f')} incl. fit)"
                                                   if theirs.fit_seconds > 1e-3 else "")),
                (num(r.ratio, ".1f") + "x") if not pyg else "-",
                (num(r.ratio_with_fit, ".1f") + "x") if r.amortised and not pyg else "-",
                num(r.ours.auc, ".3f"), "-" if pyg else num(theirs.auc, ".3f"),
                num(r.floor_seconds, ".3f"), num(r.overhead, ".2f"),
            ]) + " |")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- measuring


def edge_auc(explanation: Explanation, dataset: BenchmarkDataset) -> float:
    """Pooled edge ROC-AUC of ``explanation`` against the dataset's ground truth."""
    assert dataset.gt_edge_mask is not None
    labels = dataset.gt_edge_mask[explanation.edge_ids]
    return roc_auc(attribution_scores(explanation), labels)


def bench_instances(dataset: BenchmarkDataset, n: int, seed: int = 0) -> Tensor:
    """``n`` instances: the test split's explain ids, topped up from val (node tasks)."""
    ids = dataset.explain_ids["test"]
    if ids.numel() < n and dataset.task == TaskLevel.NODE:
        ids = torch.cat([ids, dataset.explain_ids["val"]]).unique()
    return select_instances(ids, n, seed)


def run_explainer(name: str, hparams: dict[str, Any], model: nn.Module,
                  dataset: BenchmarkDataset, ids: Tensor, seed: int = 0,
                  repeats: int = 1, before_each: Callable[[], None] = lambda: None) -> Measured:
    """Fit (amortised) and explain ``ids`` (``repeats`` times: ``best_seconds`` is the fastest;
    the AUC and ``explain_seconds`` are the first run's; ``before_each()`` runs, untimed,
    before every explain run), timed; refused cells come back with the reason."""
    explainer = build_explainer(name, **hparams)
    reason = explainer.supports(model, dataset)
    if reason:
        return Measured(name, 0, math.nan, math.nan, math.nan, skipped=reason)
    device = _model_device(model)
    clock = bench_clock(device)
    start = clock()
    explainer.fit(model, dataset, fit_instances(dataset), seed)
    _sync(device)
    fit_seconds = clock() - start
    times = []
    for run in range(max(1, repeats)):
        before_each()
        start = clock()
        result = explainer.explain(model, dataset, ids, seed)
        _sync(device)
        times.append(clock() - start)
        if run == 0:
            explanation = result
    return Measured(name, int(ids.numel()), times[0], fit_seconds, edge_auc(explanation, dataset),
                    best_seconds=min(times))


def step_seconds(model: nn.Module, dataset: BenchmarkDataset, ids: Tensor, backward: bool = True,
                 steps: int = 5, repeats: int = 3) -> float:
    """Seconds of one (masked) forward (+ backward w.r.t. the mask) of ``model`` over the
    batch an explainer builds for ``ids``: best of ``repeats`` runs of ``steps`` steps."""
    device = _model_device(model)
    clock = bench_clock(device)
    hops = model_num_hops(model)
    best = math.inf
    with frozen(model):
        views = [v.to(device) for v in instance_views(dataset, ids, hops, batched=True,
                                                      device=device)]
        targets = [predict(model, view) for view in views]
        masks = [torch.full((view.num_explainable,), 0.5, device=device, requires_grad=backward)
                 for view in views]

        def one() -> None:
            for view, target, mask in zip(views, targets, masks):
                if backward:
                    out = target_log_prob(forward(model, view, mask), target).sum()
                    torch.autograd.grad(out, mask)
                else:
                    with torch.no_grad():
                        forward(model, view, mask)

        one()  # warm-up
        for _ in range(repeats):
            _sync(device)
            start = clock()
            for _ in range(steps):
                one()
            _sync(device)
            best = min(best, (clock() - start) / steps)
    return best


def bench_clock(device: torch.device) -> Callable[[], float]:
    """The clock the bench times with on ``device`` (seconds).

    CPU: the process's CPU time (``time.process_time``): with one torch thread it counts
    the work of the timed code and not the time other jobs on a shared machine take the
    core away. CUDA: wall time (``time.perf_counter``; callers synchronise the device).
    """
    return time.perf_counter if device.type == "cuda" else time.process_time


def _clock_words(device_name: str) -> str:
    return ("wall time, synchronised" if device_name.startswith("cuda")
            else "times are the process's CPU time")


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def trained(task: BenchTask, paths: Paths, device: str) -> tuple[BenchmarkDataset, nn.Module, float]:
    """(dataset, trained model in eval mode, test accuracy) of a task (model cache under ``paths``)."""
    # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
    dataset = load_dataset(task.dataset, seed=0, cache_dir=paths.dataset_cache,  # nosec B615
                           **task.dataset_params)
    model, result, _ = train_or_load(task.model, task.model_hparams, "standard", task.training,
                                     dataset, seed=0, device=device,
                                     cache=ModelCache(paths.model_cache))
    return dataset, model.eval(), float(result.accuracy.get("test", math.nan))


def compare(tasks: Sequence[str], pairs: Sequence[str], paths: Paths, device: str = "cpu",
            quick: bool = False, progress: Callable[[str], None] = lambda _line: None,
            on_row: Callable[["BenchReport"], None] = lambda _report: None,
            with_pyg: bool = True, repeats: int = 3) -> BenchReport:
    """Run every pair on every task; see the module docstring. ``on_row(report so far)``
    is called after every row (the CLI rewrites the table, so a long run keeps what it has).
    ``with_pyg=False`` runs ours and the floors only (the overhead table); ``repeats``:
    explain runs of ours per row (the overhead uses the fastest). A PyG run shared by two
    pairs (same explainer, hyper-parameters and instances) is measured once."""
    table = QUICK_TASKS if quick else TASKS
    rows: list[Row] = []
    accuracy: dict[str, float] = {}
    partial = BenchReport(rows=rows, accuracy=accuracy, threads=torch.get_num_threads(),
                          device=_device_name(device), quick=quick, repeats=repeats)
    pyg_runs: dict[tuple, Measured] = {}
    for task_name in tasks:
        if task_name not in table:
            raise KeyError(f"bench task {task_name!r}: known tasks: {', '.join(table)}")
        task = table[task_name]
        dataset, model, accuracy[task_name] = trained(task, paths, device)
        progress(f"{task_name}: {task.model} test accuracy {accuracy[task_name]:.3f}")
        ids = bench_instances(dataset, task.n_instances)
        for pair_name in pairs:
            pair = PAIRS.get(pair_name)
            ours_h = {**pair.hparams, **(pair.quick if quick else {})}
            theirs_h = {**pair.pyg_hparams, **({k: v for k, v in pair.quick.items()
                                               if k in pair.pyg_hparams} if quick else {})}
            if quick and pair.theirs == "pyg-graphmask":
                theirs_h["epochs"] = 2
            ours_explainer = build_explainer(pair.ours, **ours_h)
            amortised = bool(ours_explainer.info.amortised)
            steps = pair_steps(pair, ours_explainer.config, model)
            # the floor is measured right before each of our explain runs, over as many steps
            # as the run takes, so both see the same machine load; each keeps its fastest
            floors: list[float] = []

            def measure_floor() -> None:
                if amortised:
                    floors.append(step_seconds(model, dataset, ids, backward=False))
                elif steps:
                    floors.append(steps * step_seconds(model, dataset, ids, backward=True,
                                                       steps=steps, repeats=1))

            ours = run_explainer(pair.ours, ours_h, model, dataset, ids, repeats=repeats,
                                 before_each=measure_floor)
            floor = min(floors) if floors and not ours.skipped else math.nan
            cap = min(pair.pyg_cap, 2) if quick else pair.pyg_cap
            key = (task_name, pair.theirs, tuple(sorted(theirs_h.items())), cap)
            if not with_pyg:
                theirs = Measured(pair.theirs, 0, math.nan, math.nan, math.nan,
                                  skipped="not run (overhead only)")
            elif key in pyg_runs:
                theirs = pyg_runs[key]
            else:
                theirs = pyg_runs[key] = run_explainer(pair.theirs, theirs_h, model, dataset,
                                                       select_instances(ids, cap, 1))
            row = Row(task_name, task.model, pair_name, ours, theirs, amortised, floor, steps)
            rows.append(row)
            on_row(partial)
            progress(f"  {pair_name}: ours {ours.rate:.1f}/s (AUC {ours.auc:.3f}), "
                     f"{pair.theirs} {theirs.rate:.2f}/s (AUC {theirs.auc:.3f})"
                     + (f" [{theirs.skipped}]" if theirs.skipped else "")
                     + f", ratio {row.ratio:.1f}x, overhead {row.overhead:.2f}")
    return partial


def pair_steps(pair: Pair, config: Any, model: nn.Module) -> int:
    """The floor's step count of ``pair`` for our explainer's ``config`` (0: amortised)."""
    if isinstance(pair.steps, int):
        return pair.steps
    if callable(pair.steps):
        return int(pair.steps(config, model))
    return int(getattr(config, pair.steps, 0) or 0) if pair.steps else 0


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    import platform

    return f"{device} ({platform.processor() or platform.machine()})"


def write_report(report: BenchReport, out: str | Path, name: str = "bench.md") -> Path:
    """Write the side-by-side table (with the overhead table below it) to ``out/name``;
    returns its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    overhead = "## Overhead ratio\n\n" + report.overhead_markdown()
    with_pyg = any(not r.theirs.skipped.startswith("not run") for r in report.rows)
    path.write_text(report.markdown() + "\n" + overhead if with_pyg else "# " + overhead[3:])
    return path
