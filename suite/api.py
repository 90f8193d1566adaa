"""The public Python API: explain your own trained PyG model on your own data.

    from suite.api import explain
    explanation = explain(model, data, explainer="gnnexplainer", index=[3, 7])
    explanation.edge_ids, explanation.edge_scores   # edge ids index data.edge_index

No runner, no store: the data is wrapped into a ``BenchmarkDataset`` (without
ground truth) and the registered explainer is called directly. Score the result
with the metric functions of ``suite.metrics``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from suite.core.types import BenchmarkDataset, DatasetInfo, Explanation, TaskLevel
from suite.explainers import build_explainer
from suite.explainers.toolkit import model_num_hops

__all__ = ["explain", "infer_task", "user_dataset", "UserModel"]

GraphData = Data | Batch | Sequence[Data]


class UserModel(nn.Module):
    """Adapts a user's model to the suite's calling convention.

    The suite calls ``forward(x, edge_index, batch=None, edge_attr=None, edge_type=None)``;
    the user's model gets ``model(x, edge_index)`` plus ``batch=...`` for graph tasks
    and ``edge_attr``/``edge_type`` only when its ``forward`` accepts them.

    A model whose ``forward`` takes something else (e.g. one ``Data``) is called through
    ``forward_fn(model, x, edge_index, **kwargs)`` instead, with the same keywords; its
    output must be logits [N, C] (node task) or [G, C] (graph task), else a ``ValueError``
    names the expected shape.

    Attributes:
        model: the wrapped model (a submodule, so hooks and copies reach its layers).
        task: node or graph.
        num_layers: message-passing depth (hops of the computation subgraph).
        forward_fn: how to call ``model`` (None: ``model(x, edge_index, **kwargs)``).
    """

    def __init__(self, model: nn.Module, task: TaskLevel, num_layers: int,
                 forward_fn: Callable[..., Tensor] | None = None) -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.num_layers = num_layers
        self.forward_fn = forward_fn
        params = inspect.signature(model.forward).parameters
        positional = [p for p in params.values() if p.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        var_args = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())
        if forward_fn is None and len(positional) < 2 and not var_args:
            raise TypeError(
                f"model: forward takes {[p.name for p in positional]}, not (x, edge_index); pass "
                "forward_fn=lambda m, x, edge_index, **kw: m(Data(x=x, edge_index=edge_index, **kw))")
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        self._accepts = ({"edge_attr", "edge_type"} if forward_fn is not None else
                         {name for name in ("edge_attr", "edge_type") if var_kw or name in params})

    def forward(self, x: Tensor, edge_index: Tensor, batch: Tensor | None = None,
                edge_attr: Tensor | None = None, edge_type: Tensor | None = None) -> Tensor:
        kwargs: dict[str, Tensor] = {}
        if self.task == TaskLevel.GRAPH:
            kwargs["batch"] = batch if batch is not None else x.new_zeros(x.size(0), dtype=torch.long)
        for name, value in (("edge_attr", edge_attr), ("edge_type", edge_type)):
            if value is not None and name in self._accepts:
                kwargs[name] = value
        if self.forward_fn is None:
            return self.model(x, edge_index, **kwargs)
        out = self.forward_fn(self.model, x, edge_index, **kwargs)
        rows = (int(kwargs["batch"].max()) + 1 if kwargs["batch"].numel() else 0) \
            if self.task == TaskLevel.GRAPH else x.size(0)
        if not isinstance(out, Tensor) or out.dim() != 2 or out.size(0) != rows:
            what = "[G, C] logits, one row per graph" if self.task == TaskLevel.GRAPH \
                else "[N, C] logits, one row per node"
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"forward_fn: expected {what} ({rows} rows); got {got}")
        return out


def _graph_list(data: GraphData) -> list[Data]:
    if isinstance(data, Batch):
        return data.to_data_list()
    if isinstance(data, Data):
        return [data]
    graphs = list(data)
    if not graphs or not all(isinstance(g, Data) for g in graphs):
        raise TypeError("data: expected a Data, a Batch or a non-empty list of Data "
                        f"(got {type(data).__name__})")
    return graphs


def _labels(values: Any, count: int) -> Tensor:
    """The user's labels when they have one entry per instance, else -1 (unknown)."""
    if isinstance(values, Tensor) and values.numel() == count:
        return values.view(-1).long()
    return torch.full((count,), -1, dtype=torch.long)


