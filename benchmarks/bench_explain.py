"""asv benchmarks: explain throughput and explanation quality over commits.

Data and a trained model are built once in ``setup_cache`` (a small BA-Shapes
and BA-2Motifs, a GCN and a GIN trained briefly); only ``explain`` is timed.
``track_edge_auc`` charts the headline AUC per explainer, so asv shows quality
regressions next to speed ones. Run: ``asv run A..B`` over commits, or
``asv run --environment existing:.venv/bin/python`` on the working tree (docs/speed.md).
"""

from __future__ import annotations

import torch

from suite.datasets import load_dataset
from suite.explainers import build_explainer
from suite.metrics import attribution_scores, roc_auc
from suite.protocol import fit_instances
from suite.training import train_or_load

EXPLAINERS = ["random", "saliency", "integrated-gradients", "grad-x-input", "gnnexplainer",
              "graphmask-instance", "graphmask", "pgexplainer", "erasure-search", "occlusion"]
DATASETS = {
    "ba-shapes": ("gcn", {"num_base": 150, "num_motifs": 40}, {"epochs": 300, "patience": 0}),
    "ba-2motifs": ("gin", {"num_graphs": 200}, {"epochs": 60, "patience": 0}),
}


def build(name: str):
    """(dataset, trained model, test instance ids) for one benchmark dataset."""
    torch.set_num_threads(1)
    model_name, params, training = DATASETS[name]
    dataset = load_dataset(name, seed=0, **params)
    model, _, _ = train_or_load(model_name, {}, "standard", training, dataset, params, seed=0,
                                device="cpu", cache=None)
    return dataset, model, dataset.explain_ids["test"]


class Explain:
    """One ``explain`` call over every test instance of a small dataset.

    Amortised explainers are fitted in ``setup`` (untimed); ``time_fit`` times their
    training apart. A cell an explainer refuses (``supports``) is skipped by asv.
    """

    params = (EXPLAINERS, list(DATASETS))
    param_names = ("explainer", "dataset")
    timeout = 300
    #: explainer -> hyper-parameters over its defaults (tests shrink the epochs here)
    hparams: dict[str, dict] = {}

    def setup_cache(self):
        return {name: build(name) for name in DATASETS}

    def _make(self, explainer):
        made = build_explainer(explainer, **self.hparams.get(explainer, {}))
        reason = made.supports(self.model, self.dataset)
        if reason:
            raise NotImplementedError(reason)  # asv: skip this parameter combination
        return made

    def setup(self, cache, explainer, dataset):
        self.dataset, self.model, self.ids = cache[dataset]
        self.explainer = self._make(explainer)
        self.explainer.fit(self.model, self.dataset, fit_instances(self.dataset), 0)

    def time_fit(self, cache, explainer, dataset):
        self._make(explainer).fit(self.model, self.dataset, fit_instances(self.dataset), 0)

    def time_explain(self, cache, explainer, dataset):
        self.explainer.explain(self.model, self.dataset, self.ids, seed=0)

    def track_edge_auc(self, cache, explainer, dataset):
        explanation = self.explainer.explain(self.model, self.dataset, self.ids, seed=0)
        labels = self.dataset.gt_edge_mask[explanation.edge_ids]
        return roc_auc(attribution_scores(explanation), labels)

    track_edge_auc.unit = "ROC-AUC"
