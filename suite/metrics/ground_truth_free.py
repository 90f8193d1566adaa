"""Ground-truth-free explanation metrics: representation fidelity and unfaithfulness.

Both compare the model on the full input with the model when only the
explanation's top-``k`` edges of each instance are kept (every other explained
edge's messages are multiplied by 0, the suite's edge-mask convention; see
``suite.metrics.perturb``). Neither needs a ground-truth explanation, so they
apply to any dataset.

- :func:`representation_fidelity` (the suite's own definition, in the spirit of
  Loveland et al., ICML 2021 XAI workshop, arXiv 2106.13427, whose exact formula
  was not available to us): does the explanation alone reproduce the
  *representation* the classifier reads, better than ``k`` random edges of the
  same instance do?
- :func:`unfaithfulness`: GraphXAI's graph explanation unfaithfulness GEF
  (Agarwal et al., Sci. Data 2023): ``1 - exp(-KL(p_full || p_expl))`` on the
  class probabilities.

:func:`representation_masks` builds the kept-edge masks: the explanation's top-``k_b``
and ``draws`` random sets of exactly ``k_b`` edges per instance.

Shapes: ``B`` instances, ``H`` embedding size, ``C`` classes, ``M`` explained edges
with offsets ``ptr`` [B+1], ``R`` random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from suite.metrics.fidelity import topk_mask, topk_sizes

#: Distances ``d(z, z_R) <= DEGENERATE_TOL`` (computed in float64) count as 0: the random
#: subsets reproduce the representation to numerical precision, and the ratio is undefined.
DEGENERATE_TOL = 1e-9

#: Probabilities of the explanation-only prediction are clamped to at least this value
#: before the logarithm of :func:`unfaithfulness` (a class with probability 0 under the
#: explanation would make the divergence infinite).
PROB_EPS = 1e-12


def cosine_distance(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine distance ``d(a, b) = 1 - a.b / (||a|| ||b||)``, in float64.

    Args:
        a, b: [..., H] (broadcastable).

    Returns:
        [...] float64 in [0, 2] (clamped at 0 against rounding). A zero row has
        similarity 0 with every row (norms are clamped at 1e-12), so distance 1.
    """
    a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    dot = (a * b).sum(-1)
    norms = a.norm(dim=-1).clamp_min(1e-12) * b.norm(dim=-1).clamp_min(1e-12)
    return (1.0 - dot / norms).clamp(0.0, 2.0)


def representation_fidelity(z: Tensor, z_expl: Tensor, z_rand: Tensor) -> Tensor:
    r"""Representation fidelity of each instance's explanation (the suite's own definition).

    .. math::
        \mathrm{RF}_b = 1 - \frac{d(z_b, z^E_b)}{\frac{1}{R} \sum_{j=1}^{R} d(z_b, z^{R,j}_b)}

    with ``d`` the cosine distance (:func:`cosine_distance`), ``z_b`` the embedding
    the model's classifier reads for instance ``b`` (``GraphModel.embed``: the
    target node's row, or the graph's pooled vector), ``z^E_b`` the same with only
    the explanation's top-``k_b`` edges kept, and ``z^{R,j}_b`` with ``k_b`` random
    edges of the same instance kept (draw ``j`` of ``R``). The *distances* to the
    random representations are averaged over the draws (not the representations).

    1 = the explanation alone reproduces the representation's direction; 0 = no
    closer than ``k`` random edges; negative = farther than random. Cosine distance
    ignores the embedding's scale (a sum aggregation over fewer edges changes the
    norm, not necessarily the direction).

    This is the suite's own definition in the spirit of Loveland et al. (ICML 2021
    XAI workshop, arXiv 2106.13427), whose exact formula was not available; it is
    not the paper's metric.

    Args:
        z: [B, H] embeddings on the full input.
        z_expl: [B, H] embeddings with only the explanation kept.
        z_rand: [R, B, H] embeddings with random edge sets kept (or [B, H] for R = 1).

    Returns:
        [B] float64; NaN where the mean random distance is (numerically) zero,
        ``<= DEGENERATE_TOL`` (e.g. ``k_b`` equals the instance's edge count, or
        the representation ignores the edges): the instance is undefined and
        skipped by means.
    """
    z = torch.as_tensor(z)
    if z.dim() != 2 or tuple(z_expl.shape) != tuple(z.shape):
        raise ValueError(f"z and z_expl must both be [B, H] (got {tuple(z.shape)} and "
                         f"{tuple(z_expl.shape)})")
    if z_rand.dim() == 2:
        z_rand = z_rand.unsqueeze(0)
    if z_rand.dim() != 3 or tuple(z_rand.shape[1:]) != tuple(z.shape) or z_rand.size(0) == 0:
        raise ValueError(f"z_rand must be [R, B, H] with R >= 1 and [B, H] = {tuple(z.shape)} "
                         f"(got {tuple(z_rand.shape)})")
    d_expl = cosine_distance(z, z_expl)
    d_rand = cosine_distance(z.unsqueeze(0), z_rand).mean(0)
    score = 1.0 - d_expl / d_rand.clamp_min(DEGENERATE_TOL)
    return torch.where(d_rand > DEGENERATE_TOL, score, torch.full_like(score, float("nan")))


