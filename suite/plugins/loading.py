"""Plug-ins from other packages: ``--plugin SPEC`` and the entry-point groups.

A plug-in is a module that registers items with the suite's decorators
(``register_explainer``, ``register_dataset``, ...), or an ``Explainer``
subclass with an ``info`` attribute. Two ways in:

- installed: the package declares an entry point in one of the groups
  ``suite.explainers``, ``suite.datasets``, ``suite.models``, ``suite.trainings``,
  ``suite.metrics`` (``[project.entry-points."suite.explainers"] toy = "my_pkg"``);
  the registry imports it on first lookup;
- named on the command line: ``--plugin SPEC`` with SPEC one of
  ``module``, ``module:Class``, ``path/to/file.py`` or ``path/to/file.py:Class``
  (a file's folder is put on ``sys.path``, so nothing needs installing).

:func:`load_plugin` is idempotent (loading a spec twice registers nothing twice),
so a Ray worker can load the driver's specs before every task.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Iterable

from suite.explainers import EXPLAINERS, Explainer


class PluginError(ValueError):
    """A plug-in spec that cannot be loaded (the message names the spec and why)."""


@dataclass(frozen=True)
class LoadedPlugin:
    """A loaded plug-in.

    Attributes:
        spec: the spec as given.
        module: the imported module's name.
        explainers: registered explainer names that the plug-in provides (the named
            class's, else every explainer whose class is defined in the module).
    """

    spec: str
    module: str
    explainers: tuple[str, ...]


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"pkg.mod:Class"`` -> ``("pkg.mod", "Class")``; ``"pkg.mod"`` -> ``("pkg.mod", None)``."""
    spec = str(spec).strip()
    if not spec:
        raise PluginError("--plugin: empty spec (expected module, module:Class or file.py:Class)")
    head, sep, tail = spec.rpartition(":")
    if sep and tail and "/" not in tail and "\\" not in tail and head:
        return head, tail
    return spec, None


def _import(target: str, spec: str) -> ModuleType:
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise PluginError(f"--plugin {spec}: no file {target}")
        folder, name = str(path.resolve().parent), path.stem
        if name == "__init__":  # a package's __init__.py: import the package
            folder, name = str(path.resolve().parent.parent), path.resolve().parent.name
        loaded = sys.modules.get(name)
        if loaded is not None:
            where = Path(getattr(loaded, "__file__", "") or "").resolve()
            if where != path.resolve():
                raise PluginError(f"--plugin {spec}: a different module named {name!r} is "
                                  f"already imported (from {where})")
            return loaded
        if folder not in sys.path:
            sys.path.insert(0, folder)
        target = name
    try:
        return importlib.import_module(target)
    except ImportError as exc:
        raise PluginError(f"--plugin {spec}: cannot import {target!r} ({exc}); install the "
                          "package, or give the path of its .py file") from None


def _explainer_names(module: ModuleType) -> tuple[str, ...]:
    return tuple(entry.name for entry in EXPLAINERS.entries()
                 if getattr(entry.factory, "__module__", None) == module.__name__)


def _register_class(obj: object, spec: str) -> tuple[str, ...]:
    if not (inspect.isclass(obj) and issubclass(obj, Explainer)):
        raise PluginError(f"--plugin {spec}: {obj!r} is not an Explainer subclass (name a "
                          "module whose import registers datasets, models or metrics instead)")
    info = getattr(obj, "info", None)
    if info is None or not getattr(info, "name", ""):
        raise PluginError(f"--plugin {spec}: {obj.__name__} has no `info` (an ExplainerInfo "
                          "with a name); decorate it with @register_explainer(ExplainerInfo(...))")
    if info.name in EXPLAINERS:
        registered = EXPLAINERS.get(info.name)
        if registered is not obj and getattr(registered, "__qualname__", None) != obj.__qualname__:
            raise PluginError(f"--plugin {spec}: explainer name {info.name!r} is already "
                              f"registered by {registered.__module__}.{registered.__qualname__}")
    else:
        EXPLAINERS.add(info.name, obj, info=info)
    return (EXPLAINERS.resolve(info.name),)


def load_plugin(spec: str) -> LoadedPlugin:
    """Import plug-in ``spec`` and register what it provides (idempotent); see the module docstring."""

    target, attribute = split_spec(spec)
    module = _import(target, spec)
    if attribute is None:
        # registered on import, plus Explainer classes with ``info`` defined in the module
        # (registered here: a module imported earlier whose entries were removed)

        classes = [obj for obj in vars(module).values()
                   if inspect.isclass(obj) and issubclass(obj, Explainer)
                   and obj.__module__ == module.__name__ and "info" in vars(obj)]
        names = tuple(dict.fromkeys((*_explainer_names(module),
                                     *(n for c in classes for n in _register_class(c, spec)))))
    else:
        if not hasattr(module, attribute):
            public = sorted(n for n in vars(module) if not n.startswith("_"))
            raise PluginError(f"--plugin {spec}: module {module.__name__} has no attribute "
                              f"{attribute!r} (it defines: {', '.join(public) or 'nothing'})")
        names = _register_class(getattr(module, attribute), spec)
    return LoadedPlugin(spec=str(spec), module=module.__name__, explainers=names)


def load_plugins(specs: Iterable[str] | None) -> list[LoadedPlugin]:
    """:func:`load_plugin` for each spec, in order."""
    return [load_plugin(spec) for spec in (specs or ())]
