"""GINE and GCN-OGB: encoders, the per-edge message contract, float features, a short fit."""

from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("rdkit")
pytest.importorskip("ogb")
from rdkit import Chem  # noqa: E402

from suite.core.types import BenchmarkDataset, DatasetInfo, TaskLevel  # noqa: E402
from suite.datasets.molecules import rules as R  # noqa: E402
from suite.datasets.molecules.ogb_format import OGB_FORMAT, assemble, match_masks, mol_to_graph  # noqa: E402
from suite.datasets.splits import stratified_split  # noqa: E402
from suite.graph.masking import edge_mask, message_hooks  # noqa: E402
from suite.models import build_model, model_info  # noqa: E402
from suite.models.ogb import GINE, BondWeightedGCN, CategoricalEncoder, _lookup  # noqa: E402

SMILES = ["Cc1ccccc1", "CC(=O)CF", "C1CCCCC1", "Nc1ccc(cc1)[N+](=O)[O-]", "CCO", "c1ccc2ccccc2c1",
          "CC(C)C(=O)O", "FC(F)(F)c1ccccc1"]


@pytest.fixture(scope="module")
def ogb_dataset() -> BenchmarkDataset:
    """Eight hand-written molecules in OGB format, labelled by the benzene rule."""
    mols = [Chem.MolFromSmiles(s) for s in SMILES]
    graphs = [mol_to_graph(m) for m in mols]
    results = [R.benzene_rule().evaluate(m) for m in mols]
    gts = [match_masks(g.num_nodes, g.edge_index, r.matches) for g, r in zip(graphs, results)]
    out = assemble([g.node_feat for g in graphs], [g.edge_index for g in graphs],
                   [g.edge_feat for g in graphs], gts)
    y = torch.tensor([r.label for r in results])
    splits = stratified_split(y, 0)
    return BenchmarkDataset(
        info=DatasetInfo("tiny-molecules", TaskLevel.GRAPH, "molecules", True, "test", "test"),
        data=out.data, y=y, num_classes=2, splits=splits,
        explain_ids={k: splits[k] for k in ("val", "test")}, gt_node_mask=out.gt_node_mask,
        gt_edge_mask=out.gt_edge_mask, node_ptr=out.node_ptr, edge_ptr=out.edge_ptr)


def _call(model, ds, **extra):
    d = ds.data
    return model(d.x, d.edge_index, batch=d.batch, edge_attr=getattr(d, "edge_attr", None), **extra)


@pytest.mark.parametrize("name", ["gine", "gcn-ogb"])
def test_metadata_and_encoder_choice(name, ogb_dataset, tiny_graph_dataset):
    assert model_info(name).uses_edge_attr
    torch.manual_seed(0)
    model = build_model(name, ogb_dataset)
    assert ogb_dataset.data.feature_format == OGB_FORMAT
    assert model.encoder_kind == "ogb" and isinstance(model.atom_encoder, CategoricalEncoder)
    other = build_model(name, tiny_graph_dataset)  # constant features, no edge_attr
    assert other.encoder_kind == "linear" and isinstance(other.atom_encoder, torch.nn.Linear)
    assert len(other.bond_encoders) == 0
    with pytest.raises(ValueError, match="encoder"):
        build_model(name, tiny_graph_dataset, encoder="ogb")  # 4 features are not OGB's 9
    with pytest.raises(ValueError, match="encoder"):
        build_model(name, ogb_dataset, encoder="onehot")


@pytest.mark.parametrize("name", ["gine", "gcn-ogb"])
def test_shapes_mask_contract_and_message_counts(name, ogb_dataset):
    torch.manual_seed(0)
    model = build_model(name, ogb_dataset).eval()
    d = ogb_dataset.data
    e, n = d.edge_index.size(1), d.num_nodes
    with torch.no_grad():
        out = _call(model, ogb_dataset)
        z = model.embed(d.x, d.edge_index, d.batch, d.edge_attr)
        assert out.shape == (len(SMILES), 2) and torch.allclose(model.classify(z), out)
        with edge_mask(model, torch.ones(e)):
            ones = _call(model, ogb_dataset)
        with edge_mask(model, torch.zeros(e)):
            zeros = _call(model, ogb_dataset)
        seen = []
        with message_hooks(model, lambda ctx, m: seen.append((ctx.layer, m.size(0))) or m):
            _call(model, ogb_dataset)
    assert torch.allclose(ones, out, atol=1e-6)
    assert not torch.allclose(zeros, out, atol=1e-4)
    extra = n if name == "gcn-ogb" else 0  # GCN appends one self-loop message per node
    assert seen == [(layer, e + extra) for layer in range(model.num_layers)]


