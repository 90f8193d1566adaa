"""suite_studies.gnnexplainer.model_study: spec parsing, per-cell scoring against sklearn, the study table."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import roc_auc_score
from suite_studies.gnnexplainer import model_study
from suite_studies.gnnexplainer.model_study import (
    Method,
    load_spec,
    markdown,
    run_study,
    score_cell,
)

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.core.seeding import seed_everything
from suite.explainers.base import build_explainer
from suite.metrics.auc import attribution_scores
from suite.protocol import select_instances

SPEC = """
datasets: [tiny]
seeds: [0, 1]
max_instances: 5
variants:
  a: {model: gcn, hparams: {hidden: 8, num_layers: 3}, training: {epochs: 3}}
  b: {model: gcn-sum, hparams: {hidden: 8, last_relu: false}, training: {epochs: 3}}
methods:
  rand: {explainer: random}
  sal: {explainer: saliency}
only:
  sal: [b]
"""


def test_score_cell_matches_sklearn_on_all_and_on_correct_targets(tiny_node_dataset, tiny_gcn):
    ds, method = tiny_node_dataset, Method("gx", "gnnexplainer", {"epochs": 20})
    n, n_correct, auc, auc_correct, edges, positives, _ = score_cell(tiny_gcn, ds, method, 0, "val", 4)
    # independent: the same seeded explanation, then sklearn on the pooled / filtered edges
    ids = select_instances(ds.explain_ids["val"], 4, 0)
    seed_everything(0)
    ex = build_explainer("gnnexplainer", epochs=20).explain(tiny_gcn, ds, ids, 0)
    scores, labels = attribution_scores(ex), ds.gt_edge_mask[ex.edge_ids]
    correct = tiny_gcn(ds.data.x, ds.data.edge_index).argmax(-1)[ids] == ds.y[ids]
    keep = torch.cat([torch.full((int(k),), bool(c)) for k, c in zip(ex.edge_ptr.diff(), correct)])
    assert (n, n_correct, edges, positives) == (ids.numel(), int(correct.sum()), labels.numel(),
                                                int(labels.sum()))
    assert auc == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()), abs=1e-9)
    if keep.any() and 0 < labels[keep].sum() < keep.sum():
        assert auc_correct == pytest.approx(
            roc_auc_score(labels[keep].numpy(), scores[keep].numpy()), abs=1e-9)
    else:
        assert math.isnan(auc_correct)


def test_run_study_and_table(tmp_path, monkeypatch, tiny_node_dataset):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    spec = load_spec(path)
    assert [(v.label, m.label) for v, m in spec.pairs()] == [("a", "rand"), ("b", "rand"), ("b", "sal")]
    monkeypatch.setattr(model_study, "load_dataset", lambda name, **kw: tiny_node_dataset)
    rows = run_study(spec, "val", paths=Paths(root=tmp_path))
    assert len(rows) == 2 * 3 and {r.split for r in rows} == {"val"}
    assert all(0.0 <= r.auc <= 1.0 and r.n == 5 for r in rows)
    text = markdown(rows, spec)
    assert text.count("\n| tiny |") == 3  # one row per (dataset, variant, method)
    sal = [r for r in rows if r.method == "sal"]
    assert f"{sal[0].auc:.3f}" in next(l for l in text.splitlines() if "| b | sal |" in l)
    with pytest.raises(ConfigError, match="split"):
        run_study(spec, "train", paths=Paths(root=tmp_path))


@pytest.mark.parametrize("text,match", [
    ("datasets: [x]\nseeds: [0]\nvariants: {a: {model: gcn}}\n", "methods"),
    (SPEC + "  rand2: [zz]\n", "only: unknown method"),
    (SPEC.replace("sal: [b]", "sal: [c]"), "unknown variant 'c'"),
    (SPEC.replace("training: {epochs: 3}}\n  b:", "training: {epochs: 3}, datasets: [other]}\n  b:"),
     r"variants.a.datasets: 'other' is not one of the spec's datasets \(tiny\)"),
])
def test_bad_spec_names_the_field(tmp_path, text, match):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_spec(path)


def test_a_variant_runs_only_on_its_datasets(tmp_path, monkeypatch, tiny_node_dataset):
    import dataclasses

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("datasets: [tiny]", "datasets: [tiny, other]").replace(
        "training: {epochs: 3}}\n  b:", "training: {epochs: 3}, datasets: [other]}\n  b:"))
    spec = load_spec(path)
    assert spec.variants[0].datasets == ("other",) and spec.variants[1].datasets == ()
    other = dataclasses.replace(tiny_node_dataset, info=dataclasses.replace(tiny_node_dataset.info, name="other"))
    monkeypatch.setattr(model_study, "load_dataset",
                        lambda name, **kw: other if name == "other" else tiny_node_dataset)
    rows = run_study(dataclasses.replace(spec, seeds=(0,)), "val", paths=Paths(root=tmp_path))
    assert sorted((r.dataset, r.variant, r.method) for r in rows) == [
        ("other", "a", "rand"), ("other", "b", "rand"), ("other", "b", "sal"),
        ("tiny", "b", "rand"), ("tiny", "b", "sal")]


def test_the_anchors_split_explains_each_motifs_anchor(monkeypatch):
    import suite.datasets.synthetic as synthetic
    from suite.datasets import load_dataset
    from suite.models import build_model

    ds = load_dataset("tree-cycles", num_motifs=6, depth=4)
    seen = {}
    real = synthetic.motif_anchors

    def spy(dataset):
        seen["anchors"] = real(dataset)
        return seen["anchors"]

    monkeypatch.setattr(model_study, "motif_anchors", spy)
    model = build_model("gcn", ds, hidden=8, num_layers=2).eval()
    n, *_ = score_cell(model, ds, Method("rand", "random", {}), 0, "anchors", 80)
    assert n == 6 and seen["anchors"].numel() == 6
    assert not torch.isin(seen["anchors"], ds.explain_ids["test"]).all()  # all splits, not test