def user_dataset(data: GraphData, task: str | TaskLevel = "node") -> BenchmarkDataset:
    """Wrap a user's data into a ``BenchmarkDataset`` with no ground truth.

    Node task: one ``Data`` (``x`` [N, F], ``edge_index`` [2, E]); ids are node ids.
    Graph task: a ``Data`` (one graph), a list of ``Data`` or a ``Batch``, concatenated
    in order; ids are graph positions and edge ids index the concatenated edges
    (for a single graph: ``data.edge_index`` itself).
    """
    task = TaskLevel.parse(task)
    info = DatasetInfo(name="user-data", task=task, family="user", has_ground_truth=False,
                       citation="user-provided", provenance="suite.api.explain")
    if task == TaskLevel.NODE:
        if not isinstance(data, Data) or isinstance(data, Batch):
            raise TypeError(f"data: a node task needs one torch_geometric Data (got {type(data).__name__})")
        if data.x is None:
            raise ValueError("data.x: node features are required (got None)")
        out = Data(x=data.x, edge_index=data.edge_index)
        for key in ("edge_attr", "edge_type"):
            if getattr(data, key, None) is not None:
                out[key] = data[key]
        n = int(data.num_nodes)
        y = _labels(getattr(data, "y", None), n)
        all_ids = torch.arange(n)
        return BenchmarkDataset(
            info=info, data=out, y=y, num_classes=int(y.max()) + 1 if n else 0,
            splits={"train": all_ids[:0], "val": all_ids[:0], "test": all_ids},
            explain_ids={"val": all_ids[:0], "test": all_ids},
        )
    graphs = _graph_list(data)
    xs, edges, extras = [], [], {"edge_attr": [], "edge_type": []}
    node_ptr, edge_ptr = [0], [0]
    for g in graphs:
        if g.x is None:
            raise ValueError("data.x: node features are required on every graph (got None)")
        xs.append(g.x)
        edges.append(g.edge_index + node_ptr[-1])
        for key in extras:
            if getattr(g, key, None) is not None:
                extras[key].append(g[key])
        node_ptr.append(node_ptr[-1] + int(g.num_nodes))
        edge_ptr.append(edge_ptr[-1] + int(g.edge_index.size(1)))
    counts = torch.diff(torch.tensor(node_ptr))
    out = Data(x=torch.cat(xs), edge_index=torch.cat(edges, dim=1),
               batch=torch.repeat_interleave(torch.arange(len(graphs)), counts))
    for key, values in extras.items():
        if len(values) == len(graphs):
            out[key] = torch.cat(values)
    ys = [getattr(g, "y", None) for g in graphs]
    y = (torch.cat([v.view(-1)[:1] for v in ys]) if all(isinstance(v, Tensor) and v.numel() for v in ys)
         else None)
    y = _labels(y, len(graphs))
    all_ids = torch.arange(len(graphs))
    return BenchmarkDataset(
        info=info, data=out, y=y, num_classes=int(y.max()) + 1,
        splits={"train": all_ids[:0], "val": all_ids[:0], "test": all_ids},
        explain_ids={"val": all_ids[:0], "test": all_ids},
        node_ptr=torch.tensor(node_ptr), edge_ptr=torch.tensor(edge_ptr),
    )


def infer_task(data: GraphData) -> TaskLevel:
    """The task ``data`` implies: several graphs (a ``Batch`` or a list) are a graph task,
    one ``Data`` a node task (pass ``task="graph"`` to explain one graph as a graph task)."""
    return TaskLevel.NODE if isinstance(data, Data) and not isinstance(data, Batch) else TaskLevel.GRAPH


def _ids(index: int | Sequence[int] | Tensor | None, dataset: BenchmarkDataset) -> Tensor:
    count = int(dataset.data.num_nodes) if dataset.task == TaskLevel.NODE else dataset.num_graphs
    ids = torch.arange(count) if index is None else torch.as_tensor(index, dtype=torch.long).view(-1)
    bad = ids[(ids < 0) | (ids >= count)]
    if bad.numel():
        what = "node" if dataset.task == TaskLevel.NODE else "graph"
        raise IndexError(f"index: {what} id {int(bad[0])} out of range 0..{count - 1}")
    return ids


def explain(model: nn.Module, data: GraphData, explainer: str = "gnnexplainer",
            index: int | Sequence[int] | Tensor | None = None, task: str | TaskLevel | None = None,
            seed: int = 0, num_hops: int | None = None, fit_index: Any = None,
            forward_fn: Callable[..., Tensor] | None = None, **hparams: Any) -> Explanation:
    """Explain a user's trained PyG model with any registered explainer.

    Args:
        model: callable as ``model(x, edge_index)`` -> logits [N, C] (node task) or
            ``model(x, edge_index, batch=batch)`` -> [G, C] (graph task), built from
            PyG ``MessagePassing`` layers (explainers hook their messages).
        data: node task: one ``Data``; graph task: a ``Data``, a list of ``Data`` or a ``Batch``.
        explainer: a registered explainer name (``suite list explainers``).
        index: node ids (node task) or graph positions (graph task); None = all.
        task: ``"node"`` or ``"graph"``; None infers it from ``data``: a ``Batch`` or a list
            of ``Data`` is a graph task, one ``Data`` a node task.
        seed: seeds every random draw of the explainer.
        num_hops: message-passing depth; default ``model.num_layers`` or the number of
            ``MessagePassing`` layers in the model.
        fit_index: instances to fit amortised explainers on (default: ``index``).
        forward_fn: for a model not called as ``model(x, edge_index, ...)``: a function
            ``forward_fn(model, x, edge_index, batch=..., edge_attr=..., edge_type=...)`` that
            returns its logits, e.g. ``lambda m, x, ei, **kw: m(Data(x=x, edge_index=ei, **kw))``.
        **hparams: the explainer's hyper-parameters (validated; a bad one names the field).

    Returns:
        One ``Explanation`` for the instances, in ``index`` order; ``edge_ids`` index
        ``data.edge_index`` (the concatenated edges for several graphs). Its
        ``to_pyg(data, b)`` gives PyG's ``torch_geometric.explain.Explanation`` of instance ``b``.
    """
    dataset = user_dataset(data, infer_task(data) if task is None else task)
    ids = _ids(index, dataset)
    hops = num_hops if num_hops is not None else model_num_hops(model)
    wrapped = UserModel(model, dataset.task, hops, forward_fn)
    method = build_explainer(explainer, **hparams)
    reason = method.supports(wrapped, dataset)  # type: ignore[arg-type]
    if reason is not None:
        raise ValueError(reason)
    method.fit(wrapped, dataset, ids if fit_index is None else _ids(fit_index, dataset), seed)  # type: ignore[arg-type]
    return method.explain(wrapped, dataset, ids, seed)  # type: ignore[arg-type]
