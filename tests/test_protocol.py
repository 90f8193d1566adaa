"""The evaluation protocol (suite.protocol): floors, instance sets, candidates."""

from __future__ import annotations

import pytest
import torch

from suite.core.config import ConfigError
from suite.matrix import parse_matrix
from suite.protocol import (
    DEFAULT_FLOORS,
    Floor,
    FloorMetric,
    InstanceSet,
    ModelQuality,
    balanced_accuracy,
    check_floor_value,
    explain_candidates,
    floor_for,
    select_instances,
)


def test_correct_candidates_are_the_ground_truth_test_instances_predicted_right(tiny_node_dataset):
    ds = tiny_node_dataset
    ids = ds.explain_ids["test"]
    predicted = ds.y[ids].clone()
    predicted[::2] = (predicted[::2] + 1) % ds.num_classes  # every other one wrong
    got = explain_candidates(ds, predicted, "correct")
    assert torch.equal(got, ids[1::2])
    assert torch.equal(explain_candidates(ds, None, InstanceSet.ALL), ids)
    with pytest.raises(ValueError, match="prediction on each"):
        explain_candidates(ds, predicted[:1], "correct")


def test_an_unknown_instance_set_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"instances: expected one of correct, all \(got 'most'\)"):
        InstanceSet.parse("most")
    with pytest.raises(ConfigError, match="instances: expected one of correct, all"):
        parse_matrix({"datasets": ["ba-shapes"], "models": ["gcn"], "explainers": ["random"],
                      "instances": "most"})


def test_a_capped_explainer_explains_a_prefix_of_the_group_set():
    pool = torch.arange(100, 200)
    group, capped = select_instances(pool, 30, 4), select_instances(pool, 10, 4)
    assert set(capped.tolist()) <= set(group.tolist()) and group.numel() == 30


@pytest.mark.parametrize("value", [1.5, -0.1, "0.9", True, None])
def test_a_floor_outside_0_1_or_not_a_number_names_the_field(value):
    with pytest.raises(ConfigError, match=r"accuracy_floor.ba-shapes: expected a number in \[0, 1\]"):
        check_floor_value(value, "accuracy_floor.ba-shapes")
    with pytest.raises(ConfigError, match=r"accuracy_floor.ba-shapes: expected a number in \[0, 1\]"):
        parse_matrix({"datasets": ["ba-shapes"], "models": ["gcn"], "explainers": ["random"],
                      "accuracy_floor": {"ba-shapes": value}})


def test_floor_overrides_must_name_datasets_of_the_matrix():
    with pytest.raises(ConfigError, match="accuracy_floor.tree-grid: not a dataset of this matrix"):
        parse_matrix({"datasets": ["ba-shapes"], "models": ["gcn"], "explainers": ["random"],
                      "accuracy_floor": {"tree-grid": 0.5}})


def test_floors_default_per_dataset_and_can_be_overridden():
    assert floor_for("ba-shapes") == Floor(0.95) and floor_for("tree-grid") == Floor(0.90)
    assert floor_for("dep-role") == Floor(0.90, FloorMetric.BALANCED)
    assert floor_for("ba-shapes", 0.5) == Floor(0.5)
    assert floor_for("ba-shapes", {"tree-grid": 0.5}) == Floor(DEFAULT_FLOORS["ba-shapes"])
    config = parse_matrix({"datasets": ["ba-shapes", "dep-role"], "models": ["gcn"],
                           "explainers": ["random"]})
    assert config.accuracy_floor is None


def _quality(**changes) -> ModelQuality:
    values = dict(test_accuracy=0.97, val_accuracy=0.97, balanced_accuracy=0.95,
                  val_balanced_accuracy=0.95, majority=0.6, ground_truth_recall=0.96,
                  ground_truth_instances=70)
    return ModelQuality(**{**values, **changes})


def test_below_floor_reasons():
    assert _quality().below(Floor(0.95)) == ""
    assert "test accuracy 0.940 < 0.95" in _quality(test_accuracy=0.94).below(Floor(0.95))
    assert "70 ground-truth test instances 0.900" in _quality(
        ground_truth_recall=0.9).below(Floor(0.95))
    balanced = Floor(0.9, FloorMetric.BALANCED)
    assert _quality().below(balanced) == ""
    assert "balanced accuracy 0.850" in _quality(balanced_accuracy=0.85).below(balanced)
    assert "not above the majority class" in _quality(test_accuracy=0.6).below(balanced)
    assert "nan" in _quality(test_accuracy=float("nan")).below(Floor(0.5))


def test_balanced_accuracy_is_the_mean_recall_per_class():
    truth = torch.tensor([0, 0, 0, 1])
    assert balanced_accuracy(torch.tensor([0, 0, 0, 0]), truth) == pytest.approx(0.5)
    assert balanced_accuracy(torch.tensor([0, 0, 1, 1]), truth) == pytest.approx((2 / 3 + 1) / 2)


def test_predictions_of_reads_test_predictions_by_id_in_any_order(tiny_node_dataset):
    from suite.protocol import predictions_of

    ds = tiny_node_dataset
    test = ds.splits["test"]
    predicted = torch.arange(test.numel()) * 10  # a value per test position
    ids = test.flip(0)[:3]
    expected = torch.stack([predicted[(test == i).nonzero()[0, 0]] for i in ids])
    assert torch.equal(predictions_of(ds, predicted, ids), expected)
    with pytest.raises(ValueError, match="not in the test split"):
        predictions_of(ds, predicted, ds.splits["train"][:1])


def test_a_recall_exactly_at_the_floor_meets_it():
    """38 of 40 is 0.95 exactly: a float32 mean (0.9499999881) once put it below the floor."""
    from suite.protocol import _accuracy

    truth = torch.zeros(40, dtype=torch.long)
    predicted = truth.clone()
    predicted[:2] = 1
    value = _accuracy(predicted, truth)
    assert value >= 0.95 and _quality(ground_truth_recall=value).below(Floor(0.95)) == ""
    assert balanced_accuracy(predicted, truth) >= 0.95
