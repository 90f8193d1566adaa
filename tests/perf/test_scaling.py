"""Per-target cost tracks the target's computation subgraph, not the graph (work counts, not
wall time), and grows linearly in the instances; `suite bench --scaling --quick` end to end."""

from __future__ import annotations

import torch

from suite.datasets import load_dataset
from suite.explainers.toolkit import frozen, within_hops
from suite.graph.pruning import count_messages
from suite.graph.subgraphs import batch_chunks
from suite.models import build_model
from suite.perf.scaling import _targets, messages_per_target


def _expected_messages(dataset, targets, k=3) -> int:
    """Independent count from the whole graph: layer l of a GCN computes one message per
    edge into a node within k-1-l hops of the target, plus one self-loop per such node."""
    edge_index, n = dataset.data.edge_index, int(dataset.data.num_nodes)
    total = 0
    for t in targets.tolist():
        for layer in range(k):
            near = within_hops(edge_index, t, k - 1 - layer, n)
            total += int(near[edge_index[1]].sum()) + int(near.sum())
    return total


def test_per_target_work_is_its_subgraph_not_the_graph():
    small = load_dataset("ba-shapes", seed=0, num_base=100, num_motifs=20)
    big = load_dataset("ba-shapes", seed=0, num_base=1000, num_motifs=200)
    assert big.data.num_nodes >= 9 * small.data.num_nodes
    per_target = {}
    for name, dataset in (("small", small), ("big", big)):
        torch.manual_seed(0)
        model = build_model("gcn", dataset, hidden=8, num_layers=3).eval()
        ids = _targets(dataset, 8)
        chunks = batch_chunks(dataset, ids, 3)
        work = messages_per_target(model, chunks) * ids.numel()
        assert work == _expected_messages(dataset, ids)  # exactly its computation subgraphs
        # linear in the instances: two halves cost what the whole costs
        halves = sum(messages_per_target(model, batch_chunks(dataset, part, 3)) * part.numel()
                     for part in (ids[:4], ids[4:]))
        assert halves == work
        # the full graph's forward computes E + N messages per layer, whatever the targets
        with frozen(model), torch.no_grad(), count_messages(model) as full:
            model(dataset.data.x, dataset.data.edge_index)
        assert sum(full) == 3 * (dataset.data.edge_index.size(1) + dataset.data.num_nodes)
        per_target[name] = (work / ids.numel(), sum(full))
    graph_growth = per_target["big"][1] / per_target["small"][1]
    target_growth = per_target["big"][0] / per_target["small"][0]
    assert graph_growth > 8 and target_growth < graph_growth / 2


def test_bench_scaling_quick_writes_png_and_table(tmp_path):
    from suite.cli import main

    assert main(["bench", "--scaling", "--quick", "--out", str(tmp_path), "--quiet"]) == 0
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (tmp_path / "scaling.md").read_text()
    assert table.count("| instances |") == 3 and table.count("| graph size |") == 2
