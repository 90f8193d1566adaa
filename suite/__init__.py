"""A benchmark suite for explaining graph neural networks.

Public API (everything else is internal)::

    import suite
    explanation = suite.explain(model, data, explainer="gnnexplainer", index=[3, 7])
    suite.metrics.roc_auc(scores, labels)
"""

__version__ = "0.1.0"
