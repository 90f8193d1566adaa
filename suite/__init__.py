"""A benchmark suite for explaining graph neural networks.

Public API (everything else is internal)::

    import suite
    explanation = suite.explain(model, data, explainer="gnnexplainer", index=[3, 7])
    suite.metrics.roc_auc(scores, labels)
"""

from suite.core.version import __version__


def __getattr__(name: str):
    """Lazy public API: ``suite.explain`` without importing torch at ``import suite``."""
    if name == "explain":
        from suite.api import explain

        return explain
    raise AttributeError(f"module 'suite' has no attribute {name!r}")


__all__ = ["__version__", "explain"]
