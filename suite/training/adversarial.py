"""Adversarial training modes: ``adv-features`` and ``adv-structure``.

Min-max training (Madry et al., ICLR 2018): every optimisation step first attacks
its own inputs (the inner maximisation of the training loss: the train nodes of a
node task, the graphs of a mini-batch), then minimises

    loss = mix * CE(clean) + (1 - mix) * CE(attacked)

(``mix = 0``: pure adversarial training). The attacks are those of
:mod:`suite.training.attacks`: PGD on node features (``adv-features``) and the
PGD topology attack of Xu et al. (IJCAI 2019) on edges (``adv-structure``). Each
mode's config is :class:`~suite.training.loop.TrainConfig`'s fields (the
``standard`` mode's), the attack's fields and ``mix``; every default is ours
(the recipe of the adversarial-training paper this suite studies is not known).

Model selection is :func:`~suite.training.loop.fit`'s: best *clean* validation
accuracy, or with ``select: robust`` the best accuracy on the validation split under
the mode's own attack (the same measurement as ``robust_acc_val``, evaluated every
``eval_every`` epochs: robust early stopping, as Rice et al., ICML 2020, do for PGD
training in vision; its ``robust_acc_val`` is then optimistically biased, read
``robust_acc_test``). Robustness is measured after training, not assumed: ``TrainResult.extra``
holds ``robust_acc_val`` and ``robust_acc_test``, the accuracy under the same attack
(same config, a generator seeded from the training seed and the split; see
:func:`~suite.training.attacks.robust_accuracy`), and ``robust_seconds``, the time
that took. Call ``robust_accuracy`` with :meth:`AdversarialTraining.attack_spec` to
measure any other model (e.g. a ``standard`` one) under the same attack.

How the mixed loss is obtained without changing :func:`fit`: ``fit`` minimises
``CE(f(transform(inputs)))``, so the transform returns the attacked inputs, and
when ``mix > 0`` it also computes the clean gradient ``g_c`` at the current
parameters and registers one-shot gradient hooks on the parameters that turn the
step's gradient ``g_a`` into ``mix * g_c + (1 - mix) * g_a``, the exact gradient of
the mixed loss (weight decay is added by Adam afterwards, as in ``standard``).
The hooks are removed before the next step's attack and when training ends, also
on error. The recorded per-epoch ``train_loss`` is then the adversarial part only.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from suite.core.config import OMIT_DEFAULT, ConfigError, build_config, config_dict
from suite.core.seeding import generator as seeded_generator
from suite.core.types import BenchmarkDataset
from suite.models.base import GraphModel
from suite.training.attacks import (
    FeatureAttackConfig,
    InputAttack,
    StructureAttackConfig,
    build_attack,
    robust_accuracy,
)
from suite.training.base import TrainingInfo, TrainingMode, TrainResult, register_training
from suite.training.loop import EpochRecord, GraphInputs, TrainConfig, fit, forward

__all__ = [
    "AdvFeaturesConfig", "AdvStructureConfig", "AdversarialFields", "AdversarialStep",
    "AdversarialTraining",
    "FeatureAdversarialTraining", "SELECTIONS", "StructureAdversarialTraining",
]

#: Key mixed into the training seed for the attack's generator during training.
_TRAIN_KEY = 0xAD7


#: Model-selection scores of the adversarial modes (the ``select`` field).
SELECTIONS = ("clean", "robust")


def _check_mix(mix: float) -> None:
    if not 0 <= mix <= 1:
        raise ConfigError(f"mix: must be in [0, 1] (got {mix!r})")


@dataclass
class AdversarialFields:
    """The fields both adversarial modes add to :class:`TrainConfig` and their attack's.

    Attributes:
        mix: weight of the clean loss (0 = pure adversarial training).
        select: model selection by ``clean`` (default) or ``robust`` validation accuracy
            (under this mode's attack); left out of the cache key at its default.
    """

    mix: float = 0.0
    select: str = field(default="clean", metadata={OMIT_DEFAULT: True})

    def __post_init__(self) -> None:
        _check_mix(self.mix)
        if self.select not in SELECTIONS:
            raise ConfigError(f"select: must be one of {', '.join(SELECTIONS)} "
                              f"(got {self.select!r})")


@dataclass
class AdvFeaturesConfig(AdversarialFields, FeatureAttackConfig, TrainConfig):
    """``adv-features``: :class:`TrainConfig` + :class:`FeatureAttackConfig` fields +
    :class:`AdversarialFields`."""

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        FeatureAttackConfig.__post_init__(self)
        AdversarialFields.__post_init__(self)


@dataclass
class AdvStructureConfig(AdversarialFields, StructureAttackConfig, TrainConfig):
    """``adv-structure``: :class:`TrainConfig` + :class:`StructureAttackConfig` fields +
    :class:`AdversarialFields`."""

    def __post_init__(self) -> None:
        TrainConfig.__post_init__(self)
        StructureAttackConfig.__post_init__(self)
        AdversarialFields.__post_init__(self)


class AdversarialStep:
    """The :data:`~suite.training.loop.InputTransform` of adversarial training.

    ``step(model, inputs, y, index)`` returns ``attack(model, inputs, y, index)``;
    with ``mix > 0`` it also arms the one-shot gradient hooks described in the
    module docstring. Call :meth:`close` when training ends (removes armed hooks).
    """

    def __init__(self, attack: InputAttack, mix: float, generator: torch.Generator) -> None:
        _check_mix(mix)
        self.attack, self.mix, self.generator = attack, mix, generator
        self._handles: list[Any] = []

    def __call__(self, model: GraphModel, inputs: GraphInputs, y: Tensor,
                 index: Tensor | None) -> GraphInputs:
        self.close()  # the previous step's hooks have fired (or the step never ran)
        attacked = self.attack(model, inputs, y, index, generator=self.generator)
        if self.mix > 0:
            self._arm(model, inputs, y, index)
        return attacked

    def _arm(self, model: GraphModel, inputs: GraphInputs, y: Tensor,
             index: Tensor | None) -> None:
        params = [p for p in model.parameters() if p.requires_grad]
        out = forward(model, inputs)
        clean_loss = F.cross_entropy(out if index is None else out[index], y)
        grads = torch.autograd.grad(clean_loss, params, allow_unused=True)
        mix = self.mix
        for param, clean in zip(params, grads):
            if clean is None:
                continue
            clean = clean.detach()
            self._handles.append(param.register_hook(
                lambda grad, clean=clean: (1 - mix) * grad + mix * clean))

    def close(self) -> None:
        """Remove any armed gradient hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


class AdversarialTraining(TrainingMode):
    """Shared machinery of the adversarial modes: train with :class:`AdversarialStep`,
    then measure robust accuracy on val and test.

    Subclasses set ``Config`` (a :class:`TrainConfig` subclass that also has the
    attack's fields and ``mix``), ``AttackConfig`` and ``attack_name``.
    """

    Config: ClassVar[type]
    AttackConfig: ClassVar[type]
    attack_name: ClassVar[str]

    def __init__(self, **config: Any) -> None:
        self.settings = build_config(self.Config, config, where=f"training.{self.info.name}")

    def config(self) -> dict[str, Any]:
        return config_dict(self.settings)

    def attack_config(self) -> dict[str, Any]:
        """The attack's fields of this mode's config, those :func:`suite.core.config.config_dict`
        keeps (an ``OMIT_DEFAULT`` field at its default is left out)."""
        kept = config_dict(self.settings)
        return {f.name: getattr(self.settings, f.name)
                for f in dataclasses.fields(self.AttackConfig) if f.name in kept}

    def attack_spec(self) -> tuple[str, dict[str, Any]]:
        """``(attack_name, attack_config)`` for :func:`robust_accuracy` (any model)."""
        return self.attack_name, self.attack_config()

    def train(self, model: GraphModel, dataset: BenchmarkDataset, seed: int,
              device: torch.device | str = "cpu",
              callback: Callable[[EpochRecord], None] | None = None) -> TrainResult:
        """Train ``model`` in place (see :func:`fit`), then measure its robust accuracy."""
        attack_config = self.attack_config()
        attack = build_attack(self.attack_name, **attack_config)
        step = AdversarialStep(attack, self.settings.mix, seeded_generator(seed, _TRAIN_KEY))
        select_score = None
        if self.settings.select == "robust":
            def select_score(candidate: GraphModel) -> float:
                return robust_accuracy(candidate, dataset, "val", self.attack_name,
                                       attack_config, seed, device)
        try:
            result = fit(model, dataset, seed, device, self.settings, transform=step,
                         callback=callback, select_score=select_score)
        finally:
            step.close()
        start = time.perf_counter()
        for split in ("val", "test"):
            result.extra[f"robust_acc_{split}"] = robust_accuracy(
                model, dataset, split, self.attack_name, attack_config, seed, device)
        result.extra["robust_seconds"] = time.perf_counter() - start
        result.extra.update(self.notes(dataset))
        return result

    def notes(self, dataset: BenchmarkDataset) -> dict[str, float]:
        """Mode-specific numbers recorded in ``TrainResult.extra`` (none by default)."""
        return {}


@register_training(TrainingInfo(
    name="adv-features",
    citation="Madry et al., ICLR 2018 (arXiv 1706.06083): PGD adversarial training",
    description="min-max training against PGD on node features (L-inf or L2 ball); loss = "
                "mix * clean + (1 - mix) * adversarial CE; robust accuracy under the same "
                "attack stored as robust_acc_val/test",
))
class FeatureAdversarialTraining(AdversarialTraining):
    """``FeatureAdversarialTraining(epsilon=0.1, norm="l2", mix=0.5, epochs=500)``."""

    Config = AdvFeaturesConfig
    AttackConfig = FeatureAttackConfig
    attack_name = "pgd-features"


@register_training(TrainingInfo(
    name="adv-structure",
    citation="Xu et al., IJCAI 2019 (arXiv 1906.04214): PGD topology attack and adversarial "
             "training; Madry et al., ICLR 2018 (arXiv 1706.06083)",
    description="min-max training against the PGD topology attack (edge flips under a per-graph "
                "budget; removal only where edges carry features); loss = mix * clean + "
                "(1 - mix) * adversarial CE; robust accuracy stored as robust_acc_val/test",
))
class StructureAdversarialTraining(AdversarialTraining):
    """``StructureAdversarialTraining(budget_share=0.05, removal_only=True, epochs=500)``."""

    Config = AdvStructureConfig
    AttackConfig = StructureAttackConfig
    attack_name = "pgd-structure"

    def notes(self, dataset: BenchmarkDataset) -> dict[str, float]:
        """``removal_only``: 1.0 when no edge was inserted (asked for, or forced because
        the dataset's edges carry ``edge_attr``)."""
        has_attr = getattr(dataset.data, "edge_attr", None) is not None
        return {"removal_only": float(self.settings.removal_only or has_attr)}
