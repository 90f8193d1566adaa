"""Validating construction of config dataclasses from plain dicts (YAML, CLI, kwargs)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

C = TypeVar("C")
F = TypeVar("F", bound=Callable[..., Any])


#: Longest error message a config error shows (it may quote a value read from a file).
MAX_MESSAGE = 500


def one_line(message: object, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line (line breaks shown as ``\\n``), cut to ``limit`` characters."""
    text = str(message).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConfigError(ValueError):
    """A config value or key is invalid; the message names the field and the value.

    The message is kept to one line of at most :data:`MAX_MESSAGE` characters, whatever
    the offending value read from a file holds."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(message))


def build_config(cls: type[C], values: Mapping[str, Any] | None, where: str = "") -> C:
    """Instantiate dataclass ``cls`` from ``values``, checking keys and simple types.

    Unknown keys raise with the list of known fields; a value of the wrong type
    raises naming the field and ``(got ...)``. Ints are accepted for floats.
    """
    values = dict(values or {})
    prefix = f"{where}." if where else ""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(
            f"{prefix}{unknown[0]}: unknown field for {cls.__name__}; known fields: "
            f"{', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls, include_extras=True)
    for key, value in values.items():
        values[key] = _check(hints.get(key), value, f"{prefix}{key}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from None


@dataclass(frozen=True)
class Range:
    """The valid values of a number, as ``Annotated`` metadata: ``low <= value <= high``
    (strict where ``low_open`` / ``high_open``; None: unbounded), NaN refused."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def text(self) -> str:
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{low}, {high}{right}"

    def check(self, value: float, name: str) -> None:
        bad = value != value  # NaN
        if self.low is not None:
            bad = bad or value < self.low or (self.low_open and value == self.low)
        if self.high is not None:
            bad = bad or value > self.high or (self.high_open and value == self.high)
        if bad:
            raise ConfigError(f"{name}: expected a value in {self.text()} (got {value!r})")


#: Annotated number types of hyper-parameters (checked when a matrix is parsed).
PositiveInt = typing.Annotated[int, Range(1)]
NonNegativeInt = typing.Annotated[int, Range(0)]
PositiveFloat = typing.Annotated[float, Range(0, low_open=True)]
NonNegativeFloat = typing.Annotated[float, Range(0)]
Fraction = typing.Annotated[float, Range(0, 1)]
Dropout = typing.Annotated[float, Range(0, 1, high_open=True)]
#: How a model reads its layers' states: concatenated (``cat``) or the last one.
JumpingKnowledge = typing.Literal["cat", "last"]


def _check(hint: Any, value: Any, name: str) -> Any:
    if hint is None or hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        value = _check(base, value, name)
        for extra in extras:
            if isinstance(extra, Range) and isinstance(value, (int, float)):
                extra.check(value, name)
        return value
    if origin is typing.Literal:
        options = typing.get_args(hint)
        if value in options and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected one of {', '.join(map(str, options))} "
                          f"(got {value!r})")
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        errors = []
        for option in typing.get_args(hint):
            try:
                return _check(option, value, name)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{name}: expected {hint} (got {value!r})")
    if hint is type(None):
        if value is None:
            return None
        raise ConfigError(f"{name}: expected None (got {value!r})")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{name}: expected a number (got {value!r})")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected an integer (got {value!r})")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{name}: expected true or false (got {value!r})")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string (got {value!r})")
    if origin in (list, tuple):
        if isinstance(value, (list, tuple)):
            args = typing.get_args(hint)
            inner = args[0] if args else None
            items = [_check(inner, v, f"{name}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
        raise ConfigError(f"{name}: expected a list (got {value!r})")
    if isinstance(hint, type) and issubclass(hint, Enum_):
        try:
            return hint(value)
        except ValueError:
            known = ", ".join(str(m.value) for m in hint)
            raise ConfigError(f"{name}: expected one of {known} (got {value!r})") from None
    return value


from enum import Enum as Enum_  # noqa: E402  (used by _check)

#: Field metadata key: the field is left out of :func:`config_dict` while it holds its
#: default, so adding such a field to a config keeps every existing cache and cell key.
OMIT_DEFAULT = "omit_default"


#: Attribute of a factory function (a model or dataset factory): the names of its keyword
#: parameters left out of resolved parameter sets, and so of cache and cell keys, while
#: they equal their default. Set with :func:`omit_at_default`.
OMIT_AT_DEFAULT_ATTR = "__omit_at_default__"


def omit_at_default(*names: str) -> Callable[[F], F]:
    """Decorator for a factory: keyword parameters ``names`` stay out of its resolved
    parameters (so out of every key) while they hold their default, the factory-argument
    counterpart of ``OMIT_DEFAULT`` on config fields. Adding such a parameter to a
    factory keeps every existing key."""

    def mark(factory: F) -> F:
        setattr(factory, OMIT_AT_DEFAULT_ATTR, frozenset(names))
        return factory

    return mark


def drop_omitted_defaults(factory: Callable[..., Any], params: Mapping[str, Any],
                          defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` without the entries ``factory`` marks :func:`omit_at_default` that equal
    their value in ``defaults`` (name -> the factory's default)."""
    omitted = getattr(factory, OMIT_AT_DEFAULT_ATTR, frozenset())
    return {key: value for key, value in params.items()
            if not (key in omitted and key in defaults and value == defaults[key])}


def config_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as a JSON-ready dict (enums as their values); fields marked
    ``metadata={OMIT_DEFAULT: True}`` are left out while they equal their default."""
    out = {}
    omitted = {f.name: f.default for f in dataclasses.fields(config) if f.metadata.get(OMIT_DEFAULT)}
    for key, value in dataclasses.asdict(config).items():
        if key in omitted and value == omitted[key]:
            continue
        out[key] = value.value if isinstance(value, Enum_) else value
    return out


def stable_hash(obj: Any, length: int = 16) -> str:
    """A short, order-independent SHA-256 hex digest of a JSON-serialisable object."""
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
