"""Registered cell-level scorers: one cell's explanation -> named numbers.

Each scorer is ``fn(ctx: MetricContext) -> dict[str, float]`` and writes exactly
the columns its ``MetricInfo`` declares (or nothing, when it does not apply,
e.g. no ground truth). The results store and the leaderboard rely on the column
names; ``COLUMNS`` carries each column's description and direction.

Conventions (stated on the leaderboard):
- scores are ``attribution_scores``: absolute values for signed methods;
- the headline ``edge_auc`` pools the explained edges of all instances;
- hard masks keep the top ``k_b`` edges per instance (ties broken by ``edge_tie_keys``,
  never by storage order), ``k_b`` = ground-truth edges
  among the instance's explained edges when there are any, else
  ``ceil(topk_share * n_b)`` (option ``topk_share``, default 0.1; option ``topk``
  fixes one ``k`` for every instance);
- soft masks are the scores divided by their instance maximum (``soft_mask``);
- fidelity targets are the model's own full-graph predictions;
- the ground-truth-free scores (``representation-fidelity``, ``unfaithfulness``) use the
  same top-``k_b`` hard masks; representation fidelity compares with ``repr_draws``
  (default 10) random sets of ``k_b`` edges per instance, drawn from a generator
  seeded with option ``repr_seed`` (default 0), so the same instances get the same
  random sets in every cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from suite.core.seeding import generator as seeded_generator
from suite.graph.pruning import masked_and_pruned
from suite.metrics.auc import (
    attribution_scores,
    average_precision,
    node_scores_from_edges,
    per_instance_roc_auc,
    roc_auc,
)
from suite.metrics.base import METRICS, MetricContext, MetricInfo, register_metric
from suite.metrics.degenerate import constant_instances, uniform_layers
from suite.metrics.drop_curve import (
    DROP_GRID,
    curve_area,
    curve_column,
    drop_mask,
    dropped_within_tolerance,
)
from suite.metrics.explanation_accuracy import (
    GRAPHXAI_FACTOR,
    graph_explanation_accuracy,
    jaccard_per_instance,
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
    representation_fidelity,
    representation_masks,
    unfaithfulness,
)
from suite.metrics.perturb import masked_log_probs
from suite.metrics.removal import REMOVAL_STEPS, check_semantics, removal_curves, removal_grid
from suite.metrics.sparsity import mean_sparsity, soft_mask
from suite.metrics.ties import tie_break_keys


@dataclass(frozen=True)
class ColumnInfo:
    """One score column of the store and the leaderboard."""

    name: str
    description: str
    higher_is_better: bool
    metric: str  # the scorer that writes it


def _columns(metric: str, *specs: tuple[str, bool, str]) -> dict[str, ColumnInfo]:
    return {name: ColumnInfo(name, text, better, metric) for name, better, text in specs}


COLUMNS: dict[str, ColumnInfo] = {
    **_columns(
        "ground-truth-auc",
        ("edge_auc", True, "edge ROC-AUC vs ground truth, pooled over all explained edges "
                           "(headline; |score| for signed methods)"),
        ("edge_auc_instance", True, "mean over instances of the per-instance edge ROC-AUC "
                                    "(instances with both classes)"),
        ("edge_pr_auc", True, "edge average precision vs ground truth, pooled"),
        ("node_auc", True, "node ROC-AUC vs ground truth, pooled (node scores from the "
                           "explainer, else the max score of a node's explained edges)"),
    ),
    **_columns(
        "fidelity",
        ("fid_plus_prob", True, "top-k: mean drop of the predicted class's probability "
                                "when the explanation is removed"),
        ("fid_minus_prob", False, "top-k: mean drop of the predicted class's probability "
                                  "when only the explanation is kept"),
        ("fid_plus_acc", True, "top-k: share of predictions that change when the "
                               "explanation is removed"),
        ("fid_minus_acc", False, "top-k: share of predictions that change when only the "
                                 "explanation is kept"),
        ("characterization", True, "harmonic mean of fid_plus_acc and 1 - fid_minus_acc "
                                   "(GraphFramEx, equal weights)"),
        ("fid_plus_prob_soft", True, "soft mask: probability fidelity+"),
        ("fid_minus_prob_soft", False, "soft mask: probability fidelity-"),
        ("fid_plus_acc_soft", True, "soft mask: accuracy fidelity+"),
        ("fid_minus_acc_soft", False, "soft mask: accuracy fidelity-"),
    ),
    **_columns(
        "sparsity",
        ("sparsity", True, "soft-mask sparsity (the suite's measure, not GraphFramEx's hard-mask "
                           "share): 1 - mean over edges of score / instance max score, "
                           "averaged over instances"),
    ),
    **_columns(
        "edges-dropped",
        ("edges_dropped_5pct", True, "largest share of explained edges removed least-important "
                                     "first with the model's accuracy on the explained instances "
                                     "within 5% (relative) of the unmasked accuracy at every "
                                     "step (GraphMask's headline number)"),
        ("drop_curve_area", True, "area under the accuracy vs share-of-edges-dropped curve "
                                  "(least important first; grid 0, 0.05, ..., 1)"),
        *((curve_column(q), True, f"accuracy with {q:.0%} of each instance's explained edges "
                                  "dropped, least important first (curve point)")
          for q in DROP_GRID),
    ),
    **_columns(
        "removal-curves",
        ("deletion_area", False, "area under the probability of the model's original prediction "
                                 "as each instance's explained edge pairs are removed from the "
                                 "graph, highest-scored first (degrees recomputed; grid 0, 0.05, "
                                 "..., 1): lower = the explanation names what the prediction "
                                 "needs"),
        ("insertion_area", True, "area under that probability when only the highest-scored pairs "
                                 "are kept: higher = the explanation names what suffices"),
    ),
    **_columns(
        "representation-fidelity",
        ("repr_fidelity", True, "representation fidelity (suite's own definition): mean over "
                                "instances of 1 - d(z, z_E) / mean_j d(z, z_R^j), cosine distance "
                                "d between the classifier's input embedding z, z_E with only the "
                                "explanation's top-k edges kept, and z_R^j with k random edges "
                                "of the instance kept (repr_draws draws); 1 = reproduces z, 0 = "
                                "no better than random"),
        ("repr_fidelity_instance_std", False, "standard deviation over instances of the "
                                              "per-instance representation fidelity (ddof 0; "
                                              "a spread, not a quality)"),
        ("repr_fidelity_undefined", False, "share of instances whose representation fidelity "
                                           "is undefined (random edge sets reproduce z: e.g. "
                                           "k = all the instance's edges)"),
    ),
    **_columns(
        "explanation-accuracy",
        ("gea", True, "GraphXAI's graph explanation accuracy on atoms/nodes: mean over instances "
                      "of the Jaccard index of {nodes scored > gea_factor (0.1) x the instance's "
                      "max} with the ground-truth nodes (the union of all matches)"),
        ("gea_edge", True, "explanation accuracy on edges: mean over instances of the Jaccard "
                           "index of the top-k edges (k = ground-truth edges of the instance) "
                           "with the ground-truth edges"),
    ),
    **_columns(
        "unfaithfulness",
        ("unfaithfulness", False, "GraphXAI's GEF: mean over instances of 1 - exp(-KL(p_full "
                                  "|| p_expl)), p_expl the class probabilities with only the "
                                  "explanation's top-k edges kept (lower is better)"),
    ),
    **_columns(
        "degenerate",
        ("constant_share", False, "share of instances whose scores are constant (max - min <= "
                                  "1e-6 x max(1, |max|)); from 0.5 the cell is degenerate"),
        ("gates_open_layers", False, "scored layers whose hard gates keep every explained edge "
                                     "of the cell (layer-wise explainers; any makes the cell "
                                     "degenerate)"),
        ("gates_closed_layers", False, "scored layers whose hard gates drop every explained edge "
                                       "of the cell (any makes the cell degenerate)"),
    ),
    **_columns(
        "throughput",
        ("explanations_per_s", True, "explained instances per second of explain()"),
        ("explain_seconds", False, "wall time of explain() for the cell (s)"),
        ("fit_seconds", False, "wall time of fit() for amortised explainers (s)"),
    ),
}


#: Values a score column may take (inclusive; NaN = undefined is always allowed). Columns
#: not listed are shares, areas or AUCs in [0, 1].
COLUMN_RANGES: dict[str, tuple[float, float]] = {
    **{f"{name}{soft}": (-1.0, 1.0) for name in ("fid_plus_prob", "fid_minus_prob")
       for soft in ("", "_soft")},
    "drop_curve_area": (-1.0, 1.0),
    **{name: (-1.0, 1.0) for name in COLUMNS if name.startswith("curve_drop_acc_")},
    "repr_fidelity": (-math.inf, 1.0),
    "repr_fidelity_instance_std": (0.0, math.inf),
    "gates_open_layers": (0.0, math.inf), "gates_closed_layers": (0.0, math.inf),
    "explanations_per_s": (0.0, math.inf), "explain_seconds": (0.0, math.inf),
    "fit_seconds": (0.0, math.inf),
}


def column_range(name: str) -> tuple[float, float]:
    """The inclusive range of score column ``name`` (:data:`COLUMN_RANGES`, else [0, 1])."""
    return COLUMN_RANGES.get(name, (0.0, 1.0))


def _declared(metric: str) -> tuple[str, ...]:
    return tuple(name for name, col in COLUMNS.items() if col.metric == metric)


def _check_alignment(ctx: MetricContext) -> None:
    """The explanation must score exactly the batch's explainable edges, in order."""
    expl, batch = ctx.explanation, ctx.batch
    if not torch.equal(expl.instance_ids.cpu(), batch.instance_ids.cpu()):
        raise ValueError("explanation and batch explain different instances")
    batch_edges = batch.edge_ids[batch.explainable].cpu()
    if not torch.equal(expl.edge_ids.cpu(), batch_edges) or not torch.equal(
            expl.edge_ptr.cpu(), batch.explained_edge_ptr().cpu()):
        raise ValueError(
            f"explanation scores {expl.edge_ids.numel()} edges but the batch has "
            f"{batch_edges.numel()} explainable edges (or they differ in order): every "
            "explainer must score the explainable edges of each instance in increasing id order")


