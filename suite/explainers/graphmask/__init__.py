"""GraphMask (Schlichtkrull, De Cao, Titov; ICLR 2021; arXiv 2010.00577).

The method, its settings and how it differs from the paper and from PyG: docs/studies/graphmask.md
(the method section). Modules: ``config``, ``objective``, ``hooks``, ``gates``, ``amortised``
(``graphmask``), ``instance`` (``graphmask-instance``).
"""

from suite.explainers.graphmask.amortised import FittedGraphMask, GraphMask
from suite.explainers.graphmask.config import (
    AMORTISED_REDUCE,
    AUTO_REDUCE,
    CONSTANT_SPAN,
    INSTANCE_BASELINES,
    LAYER_REDUCE,
    MAX_VARYING,
    NODE_VIEWS,
    GraphMaskConfig,
    GraphMaskInstanceConfig,
    GraphMaskObjectiveConfig,
)
from suite.explainers.graphmask.gates import GateNetwork, LayerGate
from suite.explainers.graphmask.hooks import (
    LayerInputs,
    gate_messages,
    gated_edges,
    gated_logits,
    gated_model,
    record_inputs,
)
from suite.explainers.graphmask.instance import (
    NOISE_BLOCK,
    GraphMaskInstance,
    add_l0_grad,
    step_noise,
)
from suite.explainers.graphmask.objective import (
    Candidate,
    Lagrangian,
    SafeRMSprop,
    divergence,
    enabled_layers,
    reduce_layers,
    select_candidate,
)

__all__ = ["AMORTISED_REDUCE", "AUTO_REDUCE", "CONSTANT_SPAN", "Candidate", "FittedGraphMask", "GateNetwork", "GraphMask", "GraphMaskConfig", "GraphMaskInstance", "GraphMaskInstanceConfig", "GraphMaskObjectiveConfig", "INSTANCE_BASELINES", "LAYER_REDUCE", "Lagrangian", "LayerGate", "LayerInputs", "MAX_VARYING", "NODE_VIEWS", "NOISE_BLOCK", "SafeRMSprop", "add_l0_grad", "divergence", "enabled_layers", "gate_messages", "gated_edges", "gated_logits", "gated_model", "record_inputs", "reduce_layers", "select_candidate", "step_noise"]
