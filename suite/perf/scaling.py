"""Scaling curves: explanations/s vs number of instances and vs graph size, memory vs size.

Two sweeps on BA-Shapes graphs (the suite's generator, ``base_m = 5``), with an
untrained 3-layer GCN (hidden 20; speed does not depend on the weights):

- **instances**: one graph (``INSTANCE_GRAPH``), 1, 10, ..., 10,000 motif-node targets;
- **graph size**: graphs of 700 to 140,000 nodes, a fixed 100 motif-node targets.

Each point records explanations/s of ``saliency`` and of ``gnnexplainer`` (10 epochs: a
throughput probe, not a quality setting), the union edges and messages per target (work
counters: messages the model's layers compute in one pruned forward, divided by the
targets), the union's tensor memory (MB) and the process's peak RSS so far (MB). Per-target
cost should follow the targets' computation subgraphs, not the graph: the messages per
target stay flat while the graph grows 200x, and time grows linearly in the instances.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor

from suite.board.plots import _figure, _save
from suite.core.types import BenchmarkDataset
from suite.datasets import load_dataset
from suite.explainers import build_explainer
from suite.explainers.toolkit import forward, frozen
from suite.graph.pruning import count_messages
from suite.graph.subgraphs import InstanceBatch, batch_chunks
from suite.models import build_model
from suite.perf.bench import bench_clock

#: explainer -> hyper-parameters of the probe
EXPLAINERS: dict[str, dict] = {"saliency": {}, "gnnexplainer": {"epochs": 10}}
#: explainer -> most targets it is timed on (GNNExplainer's 10,000-target point would take
#: most of the run's budget on 2 cores; its curve is already linear by 1,000)
MAX_TARGETS: dict[str, int] = {"gnnexplainer": 1000}
#: (num_base, num_motifs) of the instance sweep's graph (12,000 nodes, 10,000 motif nodes)
INSTANCE_GRAPH = (2000, 2000)
INSTANCE_COUNTS = (1, 10, 100, 1000, 10000)
#: graph sizes: (num_base, num_motifs) -> 700, 7,000, 70,000, 140,000 nodes
GRAPH_SIZES = ((300, 80), (3000, 800), (30000, 8000), (60000, 16000))
SIZE_TARGETS = 100

QUICK = {"instance_graph": (100, 40), "instance_counts": (1, 10, 100),
         "graph_sizes": ((100, 20), (400, 80)), "size_targets": 10}


@dataclass
class Point:
    """One measurement."""

    sweep: str
    nodes: int
    edges: int
    instances: int
    rates: dict[str, float]
    union_edges_per_target: float
    messages_per_target: float
    batch_mb: float
    peak_rss_mb: float


@dataclass
class ScalingReport:
    points: list[Point] = field(default_factory=list)
    quick: bool = False

    def markdown(self) -> str:
        names = list(EXPLAINERS)
        head = ("| sweep | graph nodes | graph edges | targets | "
                + " | ".join(f"{n} /s" for n in names)
                + " | union edges / target | messages / target | batch MB | peak RSS MB |")
        lines = ["# Scaling", "", __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else "",
                 "", "**--quick: tiny sizes, not a measurement.**" if self.quick else "", "",
                 head, "|" + "---|" * (8 + len(names))]
        for p in self.points:
            lines.append("| " + " | ".join([
                p.sweep, f"{p.nodes:,}", f"{p.edges:,}", f"{p.instances:,}",
                *(f"{p.rates[n]:.1f}" if p.rates[n] == p.rates[n] else "-" for n in names),
                f"{p.union_edges_per_target:.0f}", f"{p.messages_per_target:.0f}",
                f"{p.batch_mb:.1f}", f"{p.peak_rss_mb:.0f}"]) + " |")
        return "\n".join(line for line in lines) + "\n"


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _batch_mb(chunks: Sequence[InstanceBatch]) -> float:
    total = 0
    for chunk in chunks:
        for value in chunk.__dict__.values():
            if isinstance(value, Tensor):
                total += value.numel() * value.element_size()
    return total / 2**20


def messages_per_target(model: torch.nn.Module, chunks: Sequence[InstanceBatch]) -> float:
    """Messages the model's layers compute in one pruned forward over ``chunks``, per target."""
    device = next(model.parameters()).device
    with frozen(model), torch.no_grad(), count_messages(model) as counts:
        for chunk in chunks:
            forward(model, chunk.to(device))
    return sum(counts) / max(sum(c.num_instances for c in chunks), 1)