def gt_edge_labels(ctx: MetricContext) -> Tensor | None:
    """[M] bool ground-truth labels of the explanation's edges (CPU), or None without them."""
    gt = ctx.dataset.gt_edge_mask
    return None if gt is None else gt.cpu()[ctx.explanation.edge_ids.cpu()]


@register_metric(MetricInfo(
    name="ground-truth-auc",
    description="ROC-AUC / PR-AUC of edge (and node) scores against ground-truth masks",
    columns=_declared("ground-truth-auc"), needs_ground_truth=True,
    citation="Ying et al., NeurIPS 2019 (GNNExplainer); Luo et al., NeurIPS 2020 (PGExplainer)"))
def ground_truth_auc(ctx: MetricContext) -> dict[str, float]:
    labels = gt_edge_labels(ctx)
    if labels is None:
        return {}
    expl = ctx.explanation
    scores = attribution_scores(expl).cpu()
    ptr = expl.edge_ptr.cpu()
    per_instance = per_instance_roc_auc(scores, labels, ptr)
    defined = per_instance[~torch.isnan(per_instance)]
    return {
        "edge_auc": roc_auc(scores, labels),
        "edge_auc_instance": float(defined.mean()) if defined.numel() else float("nan"),
        "edge_pr_auc": average_precision(scores, labels),
        "node_auc": _node_auc(ctx, scores),
    }


