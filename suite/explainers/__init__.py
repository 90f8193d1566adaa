"""Explainers: one protocol (``fit``/``explain`` -> ``Explanation``), one registry.

Importing this package registers the built-in explainers: ``random``, ``saliency``,
``integrated-gradients``, ``grad-x-input``, ``gnnexplainer``, ``graphmask``,
``graphmask-instance``, ``pgexplainer``, ``erasure-search``, the faithful reference
``occlusion`` and the PyG adapters
``pyg-gnnexplainer``, ``pyg-saliency``, ``pyg-integrated-gradients``, ``pyg-graphmask``.
"""

from suite.explainers import (  # noqa: F401  (registers)
    erasure,
    gnnexplainer,
    gradients,
    graphmask,
    occlusion,
    pgexplainer,
    pyg_adapter,
    random,
)
from suite.explainers.base import (
    EXPLAINERS,
    Explainer,
    ExplainerInfo,
    build_explainer,
    register_explainer,
)

__all__ = ["EXPLAINERS", "Explainer", "ExplainerInfo", "build_explainer", "explainer_info",
           "register_explainer"]


def explainer_info(name: str) -> ExplainerInfo:
    """Metadata of registered explainer ``name`` (forgiving lookup)."""
    return EXPLAINERS.entry(name).metadata["info"]