@pytest.mark.parametrize("name", ["gine", "gcn-ogb"])
def test_bonds_matter_and_float_features_equal_integer_lookup(name, ogb_dataset):
    torch.manual_seed(0)
    model = build_model(name, ogb_dataset).eval()
    d = ogb_dataset.data
    with torch.no_grad():
        out = _call(model, ogb_dataset)
        as_long = model(d.x.long(), d.edge_index, d.batch, d.edge_attr)
        no_bonds = model(d.x, d.edge_index, d.batch, None)
        other_bonds = model(d.x, d.edge_index, d.batch, torch.zeros_like(d.edge_attr))
    assert torch.allclose(out, as_long, atol=1e-6)  # float x is read exactly at integers
    assert no_bonds.shape == out.shape  # runs without edge_attr (zero bond embeddings / plain GCN)
    assert not torch.allclose(other_bonds, out, atol=1e-5)  # bond features enter the model


def test_lookup_is_exact_at_integers_and_differentiable_between():
    torch.manual_seed(0)
    table = torch.nn.Embedding(5, 3)
    ints = torch.tensor([0, 1, 4, 2])
    assert torch.equal(_lookup(table, ints.float()), table(ints))
    v = torch.tensor([1.25, 3.0, 7.0, -2.0], requires_grad=True)  # out of range clamps to the table
    out = _lookup(table, v)
    w = table.weight.detach()
    assert torch.allclose(out[0], 0.75 * w[1] + 0.25 * w[2])
    assert torch.allclose(out[2], w[4]) and torch.allclose(out[3], w[0])
    out.sum().backward()
    assert v.grad is not None and v.grad[0] != 0


def test_gradients_reach_float_atom_features(ogb_dataset):
    torch.manual_seed(0)
    model = build_model("gine", ogb_dataset).eval()
    d = ogb_dataset.data
    x = d.x.clone().requires_grad_(True)
    logits = model(x, d.edge_index, d.batch, d.edge_attr)
    (grad,) = torch.autograd.grad(logits[:, 1].sum(), x)
    assert grad.abs().sum() > 0


def test_gine_on_tu_style_one_hot_features():
    """MUTAG-like data: one-hot float atoms and bonds go through Linear encoders."""
    x = torch.eye(3)[torch.tensor([0, 0, 1, 2])]
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    attr = torch.eye(4)[torch.tensor([1, 1, 2, 2, 0, 0])]
    from torch_geometric.data import Data

    ds = BenchmarkDataset(
        info=DatasetInfo("tu-like", TaskLevel.GRAPH, "molecules", False, "test", "test"),
        data=Data(x=x, edge_index=edge_index, edge_attr=attr, batch=torch.zeros(4, dtype=torch.long)),
        y=torch.tensor([1]), num_classes=2, splits={}, explain_ids={},
        node_ptr=torch.tensor([0, 4]), edge_ptr=torch.tensor([0, 6]))
    for name, cls in (("gine", GINE), ("gcn-ogb", BondWeightedGCN)):
        torch.manual_seed(0)
        model = build_model(name, ds).eval()
        assert isinstance(model, cls) and model.encoder_kind == "linear" and len(model.bond_encoders) == 3
        assert model(x, edge_index, ds.data.batch, attr).shape == (1, 2)


def test_gine_learns_benzene_quickly(suite_home):
    """GINE on 1,000 benzene molecules, 5 epochs: test accuracy > 0.8 (measured 0.85-0.9)."""
    from suite.core.paths import data_mirror

    if data_mirror() is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but the data mirror is missing (SUITE_DATA_MIRROR)")
        pytest.skip("needs the data mirror: set SUITE_DATA_MIRROR (e.g. ../shared/data)")
    from suite.datasets.molecules.builders import benzene
    from suite.training import train_or_load

    ds = benzene(seed=0, max_molecules=1000)
    _, result, _ = train_or_load("gine", {}, "standard", {"lr": 0.001, "epochs": 5, "batch_size": 64,
                                                          "patience": 10}, ds, seed=0, device="cpu")
    assert result.accuracy["test"] > 0.8
