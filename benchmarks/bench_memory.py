"""asv benchmarks: peak memory of the big cases (a BA-Shapes of 10,000+ nodes).

``peakmem_instance_batch`` builds the batch of 1,000 targets; ``peakmem_explain``
runs a batched explainer over them (untrained model: memory does not depend on
the weights). Sizes: ``num_base`` base nodes + 5 per house.
"""

from __future__ import annotations

import torch

from suite.datasets import load_dataset
from suite.explainers import build_explainer
from suite.graph.subgraphs import instance_batch
from suite.models import build_model

#: name -> (ba-shapes num_base, num_motifs, explained targets)
SIZES = {"ba-shapes-10k": (5_000, 1_000, 1_000)}
EXPLAINERS = ["saliency", "integrated-gradients", "gnnexplainer"]
#: explainer -> hyper-parameters (short optimisations: memory, not quality)
HPARAMS = {"gnnexplainer": {"epochs": 5}, "integrated-gradients": {"steps": 10}}


def build(size: str):
    torch.set_num_threads(1)
    num_base, num_motifs, targets = SIZES[size]
    dataset = load_dataset("ba-shapes", seed=0, num_base=num_base, num_motifs=num_motifs)
    torch.manual_seed(0)
    model = build_model("gcn", dataset, hidden=20, num_layers=3).eval()
    ids = torch.nonzero(dataset.gt_node_mask).view(-1)[:targets]
    return dataset, model, ids


class BigGraph:
    params = (EXPLAINERS, list(SIZES))
    param_names = ("explainer", "size")
    timeout = 600

    def setup_cache(self):
        return {size: build(size) for size in SIZES}

    def peakmem_instance_batch(self, cache, explainer, size):
        dataset, model, ids = cache[size]
        instance_batch(dataset, ids, model.num_layers)

    def peakmem_explain(self, cache, explainer, size):
        dataset, model, ids = cache[size]
        build_explainer(explainer, **HPARAMS.get(explainer, {})).explain(model, dataset, ids, 0)