def _node_auc(ctx: MetricContext, edge_scores: Tensor) -> float:
    gt_nodes = ctx.dataset.gt_node_mask
    if gt_nodes is None:
        return float("nan")
    node_ids, _, scores = _node_scores(ctx, edge_scores)
    return roc_auc(scores, gt_nodes.cpu()[node_ids])


def _node_scores(ctx: MetricContext, edge_scores: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(node_ids [K], node_ptr [B+1], scores [K])`` of the explained instances: the explainer's
    node scores (``|score|`` when signed), else each node's max explained-edge score."""
    expl = ctx.explanation
    if expl.node_scores is not None:
        scores = expl.node_scores.detach().cpu()
        return expl.node_ids.cpu(), expl.node_ptr.cpu(), scores.abs() if expl.signed else scores
    endpoints = ctx.dataset.data.edge_index.cpu()[:, expl.edge_ids.cpu()]
    return node_scores_from_edges(endpoints, edge_scores, expl.edge_ptr.cpu())


def edge_tie_keys(ctx: MetricContext) -> Tensor:
    """[M] tie-break keys of the explanation's edges (CPU): the cell's seed, the instance's
    dataset id and the edge's global endpoints (``suite.metrics.ties``)."""
    expl = ctx.explanation
    src, dst = ctx.dataset.data.edge_index.cpu()[:, expl.edge_ids.cpu()]
    instance = expl.instance_ids.cpu()[expl.edge_instance.cpu()]
    return tie_break_keys(src, dst, instance, ctx.seed, ordered=True)


def _option(ctx: MetricContext, name: str, default: float) -> float:
    value = ctx.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"metrics.{name}: expected a number (got {value!r})")
    return value


