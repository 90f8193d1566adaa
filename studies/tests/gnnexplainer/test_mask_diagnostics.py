"""suite_studies.gnnexplainer.mask_diagnostics against independent one-edge-at-a-time computations."""

import torch
from suite_studies.gnnexplainer.mask_diagnostics import (
    empty_mask_effect,
    head_hops,
    occlusion_effect,
)

from suite.explainers.toolkit import instance_views


def _bfs_hops(edge_index: torch.Tensor, target: int, num_nodes: int) -> torch.Tensor:
    """Plain BFS on the undirected graph (the tiny dataset's edges come in both directions)."""
    adj = [[] for _ in range(num_nodes)]
    for u, v in edge_index.t().tolist():
        adj[v].append(u)
    dist = [-1] * num_nodes
    dist[target], queue = 0, [target]
    for node in queue:
        for nb in adj[node]:
            if dist[nb] < 0:
                dist[nb] = dist[node] + 1
                queue.append(nb)
    return torch.tensor(dist)


def test_occlusion_and_hops_equal_deleting_each_edge_alone(tiny_node_dataset, tiny_gcn):
    ds, model = tiny_node_dataset, tiny_gcn
    ids = ds.explain_ids["test"][:3]
    (view,) = instance_views(ds, ids, model.num_layers, batched=True)
    effect = occlusion_effect(model, view, "weight")
    hops = head_hops(view)
    edge_ids = view.edge_ids[view.explainable]
    owner = view.edge_instance[view.explainable]
    ei = ds.data.edge_index
    with torch.no_grad():
        full = torch.log_softmax(model(ds.data.x, ei), -1)
    pred = full.argmax(-1)
    for j in range(edge_ids.numel()):
        target = int(ids[owner[j]])
        keep = torch.ones(ei.size(1), dtype=torch.bool)
        keep[edge_ids[j]] = False
        with torch.no_grad():
            logp = torch.log_softmax(model(ds.data.x, ei[:, keep]), -1)[target, pred[target]]
        assert abs(float(full[target, pred[target]] - logp) - float(effect[j])) < 1e-5
        head = int(ei[1, edge_ids[j]])
        assert int(hops[j]) == int(_bfs_hops(ei, target, ds.data.num_nodes)[head])
    assert int(hops.max()) == model.num_layers - 1


def test_empty_mask_weight_mode_is_the_isolated_target(tiny_node_dataset, tiny_gcn):
    ds, model = tiny_node_dataset, tiny_gcn
    ids = ds.explain_ids["test"][:3]
    (view,) = instance_views(ds, ids, model.num_layers, batched=True)
    kept, p_full, p_empty = empty_mask_effect(model, view, "weight")
    with torch.no_grad():
        full = torch.softmax(model(ds.data.x, ds.data.edge_index), -1)[ids]
        alone = torch.softmax(model(ds.data.x, ds.data.edge_index[:, :0]), -1)[ids]
    pred = full.argmax(-1)
    torch.testing.assert_close(p_full, full.gather(1, pred.view(-1, 1)).squeeze(1), atol=1e-5, rtol=0)
    torch.testing.assert_close(p_empty, alone.gather(1, pred.view(-1, 1)).squeeze(1), atol=1e-5, rtol=0)
    assert torch.equal(kept, alone.argmax(-1) == pred)