def unfaithfulness(p_full: Tensor, p_expl: Tensor, eps: float = PROB_EPS) -> Tensor:
    r"""GraphXAI's graph explanation unfaithfulness (GEF) of each instance.

    .. math::
        \mathrm{GEF}_b = 1 - \exp\big(-\mathrm{KL}(p_b \,\|\, q_b)\big), \quad
        \mathrm{KL}(p \| q) = \sum_c p_c (\log p_c - \log \max(q_c, \varepsilon))

    with ``p_b`` the class probabilities on the full input and ``q_b`` those with
    only the explanation's top-``k`` edges kept (Agarwal et al., Sci. Data 2023;
    the same form as ``torch_geometric.explain.metric.unfaithfulness``). Terms with
    ``p_c = 0`` contribute 0; ``q`` is clamped at ``eps`` (:data:`PROB_EPS`) so the
    divergence stays finite. Computed in float64; the KL is clamped at 0 against
    rounding, so GEF is in [0, 1): 0 = the explanation alone gives the full
    prediction (lower is better).

    Args:
        p_full: [B, C] probabilities on the full input (rows sum to 1).
        p_expl: [B, C] probabilities with only the explanation kept.
        eps: lower clamp of ``p_expl``.

    Returns:
        [B] float64.
    """
    p_full, p_expl = torch.as_tensor(p_full), torch.as_tensor(p_expl)
    if p_full.dim() != 2 or tuple(p_full.shape) != tuple(p_expl.shape):
        raise ValueError(f"p_full and p_expl must both be [B, C] (got {tuple(p_full.shape)} "
                         f"and {tuple(p_expl.shape)})")
    p = p_full.double()
    log_q = p_expl.double().clamp_min(eps).log()
    kl = (torch.xlogy(p, p) - p * log_q).sum(-1).clamp_min(0.0)
    return 1.0 - torch.exp(-kl)


@dataclass
class RepresentationMasks:
    """Kept-edge masks of :func:`representation_masks`.

    Attributes:
        k: [B] long edges kept per instance (clipped to the instance's edge count).
        kept: [M] bool, the explanation's top-``k_b`` edges of each instance.
        random: [R, M] bool, ``R`` draws of exactly ``k_b`` uniformly random edges of
            each instance.
    """

    k: Tensor
    kept: Tensor
    random: Tensor


def random_topk_masks(ptr: Tensor, k: int | Tensor, draws: int,
                      generator: torch.Generator | None = None) -> Tensor:
    """[R, M] bool: ``draws`` sets of exactly ``min(k_b, n_b)`` random edges of each instance.

    Each draw ranks the edges of every instance by i.i.d. U[0, 1) keys drawn on the
    CPU from ``generator`` and keeps the ``k_b`` highest (:func:`topk_mask`), so each
    ``k_b``-subset is equally likely and the draws are deterministic given a seeded
    generator.

    Args:
        ptr: [B+1] long offsets; k: an int or [B] per instance; draws: R >= 1.
    """
    if draws < 1:
        raise ValueError(f"repr_draws: must be >= 1 (got {draws!r})")
    ptr = torch.as_tensor(ptr, dtype=torch.long).reshape(-1)
    m = int(ptr[-1])
    keys = torch.rand((draws, m), generator=generator, dtype=torch.float64)
    return torch.stack([topk_mask(keys[j], ptr.cpu(), torch.as_tensor(k).cpu())
                        for j in range(draws)]).to(ptr.device)


def representation_masks(scores: Tensor, ptr: Tensor, *, draws: int = 10, share: float = 0.1,
                         gt_labels: Tensor | None = None, k: int | Tensor | None = None,
                         generator: torch.Generator | None = None,
                         keys: Tensor | None = None) -> RepresentationMasks:
    """The explanation's top-``k_b`` mask and ``draws`` random ``k_b``-edge masks per instance.

    ``k_b`` follows the fidelity conventions (:func:`~suite.metrics.fidelity.topk_sizes`):
    the number of ground-truth edges among instance ``b``'s explained edges when
    ``gt_labels`` is given and that number is positive, else ``ceil(share * n_b)``;
    an explicit ``k`` (int or [B]) overrides both. Ties in ``scores`` are broken by
    ``keys`` (or by position without them; :func:`~suite.metrics.fidelity.topk_mask`).

    Args:
        scores: [M] edge scores (higher = more important; pass ``|score|`` for signed methods).
        ptr: [B+1] long offsets of the instances in ``scores``.
        draws: R, the number of random masks.
        share: kept share without ground truth, in (0, 1].
        gt_labels: [M] bool ground truth of the explained edges, or None.
        k: edges kept per instance (overrides ``share`` and ``gt_labels``).
        generator: CPU generator of the random masks.
        keys: [M] int64 tie-break keys of the edges, or None.
    """
    scores = torch.as_tensor(scores).detach().reshape(-1)
    ptr = torch.as_tensor(ptr, dtype=torch.long, device=scores.device).reshape(-1)
    counts = ptr.diff().cpu()
    if k is None:
        gt_counts = None
        if gt_labels is not None:
            inst = torch.repeat_interleave(torch.arange(counts.numel()), counts)
            gt_counts = torch.zeros_like(counts).index_add_(
                0, inst, torch.as_tensor(gt_labels).reshape(-1).cpu().long())
        k = topk_sizes(counts, share=share, gt_counts=gt_counts)
    k = torch.as_tensor(k, dtype=torch.long).cpu()
    k = torch.minimum(k.expand(counts.numel()) if k.dim() == 0 else k.reshape(-1), counts)
    k = k.clamp_min(0)
    kept = topk_mask(scores, ptr, k.to(scores.device), keys)
    random = random_topk_masks(ptr, k, draws, generator).to(scores.device)
    return RepresentationMasks(k=k, kept=kept, random=random)


__all__ = ["DEGENERATE_TOL", "PROB_EPS", "RepresentationMasks", "cosine_distance",
           "random_topk_masks", "representation_fidelity", "representation_masks",
           "unfaithfulness"]