def _hard_sizes(ctx: MetricContext) -> Tensor:
    expl = ctx.explanation
    counts = expl.edge_ptr.cpu().diff()
    if "topk" in ctx.options:
        k = _option(ctx, "topk", 0)
        if k < 0 or int(k) != k:
            raise ValueError(f"metrics.topk: expected a non-negative integer (got {k!r})")
        return torch.full_like(counts, int(k))
    labels = gt_edge_labels(ctx)
    gt_counts = None
    if labels is not None:
        inst = expl.edge_instance
        gt_counts = torch.zeros_like(counts).index_add_(0, inst, labels.long())
    return topk_sizes(counts, share=_option(ctx, "topk_share", 0.1), gt_counts=gt_counts)


def _fidelities(ctx: MetricContext, log_full: Tensor, mask: Tensor,
                record: bool = False) -> dict[str, float]:
    """Probability and accuracy fidelity of ``mask`` [M] (keep) and ``1 - mask`` (remove);
    ``record``: leave the per-instance ``fid_plus_acc`` (prediction changed) in the context."""
    log_kept = masked_log_probs(ctx.model, ctx.batch, mask)
    log_removed = masked_log_probs(ctx.model, ctx.batch, 1.0 - mask)
    target = log_full.argmax(-1)
    if record:
        ctx.per_instance["fid_plus_acc"] = (log_removed.argmax(-1) != target).float()
    p_full = log_full.exp()
    return {
        "fid_plus_prob": fidelity_plus_prob(p_full, log_removed.exp(), target),
        "fid_minus_prob": fidelity_minus_prob(p_full, log_kept.exp(), target),
        "fid_plus_acc": fidelity_plus_acc(target, log_removed.argmax(-1)),
        "fid_minus_acc": fidelity_minus_acc(target, log_kept.argmax(-1)),
    }


@register_metric(MetricInfo(
    name="fidelity",
    description="fidelity+/- (probability and accuracy forms) at top-k hard masks and with "
                "soft masks; characterization",
    columns=_declared("fidelity"),
    citation="Amara et al., LoG 2022 (GraphFramEx, arXiv 2206.09677)"))
def fidelity_scorer(ctx: MetricContext) -> dict[str, float]:
    _check_alignment(ctx)
    expl = ctx.explanation
    device = ctx.batch.x.device
    scores = attribution_scores(expl).to(device)
    ptr = expl.edge_ptr.to(device)
    log_full = masked_log_probs(ctx.model, ctx.batch, None)
    hard = topk_mask(scores, ptr, _hard_sizes(ctx).to(device), edge_tie_keys(ctx)).to(scores.dtype)
    out = _fidelities(ctx, log_full, hard, record=True)
    out["characterization"] = characterization(out["fid_plus_acc"], out["fid_minus_acc"])
    soft = _fidelities(ctx, log_full, soft_mask(scores, ptr))
    out.update({f"{name}_soft": value for name, value in soft.items()})
    return out


