from dataclasses import dataclass, field
from enum import Enum

import pytest

from suite.core.config import ConfigError, build_config, config_dict, stable_hash


class Mode(str, Enum):
    A = "a"
    B = "b"


@dataclass
class Example:
    epochs: int = 10
    lr: float = 0.01
    name: str = "x"
    flag: bool = False
    sizes: list[int] = field(default_factory=list)
    mode: Mode = Mode.A
    limit: int | None = None


def test_builds_with_defaults_and_coerces_ints_to_floats():
    cfg = build_config(Example, {"lr": 1, "mode": "b", "sizes": [1, 2]})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.mode is Mode.B and cfg.sizes == [1, 2] and cfg.epochs == 10


@pytest.mark.parametrize("values, expected", [
    ({"epochs": "ten"}, r"explainers\.x\.epochs: expected an integer \(got 'ten'\)"),
    ({"flag": 1}, r"explainers\.x\.flag: expected true or false \(got 1\)"),
    ({"sizes": [1, "a"]}, r"explainers\.x\.sizes\[1\]: expected an integer \(got 'a'\)"),
    ({"mode": "c"}, r"explainers\.x\.mode: expected one of a, b \(got 'c'\)"),
    ({"limit": "n"}, r"explainers\.x\.limit: expected"),
    ({"epoch": 3}, r"explainers\.x\.epoch: unknown field for Example; known fields: epochs, flag"),
])
def test_errors_name_the_field_and_the_value(values, expected):
    with pytest.raises(ConfigError, match=expected):
        build_config(Example, values, where="explainers.x")


def test_optional_accepts_none_and_value():
    assert build_config(Example, {"limit": None}).limit is None
    assert build_config(Example, {"limit": 3}).limit == 3


def test_stable_hash_ignores_key_order_and_config_dict_is_json_ready():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert config_dict(build_config(Example, {"mode": "b"}))["mode"] == "b"
