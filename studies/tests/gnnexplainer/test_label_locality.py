"""WL colour purity and the radius oracle (suite_studies.gnnexplainer.label_locality), against independent computations."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score
from suite_studies.gnnexplainer.label_locality import (
    colour_purity,
    main,
    radius_oracle_auc,
    wl_colours,
)
from torch_geometric.utils import degree, k_hop_subgraph, to_undirected

from suite.datasets import load_dataset


def _partition(colours: torch.Tensor) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, c in enumerate(colours.tolist()):
        groups.setdefault(c, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def test_wl_colours_refine_a_path_by_distance_to_its_ends():
    path = to_undirected(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))
    colours = wl_colours(path, torch.ones(5, 3), rounds=2)
    assert _partition(colours[0]) == {frozenset(range(5))}
    assert _partition(colours[1]) == {frozenset({0, 4}), frozenset({1, 2, 3})}
    assert _partition(colours[2]) == {frozenset({0, 4}), frozenset({1, 3}), frozenset({2})}


def test_wl_colours_start_from_the_distinct_feature_rows():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    colours = wl_colours(torch.empty(2, 0, dtype=torch.long), x, rounds=1)
    assert _partition(colours[0]) == {frozenset({0, 2}), frozenset({1})}
    assert _partition(colours[1]) == _partition(colours[0])
    with pytest.raises(ValueError, match="rounds"):
        wl_colours(torch.empty(2, 0, dtype=torch.long), x, rounds=-1)


def test_colour_purity_is_the_majority_share_within_each_colour():
    colours = torch.tensor([0, 0, 0, 1, 1, 2])
    y = torch.tensor([1, 1, 0, 0, 1, 0])
    assert colour_purity(colours, y) == pytest.approx((2 + 1 + 1) / 6)
    assert colour_purity(colours, y, torch.tensor([0, 1, 5])) == 1.0
    with pytest.raises(ValueError, match="no nodes"):
        colour_purity(colours, y, torch.tensor([], dtype=torch.long))


def test_radius_one_purity_on_tree_cycles_is_the_best_degree_lookup():
    dataset = load_dataset("tree-cycles", seed=0)
    deg = degree(dataset.data.edge_index[1], dataset.data.num_nodes).long()
    best = sum(max(int(((deg == d) & (dataset.y == k)).sum()) for k in (0, 1))
               for d in deg.unique().tolist()) / deg.numel()
    colours = wl_colours(dataset.data.edge_index, dataset.data.x, rounds=1)
    assert colour_purity(colours[1], dataset.y) == pytest.approx(best)
    assert colour_purity(colours[0], dataset.y) == pytest.approx(
        torch.bincount(dataset.y).max().item() / dataset.y.numel())


@pytest.mark.parametrize("num_layers,radius", [(3, 1), (3, 2), (4, 3)])
def test_radius_oracle_auc_matches_sklearn_on_independently_built_pools(num_layers, radius):
    dataset = load_dataset("tree-cycles", seed=1)
    ids = dataset.explain_ids["test"][:12]
    edge_index, n = dataset.data.edge_index, dataset.data.num_nodes
    scores, labels = [], []
    for target in ids.tolist():
        within = [set(k_hop_subgraph(target, h, edge_index, num_nodes=n)[0].tolist())
                  for h in range(num_layers)]
        for e in range(edge_index.size(1)):
            head = int(edge_index[1, e])
            if head in within[num_layers - 1]:
                scores.append(float(head in within[radius - 1]))
                labels.append(int(dataset.gt_edge_mask[e]))
    expected = roc_auc_score(labels, scores)
    assert radius_oracle_auc(dataset, ids, num_layers, radius) == pytest.approx(expected, abs=1e-6)


def test_radius_oracle_refuses_bad_input():
    with pytest.raises(ValueError, match="node tasks"):
        radius_oracle_auc(load_dataset("ba-2motifs", seed=0, num_graphs=20), torch.tensor([0]), 3, 1)
    dataset = load_dataset("tree-cycles", seed=0)
    with pytest.raises(ValueError, match="radius"):
        radius_oracle_auc(dataset, dataset.explain_ids["test"][:2], 3, 0)


def test_cli_prints_one_row_per_dataset_and_seed(capsys):
    assert main(["--datasets", "tree-cycles", "--seeds", "0", "--max-radius", "2", "--layers", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| dataset | seed | majority | purity r=0 | purity r=1 | purity r=2 |")
    assert len(lines) == 3 and lines[2].startswith("| tree-cycles | 0 | 0.587 | 0.587 | 0.898 | 0.998 |")
