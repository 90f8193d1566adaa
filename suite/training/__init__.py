"""Training modes (``standard``; later ``adversarial``), the trained-model cache, accuracy."""

from suite.training import (
    adversarial,  # noqa: F401  (registers adv-features, adv-structure)
    standard,  # noqa: F401  (registers the modes)
)
from suite.training.base import (
    TRAININGS,
    TrainingInfo,
    TrainingMode,
    TrainResult,
    build_training,
    register_training,
)
from suite.training.cache import CacheWarning, ModelCache, train_or_load
from suite.training.loop import EpochRecord, TrainConfig, accuracy
from suite.training.standard import StandardTraining

__all__ = [
    "TRAININGS", "CacheWarning", "EpochRecord", "ModelCache", "StandardTraining", "TrainConfig",
    "TrainResult",
    "TrainingInfo", "TrainingMode", "accuracy", "build_training", "register_training",
    "train_or_load",
]