@register_metric(MetricInfo(
    name="sparsity",
    description="1 - mean of the normalised soft explanation, averaged over instances",
    columns=_declared("sparsity")))
def sparsity_scorer(ctx: MetricContext) -> dict[str, float]:
    expl = ctx.explanation
    return {"sparsity": mean_sparsity(attribution_scores(expl).cpu(), expl.edge_ptr.cpu())}


@register_metric(MetricInfo(
    name="edges-dropped",
    description="accuracy as explained edges are removed least-important first; the share "
                "that can go with accuracy within 5%",
    columns=_declared("edges-dropped"),
    citation="Schlichtkrull et al., ICLR 2021 (GraphMask, arXiv 2010.00577)"))
def edges_dropped(ctx: MetricContext) -> dict[str, float]:
    _check_alignment(ctx)
    expl = ctx.explanation
    device = ctx.batch.x.device
    scores = attribution_scores(expl).to(device)
    ptr = expl.edge_ptr.to(device)
    labels = ctx.dataset.y.to(device)[expl.instance_ids.to(device)]
    keys = edge_tie_keys(ctx)
    curve = []
    for share in DROP_GRID:
        mask = None if share == 0 else drop_mask(scores, ptr, share, keys)
        pred = masked_log_probs(ctx.model, ctx.batch, mask).argmax(-1)
        curve.append(float((pred == labels).double().mean()) if labels.numel() else float("nan"))
    out = {"edges_dropped_5pct": dropped_within_tolerance(curve),
           "drop_curve_area": curve_area(curve)}
    out.update({curve_column(q): value for q, value in zip(DROP_GRID, curve)})
    return out


@register_metric(MetricInfo(
    name="removal-curves",
    description="deletion and insertion curves with real edge removal (both directions of "
                "an undirected edge together); faithfulness beside ground-truth plausibility; "
                "metric option removal_curves: false skips them",
    columns=_declared("removal-curves"),
    citation="Petsiuk et al., BMVC 2018 (RISE deletion/insertion); GraphFramEx, "
             "Amara et al., LoG 2022 (arXiv 2206.09677)"))
def removal_curve_scores(ctx: MetricContext) -> dict[str, float]:
    enabled = ctx.options.get("removal_curves", True)
    if not isinstance(enabled, bool):
        raise ValueError(f"metrics.removal_curves: expected true or false (got {enabled!r})")
    if not enabled:
        return {}
    try:
        semantics = check_semantics(ctx.options.get("removal_semantics", "remove"))
        grid = removal_grid(ctx.options.get("removal_steps", REMOVAL_STEPS))
    except ValueError as exc:  # "semantics: ..." / "steps: ..." -> the option's name
        raise ValueError(f"metrics.removal_{exc}") from None
    _check_alignment(ctx)
    curves = removal_curves(ctx.model, ctx.batch, attribution_scores(ctx.explanation), ctx.seed,
                            grid, semantics)
    ctx.per_instance["deletion_area"] = curves.deletion_area
    ctx.per_instance["insertion_area"] = curves.insertion_area
    return {"deletion_area": float(curves.deletion_area.mean()),
            "insertion_area": float(curves.insertion_area.mean())}


@register_metric(MetricInfo(
    name="explanation-accuracy",
    description="GraphXAI's GEA: Jaccard overlap of the thresholded explanation with the ground "
                "truth, on nodes (scores above gea_factor x the instance max; option gea_factor, "
                "default 0.1) and on edges (top-k, k = ground-truth size)",
    columns=_declared("explanation-accuracy"), needs_ground_truth=True,
    citation="Agarwal et al., Sci. Data 2023 (GraphXAI, arXiv 2208.09339)"))
