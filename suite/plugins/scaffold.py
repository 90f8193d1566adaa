"""``suite new-explainer NAME``: a plug-in package an explainer author starts from.

:func:`scaffold_explainer` writes, under ``OUT/suite-NAME/``:

- ``pyproject.toml``: the package, depending on ``gnn-explain-suite``, with the entry point
  ``suite.explainers`` that registers the explainer when the package is installed;
- ``suite_NAME/__init__.py``: a working explainer (edge scores from node degrees, the same
  heuristic as the suite's toy plug-in) that uses only the public author API
  (``suite.explainers``, ``suite.explainers.toolkit``, ``suite.core.types``), to be replaced
  by the author's method;
- ``tests/test_contract.py``: the explainer contract ``suite validate-plugin`` runs.

The output passes ``suite validate-plugin OUT/suite-NAME/suite_NAME/__init__.py:CLASS``
unchanged. Nothing is overwritten: an existing folder is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from suite.core.config import ConfigError
from suite.core.files import atomic_write

#: What an explainer name may be: lowercase words joined by hyphens.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Scaffold:
    """The names of a scaffolded plug-in."""

    name: str  # the explainer's registry name, e.g. "my-explainer"
    package: str  # the distribution and folder, e.g. "suite-my-explainer"
    module: str  # the import name, e.g. "suite_my_explainer"
    cls: str  # the explainer class, e.g. "MyExplainerExplainer"

    @classmethod
    def of(cls, name: str) -> "Scaffold":
        if not NAME_PATTERN.match(name):
            raise ConfigError(f"NAME: expected lowercase words joined by hyphens, such as "
                              f"my-explainer (got {name!r})")
        words = name.split("-")
        camel = "".join(w.capitalize() for w in words)
        return cls(name=name, package=f"suite-{name}", module="suite_" + "_".join(words),
                   cls=camel if camel.endswith("Explainer") else camel + "Explainer")

    def spec(self, root: Path) -> str:
        """What ``suite validate-plugin`` takes for the scaffold under ``root``."""
        return f"{root / self.package / self.module / '__init__.py'}:{self.cls}"


_PYPROJECT = '''[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{package}"
version = "0.1.0"
description = "The {name} explainer for gnn-explain-suite"
requires-python = ">=3.10"
dependencies = ["gnn-explain-suite"]

# installing the package registers the explainer: `suite list explainers` shows it and
# matrices name it like a built-in one
[project.entry-points."suite.explainers"]
{name} = "{module}"

[tool.setuptools]
packages = ["{module}"]
'''

_MODULE = '''"""The {name} explainer (a plug-in of gnn-explain-suite).

Replace the body of ``{cls}.explain`` with your method. It receives a trained ``model``,
the ``dataset`` and the instance ``ids`` to explain, and returns an ``Explanation``: one
score per explainable edge of each instance's computation subgraph, in the order of
``batch.edge_ids[batch.explainable]``. ``suite validate-plugin`` checks the contract
(shapes, finite scores, determinism under a seed, the model left unchanged).

The starting point scores edge (u, v) by ``1 / (deg(u) deg(v)) ** power`` over the
instance's subgraph, divided by the instance's maximum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from suite.core.types import Explanation
from suite.explainers import Explainer, ExplainerInfo, register_explainer
from suite.graph.subgraphs import instance_batch

__version__ = "0.1.0"


@dataclass
class {cls}Config:
    """Hyper-parameters (a matrix sets them: ``explainers: {{{name}: {{power: 1.0}}}}``)."""

    power: float = 0.5


@register_explainer(ExplainerInfo(
    name="{name}", citation="your paper or repository", source="plugin",
    description="one line on what the scores mean"))
class {cls}(Explainer):
    """Edge scores of the {name} explainer (see the module docstring)."""

    Config = {cls}Config

    def explain(self, model, dataset, ids, seed) -> Explanation:
        start = time.perf_counter()
        batch = instance_batch(dataset, ids, model.num_layers)
        src, dst = batch.edge_index
        degree = torch.bincount(dst, minlength=batch.x.size(0)).clamp(min=1).double()
        raw = (degree[src] * degree[dst]).pow(-self.config.power)[batch.explainable]
        owner = batch.edge_instance[batch.explainable]
        top = torch.zeros(ids.numel(), dtype=raw.dtype).scatter_reduce(
            0, owner, raw, reduce="amax", include_self=False)
        return Explanation(task=dataset.task, instance_ids=ids,
                           edge_ids=batch.edge_ids[batch.explainable],
                           edge_ptr=batch.explained_edge_ptr(),
                           edge_scores=(raw / top[owner]).float(),
                           seconds=max(time.perf_counter() - start, 1e-9))
'''

_TEST = '''"""The explainer contract, as `suite validate-plugin` runs it (pytest tests/)."""

import {module}  # noqa: F401  (registers the explainer)
from suite.plugins.contract import contract_cases, refusal, validate_explainer


def test_the_explainer_passes_the_contract():
    results = validate_explainer("{name}", contract_cases(seed=0))
    assert refusal(results) is None, refusal(results)
'''

_README = '''# {package}

The `{name}` explainer, a plug-in of gnn-explain-suite.

```
pip install -e .                      # registers the explainer
suite validate-plugin {module}       # the explainer contract
suite run --datasets ba-shapes --models gcn --explainers {name} random --seeds 0
```
'''


def scaffold_explainer(name: str, out: str | Path, known: frozenset[str] = frozenset()
                       ) -> tuple[Scaffold, list[Path]]:
    """Write the plug-in package of explainer ``name`` under ``out`` (module docstring);
    ``known``: registered explainer names it must not take. Returns the names and files."""
    names = Scaffold.of(name)
    if name in known:
        raise ConfigError(f"NAME: {name!r} is already a registered explainer; choose another")
    root = Path(out) / names.package
    if root.exists():
        raise ConfigError(f"--out: {root} already exists; nothing was written (choose another "
                          "folder or name)")
    fields = {"name": names.name, "package": names.package, "module": names.module,
              "cls": names.cls}
    files = {
        root / "pyproject.toml": _PYPROJECT.format(**fields),
        root / "README.md": _README.format(**fields),
        root / names.module / "__init__.py": _MODULE.format(**fields),
        root / "tests" / "test_contract.py": _TEST.format(**fields),
    }
    for path, text in files.items():
        atomic_write(path, text)
    return names, list(files)


__all__ = ["NAME_PATTERN", "Scaffold", "scaffold_explainer"]
