"""Adversarial attacks on a model's inputs, for adversarial training and for robustness tests.

Two white-box evasion attacks, each a plain function of ``(model, inputs, y, index)``
that maximises the cross-entropy of the output rows ``index`` (the target nodes of a
node task; None = every output row, i.e. every graph of a graph-task batch):

- :func:`pgd_features`: projected gradient ascent on the node features, inside an
  L-inf ball (element-wise) or an L2 ball (per node row) of radius ``epsilon``
  around the clean features (Madry et al., ICLR 2018, arXiv 1706.06083).
- :func:`pgd_structure`: the projected-gradient topology attack of Xu et al.
  (IJCAI 2019, arXiv 1906.04214): a continuous flip vector ``s`` in [0, 1] over
  candidate node pairs, gradient ascent with projection onto
  ``{s in [0, 1]^P, sum_g s <= budget_g}`` (bisection, per graph), then a discrete
  draw within the budget.

Both attacks never touch the model: its parameters receive no gradient (the
gradients are taken with ``torch.autograd.grad`` with respect to the perturbation
only), the model runs in eval mode during the attack and gets its previous mode
back, and every message hook is removed on exit. Random draws come from the
``generator`` argument (a CPU ``torch.Generator``; None = torch's global
generator), so an attack is deterministic given a seeded generator (on CPU).

The registry :data:`ATTACKS` (``pgd-features``, ``pgd-structure``) binds each
attack to a validating config; :func:`robust_accuracy` measures any model's
accuracy under a registered attack. Defaults are ours, chosen to be cheap and
reasonable; none is the value of a paper (the adversarial-training paper this
suite studies did not give its recipe).
"""

from suite.training.attacks.configs import (
    ATTACK_GRAPHS_PER_CHUNK,
    BISECTION_ITERS,
    BUDGET_SCOPES,
    CANDIDATES,
    DISCRETISE,
    NORMS,
    PROTECT,
    FeatureAttackConfig,
    StructureAttackConfig,
)
from suite.training.attacks.features import pgd_features
from suite.training.attacks.measure import robust_accuracy
from suite.training.attacks.registry import (
    ATTACKS,
    AttackInfo,
    FeatureAttack,
    InputAttack,
    StructureAttack,
    build_attack,
)
from suite.training.attacks.structure import pgd_structure, project_budget

__all__ = ["ATTACK_GRAPHS_PER_CHUNK", "BISECTION_ITERS", "BUDGET_SCOPES", "CANDIDATES", "DISCRETISE", "FeatureAttackConfig", "NORMS", "PROTECT", "StructureAttackConfig", "pgd_features", "pgd_structure", "project_budget", "ATTACKS", "AttackInfo", "FeatureAttack", "InputAttack", "StructureAttack", "build_attack", "robust_accuracy"]
