"""The synthetic ground-truth datasets of the GNNExplainer and PGExplainer papers.

Node tasks (one graph): ``ba-shapes``, ``ba-community``, ``tree-cycles``,
``tree-grid``. Graph task: ``ba-2motifs``. Each builder is ``fn(seed=0, **sizes)``
with the papers' sizes as defaults, deterministic in ``seed`` (private NumPy
``Generator``s, no global state). Ground truth: ``gt_edge_mask`` marks the edges
inside planted motifs (both directions; never the attachment edge, noise or bridge
edges) and ``gt_node_mask`` the motif nodes. ``data.motif_id`` [N] long gives each
node's motif (-1 off motifs; for ``ba-2motifs`` the graph id). Splits are 80/10/10
stratified by class; the explained instances are the motif nodes (node tasks) or
all graphs (graph task) of the val and test splits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from suite.core.config import ConfigError, NonNegativeFloat, NonNegativeInt, PositiveInt
from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel
from suite.datasets.base import dataset_info, register_dataset
from suite.datasets.generators import (
    MOTIFS,
    EdgeKind,
    GraphSketch,
    Motif,
    attach_motifs,
    balanced_tree,
    balanced_tree_size,
    barabasi_albert,
    cycle,
    grid,
    random_edges,
)
from suite.datasets.splits import stratified_split

GNNEXPLAINER = ("Ying, Bourgeois, You, Zitnik, Leskovec. GNNExplainer: Generating Explanations for "
                "Graph Neural Networks. NeurIPS 2019 (arXiv 1903.03894)")
PGEXPLAINER = ("Luo, Cheng, Xu, Yu, Zong, Chen, Zhang. Parameterized Explainer for Graph Neural "
               "Network. NeurIPS 2020 (arXiv 2011.04573)")

_BA = ("base graph: suite.datasets.generators.barabasi_albert, the suite's own implementation of "
       "the classic Barabasi-Albert model (star on m+1 nodes, m distinct degree-proportional targets "
       "per new node; networkx.barabasi_albert_graph's model and edge count, NOT "
       "torch_geometric.utils.barabasi_albert_graph)")
_TREE = "base graph: suite.datasets.generators.balanced_tree (complete binary tree)"
_RNG = "randomness: numpy.random.Generator (PCG64) seeded from `seed`; splits: torch.Generator(seed)"


# --------------------------------------------------------------------------- validation


def _int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum} (got {value!r})")
    return int(value)


def _float(name: str, value: Any, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise ConfigError(f"{name}: expected a number >= {minimum} (got {value!r})")
    return float(value)


def _count(ratio: float, n: int) -> int:
    """``round(ratio * n)``, halves rounded up."""
    return int(np.floor(ratio * n + 0.5))


# --------------------------------------------------------------------------- assembling


def _motif_graph(base_edges: np.ndarray, num_base: int, motif: Motif, num_motifs: int,
                 noise_ratio: float, rng: np.random.Generator) -> GraphSketch:
    """Base graph + ``num_motifs`` motifs (each joined by one edge to a uniform random base
    node) + ``round(noise_ratio * N)`` noise edges between uniform random node pairs."""
    sketch = GraphSketch()
    sketch.add_nodes(num_base)
    sketch.add_edges(base_edges, EdgeKind.BASE)
    attach_motifs(sketch, motif, num_motifs, np.arange(num_base), rng)
    random_edges(sketch, _count(noise_ratio, sketch.num_nodes), rng, EdgeKind.NOISE)
    return sketch


def _node_dataset(info: DatasetInfo, sketch: GraphSketch, x: Tensor, y: Tensor, num_classes: int,
                  seed: int, params: dict[str, Any]) -> BenchmarkDataset:
    edge_index, kind = sketch.to_edge_index()
    motif_id = torch.from_numpy(sketch.motif_ids.copy())
    gt_node = motif_id >= 0
    splits = stratified_split(y, seed)
    explain_ids = {k: splits[k][gt_node[splits[k]]] for k in ("val", "test")}
    data = Data(x=x, edge_index=edge_index, motif_id=motif_id, num_nodes=sketch.num_nodes)
    return BenchmarkDataset(
        info=info, data=data, y=y, num_classes=num_classes, splits=splits, explain_ids=explain_ids,
        gt_edge_mask=kind == int(EdgeKind.MOTIF), gt_node_mask=gt_node, params=params,
    )


def _ones(n: int, num_features: int) -> Tensor:
    return torch.ones(n, num_features)


# --------------------------------------------------------------------------- BA-Shapes


def _ba_shapes_sketch(rng: np.random.Generator, num_base: int, base_m: int, num_motifs: int,
                      noise_ratio: float) -> GraphSketch:
    base = barabasi_albert(num_base, base_m, rng)
    return _motif_graph(base, num_base, MOTIFS["house"], num_motifs, noise_ratio, rng)


@register_dataset(DatasetInfo(
    name="ba-shapes", task=TaskLevel.NODE, family="synthetic", has_ground_truth=True,
    citation=GNNEXPLAINER,
    provenance=f"generated: {_BA}; {_RNG}",
    description="BA graph (300 nodes, m=5) + 80 houses, each joined by one edge to a random base "
                "node (700 nodes), + round(noise_ratio N) random noise edges (default 0.1 N; the "
                "GNNExplainer reference code adds int(0.01 |E|), about 0.03 N, which the default "
                "matrix uses); constant features; 4 classes: base, house top (roof), middle, bottom",
))
def ba_shapes(seed: int = 0, *, num_base: PositiveInt = 300, base_m: PositiveInt = 5,
              num_motifs: NonNegativeInt = 80,
              noise_ratio: NonNegativeFloat = 0.1,
              num_features: PositiveInt = 10) -> BenchmarkDataset:
    """BA-Shapes: N = num_base + 5 * num_motifs nodes; y = house role (0 base, 1 top, 2 middle, 3 bottom)."""
    params = dict(seed=_int("seed", seed, 0), num_base=_int("num_base", num_base, 2),
                  base_m=_int("base_m", base_m), num_motifs=_int("num_motifs", num_motifs, 0),
                  noise_ratio=_float("noise_ratio", noise_ratio),
                  num_features=_int("num_features", num_features))
    rng = np.random.default_rng(seed)
    sketch = _ba_shapes_sketch(rng, num_base, base_m, num_motifs, params["noise_ratio"])
    y = torch.from_numpy(sketch.roles.copy())
    return _node_dataset(dataset_info("ba-shapes"), sketch, _ones(sketch.num_nodes, num_features),
                         y, 4, seed, params)


# --------------------------------------------------------------------------- BA-Community


@register_dataset(DatasetInfo(
    name="ba-community", task=TaskLevel.NODE, family="synthetic", has_ground_truth=True,
    citation=GNNEXPLAINER,
    provenance=f"generated: two independent BA-Shapes graphs ({_BA}) joined by random bridge edges; "
               f"Gaussian features; {_RNG}",
    description="two BA-Shapes graphs (1,400 nodes) joined by 350 random inter-community edges (the "
                "suite's choice); noise edges round(noise_ratio N) per community (default 0.1 N; the "
                "GNNExplainer reference code adds int(0.01 |E|), about 0.03 N, which the default "
                "matrix uses); 10-dim Gaussian features: dims 0-1 ~ N(-1, 0.5^2) in community 0 "
                "and N(+1, 0.5^2) in community 1, dims 2-9 ~ N(0, 1) in both (the suite's choice); "
                "8 classes = 4 * community + house role",
))
def ba_community(seed: int = 0, *, num_base: PositiveInt = 300, base_m: PositiveInt = 5,
                 num_motifs: NonNegativeInt = 80,
                 noise_ratio: NonNegativeFloat = 0.1, num_bridges: NonNegativeInt = 350,
                 num_features: PositiveInt = 10,
                 informative_dims: int = 2, feature_mean: float = 1.0,
                 informative_std: float = 0.5, other_std: float = 1.0) -> BenchmarkDataset:
    """BA-Community: two BA-Shapes graphs (nodes ``0..n-1`` community 0, ``n..2n-1`` community 1).

    Bridges: ``num_bridges`` distinct edges, each between a uniform random node of
    community 0 and one of community 1 (any node, motif nodes included; never
    ground truth). Features [N, num_features]: the first ``informative_dims`` dims
    are drawn from N(mu_c, informative_std^2) with mu_0 = -feature_mean and
    mu_1 = +feature_mean; the other dims from N(0, other_std^2) for both communities
    (as in GNNExplainer's design: two informative dims, the rest shared noise).
    Labels: y = 4 * community + role (role 0 base, 1 top, 2 middle, 3 bottom).

    Measured here (3-layer GCN, hidden 20, Adam lr 3e-3, weight decay 5e-4, no
    dropout, best of 1,500 epochs on val): test accuracy 0.66-0.76 over two seeds
    with train accuracy 0.97 (the noise dims invite over-fitting); 0.80-0.84 with
    ``other_std=0`` (noise dims all zero).
    """
    params = dict(seed=_int("seed", seed, 0), num_base=_int("num_base", num_base, 2),
                  base_m=_int("base_m", base_m), num_motifs=_int("num_motifs", num_motifs, 0),
                  noise_ratio=_float("noise_ratio", noise_ratio),
                  num_bridges=_int("num_bridges", num_bridges, 0),
                  num_features=_int("num_features", num_features),
                  informative_dims=_int("informative_dims", informative_dims, 0),
                  feature_mean=_float("feature_mean", feature_mean, float("-inf")),
                  informative_std=_float("informative_std", informative_std),
                  other_std=_float("other_std", other_std))
    if informative_dims > num_features:
        raise ConfigError(f"informative_dims: must be <= num_features={num_features} (got {informative_dims})")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)]
    communities = [_ba_shapes_sketch(streams[c], num_base, base_m, num_motifs, params["noise_ratio"])
                   for c in (0, 1)]
    sketch = GraphSketch()
    offsets = [sketch.add_graph(c) for c in communities]
    n = communities[0].num_nodes
    random_edges(sketch, num_bridges, streams[2], EdgeKind.BRIDGE,
                 left=np.arange(offsets[0], offsets[0] + n), right=np.arange(offsets[1], offsets[1] + n))
    community = np.repeat(np.arange(2), n)
    z = streams[3].standard_normal((2 * n, num_features))
    mu = np.where(community == 0, -feature_mean, feature_mean)[:, None]
    x = other_std * z
    x[:, :informative_dims] = mu + informative_std * z[:, :informative_dims]
    y = torch.from_numpy(4 * community + sketch.roles)
    return _node_dataset(dataset_info("ba-community"), sketch, torch.from_numpy(x).float(), y, 8,
                         seed, params)


# --------------------------------------------------------------------------- Tree-Cycles / Tree-Grid


def _tree_dataset(name: str, seed: int, depth: int, motif: Motif, num_motifs: int,
                  noise_ratio: float, num_features: int, params: dict[str, Any]) -> BenchmarkDataset:
    rng = np.random.default_rng(seed)
    num_base = balanced_tree_size(depth)
    sketch = _motif_graph(balanced_tree(depth), num_base, motif, num_motifs, noise_ratio, rng)
    y = torch.from_numpy((sketch.motif_ids >= 0).astype(np.int64))
    return _node_dataset(dataset_info(name), sketch, _ones(sketch.num_nodes, num_features), y, 2,
                         seed, params)


@register_dataset(DatasetInfo(
    name="tree-cycles", task=TaskLevel.NODE, family="synthetic", has_ground_truth=True,
    citation=GNNEXPLAINER,
    provenance=f"generated: {_TREE} + 6-cycles; {_RNG}",
    description="balanced binary tree of depth 8 (511 nodes) + 60 six-cycles, each joined by one edge "
                "to a random tree node (871 nodes); no noise edges by default; constant features; "
                "2 classes: tree, cycle",
))
def tree_cycles(seed: int = 0, *, depth: NonNegativeInt = 8, num_motifs: NonNegativeInt = 60,
                cycle_size: PositiveInt = 6,
                noise_ratio: NonNegativeFloat = 0.0,
                num_features: PositiveInt = 10) -> BenchmarkDataset:
    """Tree-Cycles: N = (2^(depth+1) - 1) + cycle_size * num_motifs; y = 1 on cycle nodes."""
    params = dict(seed=_int("seed", seed, 0), depth=_int("depth", depth, 0),
                  num_motifs=_int("num_motifs", num_motifs, 0), cycle_size=_int("cycle_size", cycle_size, 3),
                  noise_ratio=_float("noise_ratio", noise_ratio),
                  num_features=_int("num_features", num_features))
    return _tree_dataset("tree-cycles", seed, depth, cycle(cycle_size), num_motifs, params["noise_ratio"],
                         num_features, params)


@register_dataset(DatasetInfo(
    name="tree-grid", task=TaskLevel.NODE, family="synthetic", has_ground_truth=True,
    citation=GNNEXPLAINER,
    provenance=f"generated: {_TREE} + 3x3 grids; {_RNG}",
    description="balanced binary tree of depth 8 (511 nodes) + 80 3x3 grids, each joined by one edge "
                "(from a corner) to a random tree node (1,231 nodes); no noise edges by default; "
                "constant features; 2 classes: tree, grid",
))
def tree_grid(seed: int = 0, *, depth: NonNegativeInt = 8, num_motifs: NonNegativeInt = 80,
              grid_size: PositiveInt = 3,
              noise_ratio: NonNegativeFloat = 0.0,
              num_features: PositiveInt = 10) -> BenchmarkDataset:
    """Tree-Grid: N = (2^(depth+1) - 1) + grid_size^2 * num_motifs; y = 1 on grid nodes."""
    params = dict(seed=_int("seed", seed, 0), depth=_int("depth", depth, 0),
                  num_motifs=_int("num_motifs", num_motifs, 0), grid_size=_int("grid_size", grid_size, 2),
                  noise_ratio=_float("noise_ratio", noise_ratio),
                  num_features=_int("num_features", num_features))
    return _tree_dataset("tree-grid", seed, depth, grid(grid_size, grid_size), num_motifs,
                         params["noise_ratio"], num_features, params)


# --------------------------------------------------------------------------- BA-2Motifs


@register_dataset(DatasetInfo(
    name="ba-2motifs", task=TaskLevel.GRAPH, family="synthetic", has_ground_truth=True,
    citation=PGEXPLAINER,
    provenance=f"generated: {_BA} with m=1 (a 19-edge tree on 20 nodes) + one motif; {_RNG}",
    description="1,000 graphs: a 20-node BA tree (m=1) + a house (class 0) or a 5-cycle (class 1) "
                "joined by one edge to a random base node (25 nodes); 10 constant features; "
                "balanced classes",
))
def ba_2motifs(seed: int = 0, *, num_graphs: PositiveInt = 1000, num_base: PositiveInt = 20,
               base_m: PositiveInt = 1,
               num_features: PositiveInt = 10) -> BenchmarkDataset:
    """BA-2Motifs: graph g has label 0 (house) or 1 (5-cycle); floor(G/2) graphs are 5-cycles.

    Labels are a seeded permutation of the balanced label list; then each graph's
    base and motif are drawn in graph order from the same generator. Node ids of
    graph g: ``node_ptr[g] + 0..num_base-1`` base, then the motif's nodes.
    """
    params = dict(seed=_int("seed", seed, 0), num_graphs=_int("num_graphs", num_graphs),
                  num_base=_int("num_base", num_base, 2), base_m=_int("base_m", base_m),
                  num_features=_int("num_features", num_features))
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_graphs) % 2)
    motifs = (MOTIFS["house"], MOTIFS["cycle5"])
    edge_indices, gt_edges, motif_ids, node_ptr, edge_ptr = [], [], [], [0], [0]
    for g, label in enumerate(labels.tolist()):
        sketch = GraphSketch()
        sketch.add_nodes(num_base)
        sketch.add_edges(barabasi_albert(num_base, base_m, rng), EdgeKind.BASE)
        attach_motifs(sketch, motifs[label], 1, np.arange(num_base), rng)
        edge_index, kind = sketch.to_edge_index()
        edge_indices.append(edge_index + node_ptr[-1])
        gt_edges.append(kind == int(EdgeKind.MOTIF))
        motif_ids.append(torch.from_numpy(np.where(sketch.motif_ids >= 0, g, -1)))
        node_ptr.append(node_ptr[-1] + sketch.num_nodes)
        edge_ptr.append(edge_ptr[-1] + edge_index.size(1))
    node_ptr_t, edge_ptr_t = torch.tensor(node_ptr), torch.tensor(edge_ptr)
    num_nodes = node_ptr[-1]
    batch = torch.repeat_interleave(torch.arange(num_graphs), node_ptr_t.diff())
    motif_id = torch.cat(motif_ids)
    data = Data(x=_ones(num_nodes, num_features), edge_index=torch.cat(edge_indices, 1), batch=batch,
                motif_id=motif_id, num_nodes=num_nodes)
    y = torch.from_numpy(labels.astype(np.int64))
    splits = stratified_split(y, seed)
    return BenchmarkDataset(
        info=dataset_info("ba-2motifs"), data=data, y=y, num_classes=2, splits=splits,
        explain_ids={k: splits[k] for k in ("val", "test")},
        gt_edge_mask=torch.cat(gt_edges), gt_node_mask=motif_id >= 0,
        node_ptr=node_ptr_t, edge_ptr=edge_ptr_t, params=params,
    )


def motif_anchors(dataset: BenchmarkDataset) -> Tensor:
    """The anchor of every planted motif of a node-task dataset: the motif node joined to
    the base graph by the attachment edge. [num_motifs] long node ids, ascending.

    These are the instances the GNNExplainer and PGExplainer reference code explains
    (one node per motif, e.g. ``range(511, 871, 6)`` on Tree-Cycles), where the suite
    explains every test-split motif node. Found structurally (a ground-truth node with a
    non-ground-truth edge to a non-motif node), so a dataset with noise edges, which can
    touch any motif node, is refused.
    """
    if dataset.task is not TaskLevel.NODE or dataset.gt_node_mask is None \
            or dataset.gt_edge_mask is None:
        raise ValueError(f"motif_anchors: {dataset.name} is not a node task with ground-truth "
                         "motifs")
    if float(dataset.params.get("noise_ratio", 0.0)) > 0:
        raise ValueError(f"motif_anchors: {dataset.name} has noise edges "
                         f"(noise_ratio {dataset.params['noise_ratio']}), so a motif's anchor is "
                         "not identifiable from the graph; use noise_ratio 0")
    motif, (src, dst) = dataset.gt_node_mask, dataset.data.edge_index
    attachment = motif[src] & ~motif[dst] & ~dataset.gt_edge_mask
    return torch.unique(src[attachment])
