"""Models: GCN, GIN, GAT (and later relational and edge-aware models)."""

from suite.models import gnn  # noqa: F401  (registers the models)
from suite.models import rgcn  # noqa: F401  (registers rgcn)
from suite.models import ogb  # noqa: F401  (registers gine and gcn-ogb)
from suite.models import syntactic_gcn  # noqa: F401  (registers syntactic-gcn)
from suite.models.base import MODELS, GraphModel, ModelInfo, build_model, model_info, register_model

__all__ = ["MODELS", "GraphModel", "ModelInfo", "build_model", "model_info", "register_model"]
