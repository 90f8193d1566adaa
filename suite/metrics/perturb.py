"""Model predictions on a batch of instances with their explainable edges masked.

The only metric module that runs the model. Masks follow PyG's edge-mask
convention (``suite.graph.masking.edge_mask``): every layer's message along edge ``e``
is multiplied by ``m_e`` after any degree normalisation, so degrees are kept.
Context edges of the batch (degree-only, never explained) stay at 1, and an
all-ones mask reproduces every target's full-graph prediction.

Keep form: ``m``; remove form: ``1 - m`` (the complement of the explanation).
Node batches propagate, per layer, only the messages that can still reach a target
(``suite.graph.pruning``), which leaves every target's output unchanged.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor, nn

from suite.graph.pruning import masked_and_pruned
from suite.graph.subgraphs import InstanceBatch


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def masked_log_probs(model: nn.Module, batch: InstanceBatch,
                     explainable_mask: Tensor | None = None) -> Tensor:
    """Log class probabilities of every instance with its explainable edges scaled.

    Args:
        model: a ``GraphModel`` returning logits; run in eval mode (restored after).
        batch: the instances' computation-subgraph union.
        explainable_mask: [num_explainable] float (or bool) in the order of
            ``batch.edge_ids[batch.explainable]`` (the order of an
            ``Explanation``'s edges), or None for the unmasked model.

    Returns:
        [B, C] ``log_softmax`` of the logits of each instance (target node or graph).
    """
    full = None
    if explainable_mask is not None:
        explainable_mask = torch.as_tensor(explainable_mask).reshape(-1)
        if explainable_mask.numel() != batch.num_explainable:
            raise ValueError(f"mask has {explainable_mask.numel()} entries but the batch has "
                             f"{batch.num_explainable} explainable edges")
        full = batch.full_mask(explainable_mask.to(device=batch.x.device, dtype=batch.x.dtype))
    with _eval_mode(model), masked_and_pruned(model, batch, full):
        logits = model(batch.x, batch.edge_index, **batch.model_kwargs())
    return batch.select_outputs(logits).log_softmax(dim=-1)
