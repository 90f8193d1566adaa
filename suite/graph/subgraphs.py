"""Batched computation subgraphs: many explained instances in one forward pass.

For a node target ``t`` of a ``k``-layer model, edge ``u -> v`` can change ``t``'s
prediction only when ``v`` lies within ``k - 1`` hops of ``t`` (hops follow edges
backwards, towards sources). Those are the *explainable* edges. Degree-normalised
layers (GCN) also need every node's full in-degree, so every edge into a node
within ``k`` hops is kept as fixed, unexplainable *context* (mask 1, never scored):
then each target's prediction in the union equals its full-graph prediction.

Graph targets are whole graphs: every edge is explainable.

The union is a disjoint copy per instance, so per-instance losses summed over the
batch give each instance exactly its own gradients: a batched optimisation with an
element-wise optimiser (Adam) equals one optimisation per instance.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

from suite.core.types import BenchmarkDataset, TaskLevel
from suite.graph.pruning import carry_plans

#: Largest dense [targets x nodes] reachability table built at once (bool entries).
_MAX_DENSE_ENTRIES = 20_000_000


@dataclass
class InstanceBatch:
    """The disjoint union of ``B`` instances' computation subgraphs.

    Attributes:
        task: node or graph.
        instance_ids: [B] global node ids (node task) or graph ids (graph task).
        x: [n, F] node features of the union.
        edge_index: [2, m] union-local edges.
        node_ids: [n] global node id of every union node.
        node_instance: [n] instance position (0..B-1) of every union node.
        edge_ids: [m] global edge id of every union edge.
        edge_instance: [m] instance position of every union edge.
        explainable: [m] bool, False on context edges (degree-only, never scored).
        target_index: [B] union position of each target node (node task) or of the
            first node of each graph (graph task).
        edge_attr: [m, D] or None; edge_type: [m] or None.
        prunable: node batches only: explainers may propagate each layer over just the
            edges that can still reach a target (``suite.graph.pruning``); False for the
            full-graph reference views, which must run the plain model.
    """

    task: TaskLevel
    instance_ids: Tensor
    x: Tensor
    edge_index: Tensor
    node_ids: Tensor
    node_instance: Tensor
    edge_ids: Tensor
    edge_instance: Tensor
    explainable: Tensor
    target_index: Tensor
    edge_attr: Tensor | None = None
    edge_type: Tensor | None = None
    prunable: bool = True

    @property
    def num_instances(self) -> int:
        return int(self.instance_ids.numel())

    @property
    def num_explainable(self) -> int:
        return int(self.explainable.sum())

    def explained_edge_ptr(self) -> Tensor:
        """[B+1] offsets of each instance's explainable edges (they are contiguous)."""
        return segment_offsets(self.edge_instance[self.explainable], self.num_instances)

    def explained_node_ptr(self) -> Tensor:
        """[B+1] offsets of each instance's nodes (they are contiguous)."""
        return segment_offsets(self.node_instance, self.num_instances)

    def full_mask(self, explainable_mask: Tensor) -> Tensor:
        """[num_explainable] mask -> [m] mask with 1 on context edges (differentiable)."""
        out = explainable_mask.new_ones(self.edge_ids.numel())
        return out.masked_scatter(self.explainable, explainable_mask)

    def model_kwargs(self) -> dict[str, Tensor]:
        """Keyword arguments for ``model(x, edge_index, **kwargs)``."""
        kwargs: dict[str, Tensor] = {}
        if self.task == TaskLevel.GRAPH:
            kwargs["batch"] = self.node_instance
        if self.edge_attr is not None:
            kwargs["edge_attr"] = self.edge_attr
        if self.edge_type is not None:
            kwargs["edge_type"] = self.edge_type
        return kwargs

    def select_outputs(self, out: Tensor) -> Tensor:
        """Model output over the union -> [B, ...] rows of the explained instances."""
        return out[self.target_index] if self.task == TaskLevel.NODE else out

    def subset(self, keep: Tensor) -> "InstanceBatch":
        """The batch of the instances where ``keep`` [B] (bool) is True, in order: their
        nodes and edges only, relabelled (the instances are disjoint, so each keeps
        exactly its own computation subgraph); :meth:`take` of their positions."""
        keep = keep.to(device=self.x.device, dtype=torch.bool)
        return self.take(torch.nonzero(keep).view(-1))

    @functools.cached_property
    def _instance_offsets(self) -> tuple[Tensor, Tensor]:
        """[B+1] offsets of each instance's nodes and of its edges (both are contiguous)."""
        return self.explained_node_ptr(), segment_offsets(self.edge_instance, self.num_instances)

    def positions(self, rows: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """For the instances at positions ``rows`` [b]: ((node positions [n'], the row index
        0..b-1 of each), (edge positions [m'], the row index of each)) in this batch, in
        the order :meth:`take` lays them out (per-node or per-edge values recorded on this
        batch are sliced with them)."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.x.device).view(-1)
        node_ptr, edge_ptr = self._instance_offsets
        nodes, node_row, _ = take_segments(node_ptr, rows)
        edges, edge_row, _ = take_segments(edge_ptr, rows)
        return (nodes, node_row), (edges, edge_row)

    def take(self, rows: Tensor) -> "InstanceBatch":
        """The batch of the instances at positions ``rows`` [b] (long, any order), built the
        way :func:`instance_batch` builds the batch of those instances in that order (the
        same fields, in the same order), by slicing their subgraphs out of this one: a
        loop over mini-batches of a fixed instance set extracts the subgraphs once."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.x.device).view(-1)
        node_ptr, edge_ptr = self._instance_offsets
        nodes, node_instance, shift = take_segments(node_ptr, rows)  # shift: old node -> new
        edges, edge_instance, _ = take_segments(edge_ptr, rows)

        def pick(values: Tensor | None, index: Tensor, dim: int = 0) -> Tensor | None:
            return None if values is None else values.index_select(dim, index)

        taken = InstanceBatch(
            task=self.task, instance_ids=pick(self.instance_ids, rows), x=pick(self.x, nodes),
            edge_index=pick(self.edge_index, edges, 1) + shift.index_select(0, edge_instance),
            node_ids=pick(self.node_ids, nodes), node_instance=node_instance,
            edge_ids=pick(self.edge_ids, edges), edge_instance=edge_instance,
            explainable=pick(self.explainable, edges),
            target_index=pick(self.target_index, rows) + shift,
            edge_attr=pick(self.edge_attr, edges), edge_type=pick(self.edge_type, edges),
            prunable=self.prunable)
        carry_plans(self, taken, nodes)
        return taken

    def to(self, device: torch.device | str) -> "InstanceBatch":
        """A copy on ``device`` (fields only: caches kept on the instance are not carried)."""
        moved = {f.name: (v.to(device) if isinstance(v, Tensor) else v)
                 for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}
        return InstanceBatch(**moved)


def segment_offsets(instance: Tensor, count: int) -> Tensor:
    """[count+1] offsets of each instance's rows in a sorted ``instance`` [r] vector."""
    counts = torch.bincount(instance, minlength=count)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def concat_ranges(starts: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    """The concatenated ranges ``starts[i] .. starts[i] + counts[i]`` [sum counts] and the
    position ``i`` of each of their entries."""
    owner = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    first = torch.cumsum(counts, 0) - counts
    offset = (starts - first).index_select(0, owner)
    return offset + torch.arange(owner.numel(), device=counts.device), owner


def take_segments(ptr: Tensor, rows: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For the instances at ``rows`` [b] of contiguous segments with offsets ``ptr`` [B+1]:
    (positions [k] of their entries, laid out row after row; the row 0..b-1 of each entry;
    the shift [b] that moves a row's old positions to its new ones)."""
    counts = ptr[rows + 1] - ptr[rows]
    positions, owner = concat_ranges(ptr[rows], counts)
    return positions, owner, (torch.cumsum(counts, 0) - counts) - ptr[rows]


def hop_union(edge_index: Tensor, nodes: Tensor, num_hops: int,
              num_nodes: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One (not per-instance) subgraph: every node within ``num_hops`` in-hops of ``nodes`` [k]
    and every edge between them.

    Returns ``(subset [n'] global node ids, edge_index [2, m'] relabelled, position [k] of
    each of ``nodes`` in ``subset``, edge_ids [m'] global ids of the kept edges, in order)``.
    """
    from torch_geometric.utils import k_hop_subgraph

    subset, sub_edges, position, edge_mask = k_hop_subgraph(
        nodes, num_hops, edge_index, relabel_nodes=True, num_nodes=num_nodes)
    return subset, sub_edges, position, edge_mask.nonzero().view(-1)


def edge_extras(data: Data, edge_ids: Tensor) -> dict[str, Tensor | None]:
    """``edge_attr`` / ``edge_type`` of ``data`` at ``edge_ids`` [k] (None where it has none)."""
    attr = getattr(data, "edge_attr", None)
    etype = getattr(data, "edge_type", None)
    return {
        "edge_attr": None if attr is None else attr[edge_ids],
        "edge_type": None if etype is None else etype[edge_ids],
    }


def node_batch(data: Data, targets: Tensor, num_hops: int) -> InstanceBatch:
    """Union of the ``num_hops``-layer computation subgraphs of node ``targets`` [B]."""
    if num_hops < 1:
        raise ValueError(f"num_hops must be >= 1 (got {num_hops})")
    targets = torch.as_tensor(targets, dtype=torch.long).view(-1)
    size = max(int(data.num_nodes), int(data.edge_index.size(1)), 1)
    chunk = max(1, _MAX_DENSE_ENTRIES // size)
    parts = [_node_batch_sparse(data, targets[i : i + chunk], num_hops, offset=i)
             for i in range(0, targets.numel(), chunk)]
    if len(parts) == 1:
        return parts[0]
    return _concat(parts, targets)


def _in_edges(keys: Tensor, n: int, order: Tensor, ptr: Tensor) -> tuple[Tensor, Tensor]:
    """For (instance * n + node) ``keys``: (instance of each in-edge, edge id), every edge
    into each key's node, via the dst-sorted edge ``order`` and its offsets ``ptr`` [n+1]."""
    inst, node = keys // n, keys % n
    counts = ptr[node + 1] - ptr[node]
    rep = torch.repeat_interleave(torch.arange(keys.numel()), counts)
    starts = torch.cumsum(counts, 0) - counts
    pos = ptr[node][rep] + (torch.arange(rep.numel()) - starts[rep])
    return inst[rep], order[pos]


def _node_batch_sparse(data: Data, targets: Tensor, k: int, offset: int) -> InstanceBatch:
    """The same batch as :func:`_node_batch_chunk`, built from the targets' neighbourhoods
    only (a frontier search over in-edges): cost grows with the computation subgraphs,
    not with the graph."""
    src, dst = data.edge_index
    n, e, b = int(data.num_nodes), int(src.numel()), int(targets.numel())
    order = torch.argsort(dst, stable=True)
    ptr = torch.zeros(n + 1, dtype=torch.long)
    ptr[1:] = torch.bincount(dst, minlength=n).cumsum(0)
    frontier = torch.arange(b) * n + targets
    levels = [frontier]
    visited = frontier.sort().values
    for _hop in range(k):
        inst, eid = _in_edges(frontier, n, order, ptr)
        new = torch.unique(inst * n + src[eid])
        new = new[~torch.isin(new, visited)]
        levels.append(new)
        visited = torch.cat([visited, new]).sort().values
        frontier = new
    inner = torch.cat(levels[:k]).sort().values  # (instance, node) within k-1 hops
    reach = visited  # within k hops
    inst, eid = _in_edges(reach, n, order, ptr)  # every edge into a reached node
    edge_keys = (inst * e + eid).sort().values
    eb, eid = edge_keys // e, edge_keys % e
    node_keys = torch.unique(torch.cat([reach, eb * n + src[eid]]))
    nb, nid = node_keys // n, node_keys % n
    dst_keys = eb * n + dst[eid]
    explainable = torch.isin(dst_keys, inner)
    edge_index = torch.stack([torch.searchsorted(node_keys, eb * n + src[eid]),
                              torch.searchsorted(node_keys, dst_keys)])
    return InstanceBatch(
        task=TaskLevel.NODE,
        instance_ids=targets,
        x=data.x[nid],
        edge_index=edge_index,
        node_ids=nid,
        node_instance=nb + offset,
        edge_ids=eid,
        edge_instance=eb + offset,
        explainable=explainable,
        target_index=torch.searchsorted(node_keys, torch.arange(b) * n + targets),
        **edge_extras(data, eid),
    )


def _node_batch_chunk(data: Data, targets: Tensor, k: int, offset: int) -> InstanceBatch:
    """Dense reference of :func:`_node_batch_sparse` ([targets x nodes] reachability
    tables: cost grows with the graph); kept for the tests that check the two agree."""
    src, dst = data.edge_index
    n, b = int(data.num_nodes), int(targets.numel())
    reach = torch.zeros(b, n, dtype=torch.bool)
    reach[torch.arange(b), targets] = True
    inner = reach
    for hop in range(k):
        if hop == k - 1:
            inner = reach.clone()  # nodes within k-1 hops
        step = reach.clone()
        # a source joins when one of its out-edges ends in the reached set
        hit = reach[:, dst]  # [b, E]
        rows, cols = hit.nonzero(as_tuple=True)
        step[rows, src[cols]] = True
        reach = step
    into_inner = inner[:, dst]  # explainable edges [b, E]
    into_reach = reach[:, dst]  # explainable + context edges
    eb, eid = into_reach.nonzero(as_tuple=True)  # sorted by instance, then edge id
    nodes = reach.clone()
    nodes[eb, src[eid]] = True  # sources of context edges
    nb, nid = nodes.nonzero(as_tuple=True)
    position = torch.full((b, n), -1, dtype=torch.long)
    position[nb, nid] = torch.arange(nb.numel())
    edge_index = torch.stack([position[eb, src[eid]], position[eb, dst[eid]]])
    return InstanceBatch(
        task=TaskLevel.NODE,
        instance_ids=targets,
        x=data.x[nid],
        edge_index=edge_index,
        node_ids=nid,
        node_instance=nb + offset,
        edge_ids=eid,
        edge_instance=eb + offset,
        explainable=into_inner[eb, eid],
        target_index=position[torch.arange(b), targets],
        **edge_extras(data, eid),
    )


def _concat(parts: list[InstanceBatch], targets: Tensor) -> InstanceBatch:
    shift, edge_indices, target_index = 0, [], []
    for part in parts:
        edge_indices.append(part.edge_index + shift)
        target_index.append(part.target_index + shift)
        shift += part.x.size(0)

    def cat(name: str) -> Tensor | None:
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else torch.cat(values)

    return InstanceBatch(
        task=parts[0].task, instance_ids=targets, x=cat("x"),
        edge_index=torch.cat(edge_indices, dim=1), node_ids=cat("node_ids"),
        node_instance=cat("node_instance"), edge_ids=cat("edge_ids"),
        edge_instance=cat("edge_instance"), explainable=cat("explainable"),
        target_index=torch.cat(target_index), edge_attr=cat("edge_attr"),
        edge_type=cat("edge_type"),
    )


def graph_batch(dataset: BenchmarkDataset, graph_ids: Tensor) -> InstanceBatch:
    """Union of whole graphs ``graph_ids`` [B] of a graph-task dataset (all edges explainable)."""
    assert dataset.node_ptr is not None and dataset.edge_ptr is not None
    graph_ids = torch.as_tensor(graph_ids, dtype=torch.long).view(-1)
    node_ptr, edge_ptr = dataset.node_ptr, dataset.edge_ptr
    n_counts = node_ptr[graph_ids + 1] - node_ptr[graph_ids]
    e_counts = edge_ptr[graph_ids + 1] - edge_ptr[graph_ids]
    b = graph_ids.numel()
    node_instance = torch.repeat_interleave(torch.arange(b), n_counts)
    edge_instance = torch.repeat_interleave(torch.arange(b), e_counts)
    local_start = torch.cat([n_counts.new_zeros(1), n_counts.cumsum(0)[:-1]])
    node_ids = node_ptr[graph_ids][node_instance] + (
        torch.arange(node_instance.numel()) - local_start[node_instance])
    e_start = torch.cat([e_counts.new_zeros(1), e_counts.cumsum(0)[:-1]])
    edge_ids = edge_ptr[graph_ids][edge_instance] + (
        torch.arange(edge_instance.numel()) - e_start[edge_instance])
    shift = (local_start - node_ptr[graph_ids])[edge_instance]
    edge_index = dataset.data.edge_index[:, edge_ids] + shift
    return InstanceBatch(
        task=TaskLevel.GRAPH,
        instance_ids=graph_ids,
        x=dataset.data.x[node_ids],
        edge_index=edge_index,
        node_ids=node_ids,
        node_instance=node_instance,
        edge_ids=edge_ids,
        edge_instance=edge_instance,
        explainable=torch.ones(edge_ids.numel(), dtype=torch.bool),
        target_index=local_start,
        **edge_extras(dataset.data, edge_ids),
    )


def instance_batch(dataset: BenchmarkDataset, ids: Tensor, num_hops: int) -> InstanceBatch:
    """The batch for ``ids`` of ``dataset``, whatever its task level."""
    if dataset.task == TaskLevel.NODE:
        return node_batch(dataset.data, ids, num_hops)
    return graph_batch(dataset, ids)


#: Bytes one union edge is budgeted during an explainer step (edge ids and index, mask,
#: per-layer messages of width up to ~64 and their gradients): a conservative estimate
#: that sizes the chunks of :func:`batch_chunks`.
BYTES_PER_EDGE = 4096


def memory_budget(device: torch.device | str = "cpu", share: float = 0.25) -> int:
    """Bytes a batch may use: ``share`` of the free GPU memory, or of the machine's RAM."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free * share)
    import os

    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total * share)


def batch_chunks(dataset: BenchmarkDataset, ids: Tensor, num_hops: int,
                 max_edges: int | None = None, device: torch.device | str = "cpu",
                 probe: int = 256) -> list[InstanceBatch]:
    """``instance_batch`` of ``ids`` [B], split into chunks of at most ``max_edges`` union
    edges each (default: :func:`memory_budget` / :data:`BYTES_PER_EDGE`).

    The chunk size adapts: the first ``probe`` instances are batched, their mean edge count
    per instance sets the next chunk's size, and so on. Chunks are disjoint unions of
    whole instances in the order of ``ids``, so per-instance results do not change; a
    single instance larger than the budget still gets its own chunk.
    """
    ids = torch.as_tensor(ids, dtype=torch.long).view(-1)
    if max_edges is None:
        max_edges = max(1, memory_budget(device) // BYTES_PER_EDGE)
    if max_edges < 1:
        raise ValueError(f"max_edges: must be >= 1 (got {max_edges})")
    chunks: list[InstanceBatch] = []
    start, size = 0, max(1, min(probe, ids.numel()))
    while start < ids.numel():
        part = instance_batch(dataset, ids[start:start + size], num_hops)
        edges = int(part.edge_ids.numel())
        if edges > max_edges and size > 1:  # too big: retry with a smaller chunk
            size = max(1, int(size * max_edges / edges))
            continue
        chunks.append(part)
        start += size
        per_instance = max(edges / max(part.num_instances, 1), 1.0)
        size = max(1, int(max_edges / per_instance))
    return chunks
