"""A small generic registry: name -> factory plus declarative metadata.

Every plug-in kind (datasets, models, training modes, explainers, metrics) owns one
``Registry``. Items register with a decorator; lookups forgive case and ``-``/``_``
and a miss lists the known names and suggests the closest one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

from suite.core.config import MAX_MESSAGE, one_line

T = TypeVar("T")


def normalise_name(name: str) -> str:
    """Canonical form of a registry name: lower case, ``_`` and spaces become ``-``."""
    return name.strip().lower().replace("_", "-").replace(" ", "-")


class UnknownNameError(KeyError):
    """Raised when a registry lookup misses; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        # one line, long enough for the list of known names that follows the unknown one
        return one_line(self.args[0], limit=2 * MAX_MESSAGE) if self.args else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered item: its canonical name, its factory and its metadata."""

    name: str
    factory: T
    metadata: dict[str, Any] = field(default_factory=dict)


class Registry(Generic[T]):
    """A typed name -> factory mapping that refuses duplicates.

    Args:
        kind: what is registered, used in messages (``"explainer"``).
        entry_point_group: an optional ``importlib.metadata`` entry-point group
            (``"suite.explainers"``) whose entries are loaded on first lookup, so
            third-party packages can add items without touching the suite.
    """

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_loaded = entry_point_group is None

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("gnnexplainer", citation=...)``."""

        def decorator(factory: T) -> T:
            self.add(name, factory, **metadata)
            return factory

        return decorator

    def add(self, name: str, factory: T, **metadata: Any) -> None:
        """Register ``factory`` under ``name``; a second item with that name raises."""
        key = normalise_name(name)
        if key in self._entries:
            raise ValueError(f"{self.kind} {key!r} is already registered")
        self._entries[key] = Entry(key, factory, dict(metadata))

    def remove(self, name: str) -> None:
        """Unregister ``name`` (used by tests and plugin reloads)."""
        del self._entries[self.resolve(name)]

    def resolve(self, name: str) -> str:
        """Return the canonical registered name for ``name`` or raise a helpful error."""
        self._load_plugins()
        key = normalise_name(name)
        if key in self._entries:
            return key
        known = sorted(self._entries)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(known) or '(none)'}"
        )

    def entry(self, name: str) -> Entry[T]:
        return self._entries[self.resolve(name)]

    def get(self, name: str) -> T:
        """The factory registered under ``name`` (forgiving lookup)."""
        return self.entry(name).factory

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry[T]]:
        for name in self.names():
            yield self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return isinstance(name, str) and normalise_name(name) in self._entries

    def __len__(self) -> int:
        self._load_plugins()
        return len(self._entries)

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in importlib_metadata.entry_points(group=self.entry_point_group or ""):
            ep.load()  # importing the module runs its @register decorators
