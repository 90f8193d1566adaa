"""Models: GCN, GIN, GAT (and later relational and edge-aware models)."""

from suite.models import (
    gnn,  # noqa: F401  (registers the models)
    ogb,  # noqa: F401  (registers gine and gcn-ogb)
    rgcn,  # noqa: F401  (registers rgcn)
    syntactic_gcn,  # noqa: F401  (registers syntactic-gcn)
)
from suite.models.base import MODELS, GraphModel, ModelInfo, build_model, model_info, register_model

__all__ = ["MODELS", "GraphModel", "ModelInfo", "build_model", "model_info", "register_model"]