def explanation_accuracy_scorer(ctx: MetricContext) -> dict[str, float]:
    labels = gt_edge_labels(ctx)
    if labels is None:
        return {}
    expl = ctx.explanation
    scores = attribution_scores(expl).cpu()
    ptr = expl.edge_ptr.cpu()
    gt_counts = torch.zeros(ptr.numel() - 1, dtype=torch.long).index_add_(
        0, expl.edge_instance.cpu(), labels.long())
    top = topk_mask(scores, ptr, gt_counts, edge_tie_keys(ctx))
    gea = float("nan")
    gt_nodes = ctx.dataset.gt_node_mask
    if gt_nodes is not None:
        factor = _option(ctx, "gea_factor", GRAPHXAI_FACTOR)
        node_ids, node_ptr, node_scores = _node_scores(ctx, scores)
        gea = _mean(graph_explanation_accuracy(node_scores, gt_nodes.cpu()[node_ids], node_ptr, factor))
    return {"gea": gea, "gea_edge": _mean(jaccard_per_instance(top, labels, ptr))}


#: Default number of random edge sets of representation fidelity (option ``repr_draws``).
REPR_DRAWS = 10

#: Stream key mixed into the random-mask seed (option ``repr_seed``, default 0).
_REPR_STREAM = 0x4EF1D


def _int_option(ctx: MetricContext, name: str, default: int, minimum: int) -> int:
    value = ctx.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"metrics.{name}: expected an integer >= {minimum} (got {value!r})")
    return value


@torch.no_grad()
def _masked_embeddings(ctx: MetricContext, masks: Tensor) -> Tensor:
    """[R, B, H] ``model.embed`` rows of the explained instances for each of ``masks`` [R, M]
    (explainable-edge masks; context edges stay at 1), model in eval mode (restored)."""
    model, batch = ctx.model, ctx.batch
    was_training = model.training
    model.eval()
    try:
        out = []
        for mask in masks:
            full = batch.full_mask(mask.to(device=batch.x.device, dtype=batch.x.dtype))
            with masked_and_pruned(model, batch, full):
                z = model.embed(batch.x, batch.edge_index, **batch.model_kwargs())
            out.append(batch.select_outputs(z))
        return torch.stack(out)
    finally:
        model.train(was_training)


def _mean(values: Tensor) -> float:
    defined = values[~torch.isnan(values)]
    return float(defined.mean()) if defined.numel() else float("nan")


@register_metric(MetricInfo(
    name="representation-fidelity",
    description="1 - d(z, z_E) / mean_j d(z, z_R^j): the explanation's top-k edges alone vs k "
                "random edges, cosine distance of the classifier's input embedding (the "
                "suite's own definition; options repr_draws, repr_seed, topk_share, topk)",
    columns=_declared("representation-fidelity"),
    citation="in the spirit of Loveland et al., ICML 2021 XAI workshop (arXiv 2106.13427); "
             "the paper's formula was not available"))
def representation_fidelity_scorer(ctx: MetricContext) -> dict[str, float]:
    _check_alignment(ctx)
    expl = ctx.explanation
    device = ctx.batch.x.device
    scores = attribution_scores(expl).to(device)
    ptr = expl.edge_ptr.to(device)
    draws = _int_option(ctx, "repr_draws", REPR_DRAWS, 1)
    gen = seeded_generator(_int_option(ctx, "repr_seed", 0, 0), _REPR_STREAM)
    masks = representation_masks(scores, ptr, draws=draws, k=_hard_sizes(ctx), generator=gen,
                                 keys=edge_tie_keys(ctx))
    every = torch.ones(1, scores.numel(), device=device)
    z = _masked_embeddings(ctx, torch.cat([every, masks.kept.unsqueeze(0).float()]))
    z_rand = _masked_embeddings(ctx, masks.random.float())
    per_instance = representation_fidelity(z[0], z[1], z_rand).cpu()
    defined = per_instance[~torch.isnan(per_instance)]
    return {
        "repr_fidelity": _mean(per_instance),
        "repr_fidelity_instance_std": (float(defined.std(unbiased=False)) if defined.numel()
                                       else float("nan")),
        "repr_fidelity_undefined": (float(torch.isnan(per_instance).double().mean())
                                    if per_instance.numel() else float("nan")),
    }


