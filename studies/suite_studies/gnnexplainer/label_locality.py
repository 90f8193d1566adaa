"""How local is a node dataset's label? WL colour purity and the radius oracle's AUC.

``python -m suite_studies.gnnexplainer.label_locality --datasets tree-cycles tree-grid ba-shapes --seeds 0 1 2``
prints, per dataset and seed:

- **colour purity at radius r**: the best accuracy any function of a node's radius-``r``
  Weisfeiler-Lehman colour can reach on the dataset's labels (``r = 0``: the node's own
  features; ``r``: its radius-``r - 1`` colour and the multiset of its in-neighbours'). An
  ``r``-layer message-passing model computes a function of that colour, so the purity
  bounds its accuracy from above; purity near 1 at radius ``r`` means the labels are
  decided within ``r`` hops.
- **radius oracle AUC**: the board's headline edge AUC (pooled over every explained
  target's explainable edges of a ``num_layers``-layer model, :mod:`suite.graph.subgraphs`) of
  the binary explanation that keeps exactly the edges a radius-``r`` colour reads, i.e.
  every edge whose head lies within ``r - 1`` hops of the target (score 1) and nothing
  else (score 0; ties count one half). It is a minimal *sufficient* explanation of any
  model that decides from radius-``r`` colours, built without the model and without the
  ground truth.

Used for issue 2's Tree-Cycles / Tree-Grid shortfalls: if the labels are decided at a
small radius, the edges further out are not needed for the prediction, and an explainer
that ranks by what the prediction needs cannot rank them above the needed non-motif
edges.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from typing import Sequence

import torch
from torch import Tensor
from torch_geometric.nn import WLConv

from suite.core.types import BenchmarkDataset, TaskLevel
from suite.datasets import load_dataset
from suite.graph.subgraphs import node_batch
from suite.metrics.auc import roc_auc
from suite_studies.gnnexplainer.mask_diagnostics import head_hops

__all__ = ["colour_purity", "radius_oracle_auc", "wl_colours", "main"]


def wl_colours(edge_index: Tensor, x: Tensor, rounds: int) -> list[Tensor]:
    """Weisfeiler-Lehman colours of every node for radius ``0..rounds``.

    Args:
        edge_index: [2, E] directed edges ``src -> dst`` (messages flow to ``dst``).
        x: [N, F] node features; radius 0 colours the distinct feature rows.
        rounds: the largest radius.

    Returns:
        ``rounds + 1`` tensors [N] of colour ids (long): colour_r(v) = id of
        (colour_{r-1}(v), sorted multiset of colour_{r-1}(u) over in-edges u -> v), as
        :class:`torch_geometric.nn.WLConv` refines them.
    """
    if rounds < 0:
        raise ValueError(f"rounds: must be >= 0 (got {rounds})")
    colours = [torch.unique(x, dim=0, return_inverse=True)[1].long()]
    refine = WLConv()  # PyG's WL refinement; its colour table lives in this instance only
    for _ in range(rounds):
        colours.append(refine(colours[-1], edge_index))
    return colours


def colour_purity(colours: Tensor, y: Tensor, ids: Tensor | None = None) -> float:
    """Best accuracy of any function of the colour: ``sum_c max_k n_{c,k} / n`` over ``ids``.

    Args:
        colours: [N] colour id per node; y: [N] labels; ids: node ids to score (all if None).
    """
    ids = torch.arange(colours.numel()) if ids is None else torch.as_tensor(ids).view(-1)
    if ids.numel() == 0:
        raise ValueError("colour_purity: no nodes to score")
    counts: dict[int, Counter] = defaultdict(Counter)
    for c, k in zip(colours[ids].tolist(), y[ids].tolist()):
        counts[c][k] += 1
    return sum(max(c.values()) for c in counts.values()) / ids.numel()


def radius_oracle_auc(dataset: BenchmarkDataset, ids: Tensor, num_layers: int, radius: int) -> float:
    """Pooled edge AUC of the radius-``radius`` oracle (module docstring) for ``ids`` [B]
    of a ``num_layers``-layer model: score 1 on the explainable edges whose head lies
    within ``radius - 1`` hops of the target, 0 on the others."""
    if dataset.task != TaskLevel.NODE:
        raise ValueError(f"{dataset.name}: the radius oracle is defined for node tasks")
    if radius < 1:
        raise ValueError(f"radius: must be >= 1 (got {radius})")
    view = node_batch(dataset.data, ids, num_layers)
    truth = dataset.gt_edge_mask[view.edge_ids[view.explainable]]
    score = (head_hops(view) <= radius - 1).float()
    return roc_auc(score, truth.float())


def _row(dataset: BenchmarkDataset, seed: int, max_radius: int, layers: Sequence[int]) -> str:
    y, data = dataset.y, dataset.data
    colours = wl_colours(data.edge_index, data.x, max_radius)
    majority = max(torch.bincount(y).tolist()) / y.numel()
    purity = " | ".join(f"{colour_purity(c, y):.3f}" for c in colours)
    ids = dataset.explain_ids["test"]
    oracle = " | ".join(f"{radius_oracle_auc(dataset, ids, k, r):.3f}"
                        for k in layers for r in range(1, k + 1))
    return f"| {dataset.name} | {seed} | {majority:.3f} | {purity} | {oracle} |"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite_studies.gnnexplainer.label_locality",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["tree-cycles", "tree-grid", "ba-shapes"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-radius", type=int, default=3)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 4],
                        help="model depths whose explainable edges pool the oracle AUC")
    args = parser.parse_args(argv)
    oracle_head = " | ".join(f"oracle r={r} ({k} layers)" for k in args.layers for r in range(1, k + 1))
    purity_head = " | ".join(f"purity r={r}" for r in range(args.max_radius + 1))
    print(f"| dataset | seed | majority | {purity_head} | {oracle_head} |")
    print("|---" * (3 + args.max_radius + 1 + sum(args.layers)) + "|")
    for name in args.datasets:
        for seed in args.seeds:
            print(_row(load_dataset(name, seed=seed), seed, args.max_radius, args.layers), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
