"""Metrics: pure functions of tensors (formula in each docstring) and registered scorers.

Importing this package registers the built-in scorers (``ground-truth-auc``,
``fidelity``, ``sparsity``, ``edges-dropped``, ``representation-fidelity``, ``explanation-accuracy``,
``unfaithfulness``, ``throughput``); ``score_all`` runs them on one cell.
"""

from suite.metrics import scorers  # noqa: F401  (registers the scorers)
from suite.metrics.auc import (
                               attribution_scores,
                               average_precision,
                               node_scores_from_edges,
                               per_instance_roc_auc,
                               roc_auc,
)
from suite.metrics.base import METRICS, MetricContext, MetricInfo, metric_info, register_metric
from suite.metrics.explanation_accuracy import (
                               best_alternative_accuracy,
                               graph_explanation_accuracy,
                               jaccard_per_instance,
                               relative_threshold_mask,
)
from suite.metrics.fidelity import (
                               characterization,
                               fidelity_minus_acc,
                               fidelity_minus_prob,
                               fidelity_plus_acc,
                               fidelity_plus_prob,
                               topk_mask,
                               topk_sizes,
)
from suite.metrics.ground_truth_free import (
                               cosine_distance,
                               random_topk_masks,
                               representation_fidelity,
                               representation_masks,
                               unfaithfulness,
)
from suite.metrics.perturb import masked_log_probs
from suite.metrics.scorers import COLUMN_RANGES, COLUMNS, ColumnInfo, column_range, score_all
from suite.metrics.sparsity import instance_sparsity, mean_sparsity, soft_mask

__all__ = [
    "COLUMN_RANGES", "COLUMNS", "METRICS", "attribution_scores", "average_precision",
    "characterization", "column_range", "ColumnInfo", "best_alternative_accuracy", "cosine_distance", "graph_explanation_accuracy",
    "jaccard_per_instance", "relative_threshold_mask", "fidelity_minus_acc", "fidelity_minus_prob",
    "fidelity_plus_acc", "fidelity_plus_prob", "instance_sparsity", "masked_log_probs",
    "mean_sparsity", "metric_info", "MetricContext", "MetricInfo", "node_scores_from_edges",
    "per_instance_roc_auc", "random_topk_masks", "register_metric", "representation_fidelity",
    "representation_masks", "roc_auc", "score_all", "soft_mask", "topk_mask", "topk_sizes",
    "unfaithfulness",
]