@register_metric(MetricInfo(
    name="unfaithfulness",
    description="GraphXAI's GEF: 1 - exp(-KL(p_full || p_expl)) with only the explanation's "
                "top-k edges kept, mean over instances (lower is better)",
    columns=_declared("unfaithfulness"),
    citation="Agarwal et al., Sci. Data 2023 (GraphXAI, arXiv 2208.09339)"))
def unfaithfulness_scorer(ctx: MetricContext) -> dict[str, float]:
    _check_alignment(ctx)
    expl = ctx.explanation
    device = ctx.batch.x.device
    scores = attribution_scores(expl).to(device)
    ptr = expl.edge_ptr.to(device)
    hard = topk_mask(scores, ptr, _hard_sizes(ctx).to(device), edge_tie_keys(ctx)).to(scores.dtype)
    p_full = masked_log_probs(ctx.model, ctx.batch, None).exp()
    p_expl = masked_log_probs(ctx.model, ctx.batch, hard).exp()
    return {"unfaithfulness": _mean(unfaithfulness(p_full, p_expl).cpu())}


@register_metric(MetricInfo(
    name="degenerate",
    description="explanations that rank nothing: constant scores over an instance, or hard "
                "gates with one decision for every edge of a scored layer",
    columns=_declared("degenerate")))
def degenerate_scorer(ctx: MetricContext) -> dict[str, float]:
    expl = ctx.explanation
    constant = constant_instances(attribution_scores(expl).cpu(), expl.edge_ptr.cpu())
    ctx.per_instance["constant"] = constant.double()
    out = {"constant_share": float(constant.double().mean()) if constant.numel() else math.nan,
           "gates_open_layers": math.nan, "gates_closed_layers": math.nan}
    hard = expl.meta.get("hard_gates")
    if isinstance(hard, Tensor):  # layer-wise explainers only
        layers = uniform_layers(hard.cpu(), expl.meta.get("gated_layers"))
        out["gates_open_layers"] = float(len(layers.all_open))
        out["gates_closed_layers"] = float(len(layers.all_closed))
    return out


@register_metric(MetricInfo(
    name="throughput",
    description="explanations per second and wall times of explain() and fit()",
    columns=_declared("throughput")))
def throughput(ctx: MetricContext) -> dict[str, float]:
    expl = ctx.explanation
    seconds = float(expl.seconds)
    return {
        "explanations_per_s": expl.num_instances / seconds if seconds > 0 else float("nan"),
        "explain_seconds": seconds,
        "fit_seconds": float(expl.fit_seconds),
    }


def score_all(ctx: MetricContext, names: list[str] | None = None) -> dict[str, float]:
    """Run every registered scorer (or those in ``names``) and merge their columns.

    The explanation is validated first (NaN/inf scores raise ``ValueError``, which
    the runner records as the cell's error). Scorers that need ground truth are
    skipped when the dataset has none. Two scorers writing one column raise.
    """
    ctx.explanation.validate()
    out: dict[str, float] = {}
    for name in (METRICS.names() if names is None else [METRICS.resolve(n) for n in names]):
        info = METRICS.entry(name).metadata.get("info")
        if info is not None and info.needs_ground_truth and ctx.dataset.gt_edge_mask is None:
            continue
        scores = METRICS.get(name)(ctx)
        clash = set(scores) & set(out)
        if clash:
            raise ValueError(f"metric {name!r} writes columns already written: {sorted(clash)}")
        out.update({key: float(value) for key, value in scores.items()})
    return out


__all__ = ["COLUMNS", "ColumnInfo", "score_all", "ground_truth_auc", "fidelity_scorer",
           "sparsity_scorer", "edges_dropped", "throughput", "representation_fidelity_scorer",
           "unfaithfulness_scorer", "explanation_accuracy_scorer"]
