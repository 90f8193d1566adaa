"""The suite's ragged ``Explanation`` as PyG's ``torch_geometric.explain.Explanation``.

PyG's explanation holds one instance over its whole graph: ``edge_mask`` [E] over every
edge of the graph (0 where the method scored nothing: edges outside the computation
subgraph), ``node_mask`` [N, 1] where the method scores nodes, ``index`` (node task: the
explained node) and ``target`` (the explained class, where the method records it). That
is what PyG's ``visualize_graph`` and ``torch_geometric.explain.metric`` read.

Signed attributions become their magnitude ``|s|`` by default (the suite's headline
convention; PyG's masks are non-negative); ``signed=True`` keeps the sign.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import Tensor
from torch_geometric.data import Batch, Data
from torch_geometric.explain import Explanation as PygExplanation

#: ``Explanation.task.value`` of a node task. This module sits below ``suite.core.types``
#: (whose ``Explanation.to_pyg`` calls it), so it takes the explanation as ``Any``.
_NODE = "node"

__all__ = ["to_pyg", "to_pyg_list"]


def _graphs(data: Data | Batch | Sequence[Data]) -> list[Data]:
    if isinstance(data, Batch):
        return data.to_data_list()
    if isinstance(data, Data):
        return [data]
    return list(data)


def to_pyg(explanation: Any, data: Data | Batch | Sequence[Data], instance: int = 0,
           signed: bool = False) -> PygExplanation:
    """Instance ``instance`` (a position in ``explanation.instance_ids``) as PyG's explanation.

    Args:
        explanation: what ``suite.explain`` (or an explainer) returned for ``data``.
        data: the data that was explained: node task, the one ``Data``; graph task, the
            ``Data``, ``Batch`` or list of ``Data`` whose concatenated edges ``edge_ids``
            index.
        instance: which explained instance, 0 <= instance < B.
        signed: keep signed scores as they are (default: their magnitude).

    Returns:
        ``Explanation(x, edge_index, edge_mask [E], node_mask [N, 1] or absent, index,
        target)`` of the instance's graph (the whole graph for a node task, the explained
        graph for a graph task).
    """
    b = int(instance)
    if not 0 <= b < explanation.num_instances:
        raise IndexError(f"instance: expected 0..{explanation.num_instances - 1} (got {instance})")
    scores = explanation.edge_scores.detach().float().cpu()
    if explanation.signed and not signed:
        scores = scores.abs()
    lo, hi = int(explanation.edge_ptr[b]), int(explanation.edge_ptr[b + 1])
    ids, values = explanation.edge_ids[lo:hi].cpu(), scores[lo:hi]
    graph_id = int(explanation.instance_ids[b])
    if explanation.task.value == _NODE:
        if not isinstance(data, Data) or isinstance(data, Batch):
            raise TypeError(f"data: a node-task explanation needs the one Data it explained "
                            f"(got {type(data).__name__})")
        graph, edge_offset, node_offset = data, 0, 0
    else:
        graphs = _graphs(data)
        if not 0 <= graph_id < len(graphs):
            raise IndexError(f"data: graph {graph_id} was explained but data holds {len(graphs)} graphs")
        graph = graphs[graph_id]
        edge_offset = sum(int(g.edge_index.size(1)) for g in graphs[:graph_id])
        node_offset = sum(int(g.num_nodes) for g in graphs[:graph_id])
    num_edges = int(graph.edge_index.size(1))
    local = ids - edge_offset
    if local.numel() and (int(local.min()) < 0 or int(local.max()) >= num_edges):
        raise ValueError("data: the explanation's edge ids do not fit this data (was it the "
                         "data that was explained?)")
    edge_mask = torch.zeros(num_edges)
    edge_mask[local] = values
    out = PygExplanation(x=graph.x, edge_index=graph.edge_index, edge_mask=edge_mask)
    if explanation.node_scores is not None and explanation.node_ids is not None \
            and explanation.node_ptr is not None:
        nlo, nhi = int(explanation.node_ptr[b]), int(explanation.node_ptr[b + 1])
        node_scores = explanation.node_scores.detach().float().cpu()[nlo:nhi]
        node_mask = torch.zeros(int(graph.num_nodes), 1)
        node_mask[explanation.node_ids[nlo:nhi].cpu() - node_offset, 0] = (
            node_scores if signed or not explanation.signed else node_scores.abs())
        out.node_mask = node_mask
    if explanation.task.value == _NODE:
        out.index = graph_id
    target = explanation.meta.get("target")
    if isinstance(target, Tensor) and target.numel() == explanation.num_instances:
        out.target = target.view(-1)[b : b + 1].cpu()
    return out


def to_pyg_list(explanation: Any, data: Data | Batch | Sequence[Data],
                signed: bool = False) -> list[PygExplanation]:
    """Every explained instance as PyG's explanation, in ``instance_ids`` order (:func:`to_pyg`)."""
    return [to_pyg(explanation, data, b, signed) for b in range(explanation.num_instances)]
