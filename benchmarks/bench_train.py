"""asv benchmarks: model training per training mode, and the trained model's accuracy.

``time_train`` times one training run of a small model (``bench_explain.DATASETS``)
under each training mode (``standard``, ``adv-features``, ``adv-structure``);
``track_test_accuracy`` and ``track_robust_accuracy`` chart the trained model's clean
accuracy and its accuracy under the attack it was trained against, so a change
that slows training or costs accuracy shows in the asv history.
"""

from __future__ import annotations

import math

import torch

from benchmarks.bench_explain import DATASETS
from suite.datasets import load_dataset
from suite.training import train_or_load

TRAININGS = ["standard", "adv-features", "adv-structure"]
#: training mode -> config over the dataset's training config (short attacks: a benchmark)
ATTACKS = {"standard": {}, "adv-features": {"steps": 5},
           "adv-structure": {"steps": 5, "samples": 5}}


class Train:
    """One ``train`` call of a small model; data built once in ``setup_cache``."""

    params = (TRAININGS, list(DATASETS))
    param_names = ("training", "dataset")
    timeout = 600
    #: scale of the training epochs (tests shrink it)
    epochs_scale: float = 1.0

    def setup_cache(self):
        torch.set_num_threads(1)
        return {name: load_dataset(name, seed=0, **DATASETS[name][1]) for name in DATASETS}

    def _train(self, cache, training, dataset):
        model_name, params, config = DATASETS[dataset]
        config = {**config, **ATTACKS[training]}
        config["epochs"] = max(1, int(config["epochs"] * self.epochs_scale))
        _, result, _ = train_or_load(model_name, {}, training, config, cache[dataset], params,
                                     seed=0, device="cpu", cache=None)
        return result

    def time_train(self, cache, training, dataset):
        self._train(cache, training, dataset)

    def track_test_accuracy(self, cache, training, dataset):
        return float(self._train(cache, training, dataset).accuracy["test"])

    track_test_accuracy.unit = "accuracy"

    def track_robust_accuracy(self, cache, training, dataset):
        """Test accuracy under the trained-against attack (NaN for standard training)."""
        return float(self._train(cache, training, dataset).extra.get("robust_acc_test", math.nan))

    track_robust_accuracy.unit = "accuracy"
