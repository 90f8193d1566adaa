"""Leave-one-edge-out occlusion, the faithful reference: equal to removing each undirected
edge from the dataset's own edge list and rerunning the model."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch_geometric.data import Data

from suite.explainers import build_explainer, explainer_info
from suite.graph.compact import compact_for
from suite.graph.subgraphs import instance_batch
from suite.models import build_model
from suite.protocol import REFERENCE_SOURCE


def _independent(model, dataset, explanation, k: int) -> float:
    """Edge k of the explanation: drop both directions from the whole graph, rerun."""
    data = dataset.data
    ei = data.edge_index
    b = int(explanation.edge_instance[k])
    instance = int(explanation.instance_ids[b])
    u, v = ei[:, int(explanation.edge_ids[k])].tolist()
    keep = ~(((ei[0] == u) & (ei[1] == v)) | ((ei[0] == v) & (ei[1] == u)))
    kwargs = {"batch": data.batch} if data.batch is not None else {}
    with torch.no_grad():
        full = model(data.x, ei, **kwargs).softmax(-1)[instance]
        removed = model(data.x, ei[:, keep], **kwargs).softmax(-1)[instance]
    predicted = int(full.argmax())
    return float(full[predicted] - removed[predicted])


@pytest.mark.parametrize("which", ["node", "graph"])
def test_occlusion_equals_removing_the_edge_from_the_data(which, tiny_node_dataset, tiny_gcn,
                                                           tiny_graph_dataset, tiny_gin_graph):
    dataset, model = ((tiny_node_dataset, tiny_gcn) if which == "node"
                      else (tiny_graph_dataset, tiny_gin_graph))
    ids = dataset.explain_ids["test"][:4]
    explanation = build_explainer("occlusion").explain(model, dataset, ids, 0)
    gen = torch.Generator().manual_seed(0)
    picks = torch.randint(0, explanation.edge_ids.numel(), (12,), generator=gen).tolist()
    for k in picks:
        assert float(explanation.edge_scores[k]) == pytest.approx(
            _independent(model, dataset, explanation, k), abs=1e-5)
    assert float(explanation.edge_scores.abs().max()) > 1e-3  # not a check of zeros
    assert explanation.signed  # removing an edge may raise the probability too
    assert explainer_info("occlusion").source == REFERENCE_SOURCE


@pytest.mark.parametrize("kind", ["gin", "gat"])
def test_occlusion_on_the_compact_graph_equals_removing_the_edge(kind, tiny_node_dataset,
                                                                 train_model):
    """GIN and GAT take the compact path (each layer drops the removed edges from its own
    input): still the same as removing the edge from the dataset's edge list."""
    dataset = tiny_node_dataset
    if kind == "gat":  # random features: attention is not uniform
        x = torch.randn(dataset.data.num_nodes, 4, generator=torch.Generator().manual_seed(0))
        dataset = dataclasses.replace(dataset, data=Data(x=x, edge_index=dataset.data.edge_index))
    torch.manual_seed(0)
    model = train_model(build_model(kind, dataset, hidden=8, num_layers=3), dataset, 100)
    ids = dataset.explain_ids["test"][:4]
    compact = compact_for(model, instance_batch(dataset, ids, 3))
    assert compact is not None and compact.removes_exactly
    explanation = build_explainer("occlusion").explain(model, dataset, ids, 0)
    for k in range(0, explanation.edge_ids.numel(), 3):
        assert float(explanation.edge_scores[k]) == pytest.approx(
            _independent(model, dataset, explanation, k), abs=1e-5)
    assert float(explanation.edge_scores.abs().max()) > 1e-3
