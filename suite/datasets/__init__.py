"""Datasets: a registry of builders returning ``BenchmarkDataset`` (importing registers them)."""

from suite.datasets import (
    graphmask_star,  # noqa: F401  (registers graphmask-star)
    molecules,  # noqa: F401  (registers the molecule datasets)
    nlp,  # noqa: F401  (registers the NLP datasets)
    synthetic,  # noqa: F401  (registers the synthetic datasets)
)
from suite.datasets.base import (
    DATASETS,
    DatasetUnavailable,
    dataset_info,
    load_dataset,
    register_dataset,
)

__all__ = ["DATASETS", "DatasetUnavailable", "dataset_info", "load_dataset", "register_dataset"]
