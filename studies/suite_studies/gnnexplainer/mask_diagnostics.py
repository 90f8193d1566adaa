"""Diagnostics of what an edge-mask explainer can reach on a trained node model.

``python -m suite_studies.gnnexplainer.mask_diagnostics --spec studies/suite_studies/gnnexplainer/grids/gnnexplainer-models.yaml --variants
default-gcn default-gin --datasets tree-cycles ba-shapes --split val`` loads (or trains, into
the shared model cache) each variant of a :mod:`suite_studies.gnnexplainer.model_study` spec and, on the split's
explain instances (the runner's seeded subset of at most ``max_instances``), reports per
mask semantics (``message``: messages scaled after GCN's normalisation; ``weight``: the
mask as edge weights, :func:`suite.graph.masking.edge_mask`):

- **empty mask**: the model with every explainable edge's mask at 0 vs the full graph:
  the share of targets whose predicted class is kept, and the mean probability of the
  full-graph class before and after. If the empty mask keeps the prediction, a
  ``-log p + size`` objective is minimised by dropping every edge.
- **occlusion**: the exact leave-one-edge-out effect ``log p(full) - log p(without e)``
  on the predicted class, for every explainable directed edge; its pooled edge ROC-AUC
  (signed, and on absolute values: the board's convention for signed attributions) and
  the AUC within the edges whose head lies ``h`` hops from the target.
- optionally (``--explainer``) the same per-hop AUC of an explainer's scores on the
  same edges.

Ground truth and AUC: ``dataset.gt_edge_mask`` and :func:`suite.metrics.auc.roc_auc`,
pooled over every target's explainable edges as the board does.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from suite.core.paths import Paths
from suite.datasets import load_dataset
from suite.explainers.base import build_explainer
from suite.explainers.toolkit import (
    explained_edge_instance,
    forward,
    instance_views,
    predict,
    target_log_prob,
)
from suite.graph.pruning import hop_distance
from suite.graph.subgraphs import InstanceBatch
from suite.metrics.auc import roc_auc
from suite.protocol import select_instances
from suite.training import ModelCache, train_or_load
from suite_studies.gnnexplainer.model_study import load_spec

__all__ = ["EdgeTable", "edge_table", "empty_mask_effect", "head_hops", "main", "occlusion_effect"]


def head_hops(view: InstanceBatch) -> Tensor:
    """[M_v] hop distance from each explainable edge's head (destination) to its target.

    :func:`suite.graph.pruning.hop_distance` from the targets against the edge direction (a node
    at distance ``d`` reaches the target in ``d`` messages); the view's instances are disjoint.
    """
    n = view.x.size(0)
    edge_index = view.edge_index.cpu()
    dist = hop_distance(edge_index, view.target_index.cpu(), n, max_hops=n)
    return dist[edge_index[1][view.explainable.cpu()]]


@torch.no_grad()
def empty_mask_effect(model: nn.Module, view: InstanceBatch, mask_mode: str) -> tuple[Tensor, Tensor, Tensor]:
    """``(kept [B] bool, p_full [B], p_empty [B])``: the full-graph predicted class's
    probability on the full graph and with every explainable edge masked to 0."""
    target = predict(model, view)
    m = int(view.explainable.sum())
    full = target_log_prob(forward(model, view), target).exp()
    logits = forward(model, view, torch.zeros(m, device=view.x.device), mask_mode=mask_mode)
    return logits.argmax(-1) == target, full, target_log_prob(logits, target).exp()


@torch.no_grad()
def occlusion_effect(model: nn.Module, view: InstanceBatch, mask_mode: str) -> Tensor:
    """[M_v] ``log p(full) - log p(e removed)`` of the full-graph predicted class, per
    explainable edge: one forward per round, round ``r`` removing the ``r``-th edge of
    every instance at once (instances are disjoint, so each sees only its own removal)."""
    target = predict(model, view)
    base = target_log_prob(forward(model, view), target)
    owner = explained_edge_instance(view).cpu()
    ptr = view.explained_edge_ptr().cpu()
    counts = ptr.diff()
    m = int(view.explainable.sum())
    effect = torch.zeros(m)
    for r in range(int(counts.max()) if counts.numel() else 0):
        rows = torch.nonzero(counts > r).flatten()
        idx = ptr[rows] + r
        mask = torch.ones(m, device=view.x.device)
        mask[idx.to(mask.device)] = 0.0
        logp = target_log_prob(forward(model, view, mask, mask_mode=mask_mode), target).cpu()
        effect[idx] = (base.cpu() - logp)[rows]
    assert owner.numel() == m
    return effect


@dataclass
class EdgeTable:
    """Pooled per-edge values of one (dataset, model, seed) cell.

    Attributes:
        labels: [M] ground-truth edge labels; hops: [M] head hop distance.
        occlusion: mask mode -> [M] occlusion effects; empty: mask mode ->
            (kept share, mean p_full, mean p_empty); explainer: name -> [M] scores.
    """

    labels: Tensor
    hops: Tensor
    occlusion: dict[str, Tensor] = field(default_factory=dict)
    empty: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    explainer: dict[str, Tensor] = field(default_factory=dict)


def edge_table(model: nn.Module, dataset: Any, ids: Tensor, seed: int,
               modes: Sequence[str] = ("message", "weight"),
               explainers: dict[str, Any] | None = None, occlusion: bool = True) -> EdgeTable:
    """Every diagnostic of the module docstring on the explain instances ``ids``
    (``occlusion=False`` skips the leave-one-edge-out pass: one forward per edge rank)."""
    num_hops = model.num_layers
    views = instance_views(dataset, ids, num_hops, batched=True)
    labels, hops = [], []
    occ: dict[str, list[Tensor]] = {m: [] for m in modes}
    empty: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = {m: [] for m in modes}
    expl: dict[str, list[Tensor]] = {k: [] for k in (explainers or {})}
    for view in views:
        labels.append(dataset.gt_edge_mask.cpu()[view.edge_ids[view.explainable].cpu()])
        hops.append(head_hops(view))
        for mode in modes:
            if occlusion:
                occ[mode].append(occlusion_effect(model, view, mode))
            empty[mode].append(empty_mask_effect(model, view, mode))
        for name, explainer in (explainers or {}).items():
            expl[name].append(explainer.explain_view(model, view, seed, dataset).edge_scores.detach().cpu())
    table = EdgeTable(torch.cat(labels), torch.cat(hops))
    for mode in modes:
        if occlusion:
            table.occlusion[mode] = torch.cat(occ[mode])
        kept, pf, pe = (torch.cat([e[i] for e in empty[mode]]) for i in range(3))
        table.empty[mode] = (float(kept.float().mean()), float(pf.mean()), float(pe.mean()))
    for name, parts in expl.items():
        table.explainer[name] = torch.cat(parts)
    return table


def _auc(scores: Tensor, labels: Tensor) -> float:
    if labels.all() or not labels.any():
        return math.nan
    return roc_auc(scores, labels)


def _fmt(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:.3f}"


def rows(table: EdgeTable) -> list[tuple[str, str, list[str]]]:
    """(kind, label, cells) Markdown cells: pooled AUC, then AUC at head hop 0, 1, ..."""
    max_hop = int(table.hops.max())
    out = []
    series = {f"occlusion ({m})": s for m, s in table.occlusion.items()}
    series.update({f"|occlusion| ({m})": s.abs() for m, s in table.occlusion.items()})
    series.update(table.explainer)
    for label, s in series.items():
        cells = [_fmt(_auc(s, table.labels))]
        cells += [_fmt(_auc(s[table.hops == h], table.labels[table.hops == h])) for h in range(max_hop + 1)]
        out.append(("auc", label, cells))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite_studies.gnnexplainer.mask_diagnostics",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", required=True, help="a suite_studies.gnnexplainer.model_study spec (its variants)")
    parser.add_argument("--variants", nargs="+", help="variant labels (default: all)")
    parser.add_argument("--datasets", nargs="+", help="node datasets (default: the spec's)")
    parser.add_argument("--seeds", nargs="+", type=int, help="seeds (default: the spec's)")
    parser.add_argument("--split", choices=("val", "test"), default="val")
    parser.add_argument("--no-occlusion", action="store_true",
                        help="skip the leave-one-edge-out pass (slow on hub-heavy graphs)")
    parser.add_argument("--explainer", nargs="*", default=[],
                        help="LABEL=NAME[:key=value,...] explainers to score per hop too")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    spec = load_spec(args.spec)
    variants = [v for v in spec.variants if not args.variants or v.label in args.variants]
    explainers = {}
    for item in args.explainer:
        label, _, body = item.partition("=")
        name, _, params = body.partition(":")
        kwargs = {}
        for kv in filter(None, params.split(",")):
            k, _, v = kv.partition("=")
            kwargs[k] = v if not v.replace(".", "", 1).lstrip("-").isdigit() else float(v) if "." in v else int(v)
        explainers[label] = build_explainer(name, **kwargs)
    paths = Paths.from_env()
    cache = ModelCache(paths.model_cache)
    empty_lines = ["| dataset | model | seed | n | mask mode | prediction kept (empty mask) | p full | p empty |",
                   "|---|---|---|---|---|---|---|---|"]
    auc_lines: list[str] = []
    for name in args.datasets or spec.datasets:
        for seed in args.seeds or spec.seeds:
            dataset = load_dataset(name, seed=seed, cache_dir=paths.dataset_cache)
            ids = select_instances(dataset.explain_ids[args.split], spec.max_instances, seed)
            for variant in variants:
                model, _, _ = train_or_load(variant.model, dict(variant.hparams), "standard",
                                            dict(variant.training), dataset, seed=seed, cache=cache)
                model.eval()
                table = edge_table(model, dataset, ids, seed, explainers=explainers,
                                   occlusion=not args.no_occlusion)
                for mode, (kept, pf, pe) in table.empty.items():
                    empty_lines.append(f"| {name} | {variant.label} | {seed} | {ids.numel()} | {mode} | "
                                       f"{kept:.3f} | {pf:.3f} | {pe:.3f} |")
                counts = [f"{int((table.hops == h).sum())}/{int(table.labels[table.hops == h].sum())}"
                          for h in range(int(table.hops.max()) + 1)]
                counts += ["-"] * (4 - len(counts))
                for _, label, cells in rows(table):
                    cells = cells + ["-"] * (5 - len(cells))
                    auc_lines.append(f"| {name} | {variant.label} | {seed} | {label} | " + " | ".join(cells)
                                     + " | " + " ".join(counts) + " |")
                print(empty_lines[-2], empty_lines[-1], *auc_lines[-len(rows(table)):], sep="\n", flush=True)
    print("\n".join(empty_lines))
    print()
    print("| dataset | model | seed | scores | AUC pooled | AUC hop 0 | hop 1 | hop 2 | hop 3 | edges/GT per hop |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(auc_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