def measure(sweep: str, dataset: BenchmarkDataset, model: torch.nn.Module, ids: Tensor,
            device: str = "cpu") -> Point:
    """One point: both probes' rates and the work and memory counters for ``ids``."""
    chunks = batch_chunks(dataset, ids, 3, device=device)
    rates = {}
    for name, hparams in EXPLAINERS.items():
        if ids.numel() > MAX_TARGETS.get(name, ids.numel()):
            rates[name] = float("nan")
            continue
        explainer = build_explainer(name, **hparams)
        clock = bench_clock(torch.device(device))
        start = clock()
        explainer.explain(model, dataset, ids, seed=0)
        rates[name] = ids.numel() / max(clock() - start, 1e-9)
    union = sum(int(c.edge_ids.numel()) for c in chunks) / ids.numel()
    return Point(sweep, int(dataset.data.num_nodes), int(dataset.data.edge_index.size(1)),
                 int(ids.numel()), rates, union, messages_per_target(model, chunks),
                 _batch_mb(chunks), _peak_rss_mb())


def _graph(num_base: int, num_motifs: int, device: str) -> tuple[BenchmarkDataset, torch.nn.Module]:
    # bandit B615 mistakes the suite's own registry for Hugging Face's load_dataset
    dataset = load_dataset("ba-shapes", seed=0, num_base=num_base, num_motifs=num_motifs)  # nosec B615
    torch.manual_seed(0)
    model = build_model("gcn", dataset, hidden=20, num_layers=3, jk="last").to(device).eval()
    return dataset, model


def _targets(dataset: BenchmarkDataset, n: int) -> Tensor:
    motif = torch.nonzero(dataset.gt_node_mask).view(-1)
    order = torch.randperm(motif.numel(), generator=torch.Generator().manual_seed(0))
    return motif[order[:n]].sort().values


def run(quick: bool = False, device: str = "cpu",
        progress: Callable[[str], None] = lambda _line: None) -> ScalingReport:
    """Both sweeps (see the module docstring)."""
    cfg = QUICK if quick else {"instance_graph": INSTANCE_GRAPH,
                               "instance_counts": INSTANCE_COUNTS, "graph_sizes": GRAPH_SIZES,
                               "size_targets": SIZE_TARGETS}
    report = ScalingReport(quick=quick)
    dataset, model = _graph(*cfg["instance_graph"], device)
    for count in cfg["instance_counts"]:
        point = measure("instances", dataset, model, _targets(dataset, count), device)
        report.points.append(point)
        progress(f"instances {count}: {point.rates}")
    for num_base, num_motifs in cfg["graph_sizes"]:
        dataset, model = _graph(num_base, num_motifs, device)
        point = measure("graph size", dataset, model, _targets(dataset, cfg["size_targets"]), device)
        report.points.append(point)
        progress(f"graph {point.nodes} nodes: {point.rates}")
    return report


def plot(report: ScalingReport, path: str | Path) -> Path:
    """Two panels: explanations/s vs targets, and vs graph nodes (with memory), log axes."""

    fig = _figure(11, 4)
    for i, (sweep, x_of, label) in enumerate((
            ("instances", lambda p: p.instances, "explained targets"),
            ("graph size", lambda p: p.nodes, "graph nodes (100 targets)"))):
        ax = fig.add_subplot(1, 2, i + 1)
        points = [p for p in report.points if p.sweep == sweep]
        for name in EXPLAINERS:
            ax.plot([x_of(p) for p in points], [p.rates[name] for p in points], marker="o",
                    label=f"{name} (explanations/s)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("explanations / s")
        if sweep == "graph size":
            twin = ax.twinx()
            twin.plot([x_of(p) for p in points], [p.batch_mb for p in points], "k--",
                      marker="s", label="batch MB")
            twin.set_ylabel("batch memory (MB)")
            twin.legend(loc="lower right", fontsize=8)
        ax.legend(loc="lower left", fontsize=8)
        ax.set_title(f"vs {sweep}")
    return _save(fig, path)


def write(report: ScalingReport, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "scaling.md"
    table.write_text(report.markdown())
    return [table, plot(report, out / "scaling.png")]
