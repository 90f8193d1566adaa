"""Optional dependency families and the pip extra that installs each.

A plain ``pip install gnn-explain-suite`` runs the synthetic datasets and the suite's own
explainers; the molecule family, the NLP family and the PyG baselines that use Captum each
need their extra. Where a missing package stops a dataset or an explainer, the suite says
which extra to install, in one line (:func:`missing_extra`).
"""

from __future__ import annotations

from importlib import util as import_util
from typing import Iterable

#: The project's distribution name (what ``pip install`` takes).
DISTRIBUTION = "gnn-explain-suite"

#: Top-level import name -> the extra that installs it.
EXTRA_OF: dict[str, str] = {
    "rdkit": "molecules", "ogb": "molecules", "grakel": "molecules", "B3DB": "molecules",
    "conllu": "nlp", "captum": "pyg", "ray": "ray", "pyarrow": "parquet",
}


def install_hint(extra: str) -> str:
    """``pip install "gnn-explain-suite[EXTRA]"`` (from a clone: ``pip install -e ".[EXTRA]"``)."""
    return f'pip install "{DISTRIBUTION}[{extra}]" (from a clone: pip install -e ".[{extra}]")'


def missing_extra(exc: ImportError, needed_by: str) -> str | None:
    """One line naming the extra to install when ``exc`` is a missing package of an extra
    (None when it is not, e.g. a broken install of something else)."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    return _not_installed(name, needed_by) if name in EXTRA_OF else None


def missing_requirement(modules: Iterable[str], needed_by: str) -> str | None:
    """One line naming the extra of the first of ``modules`` that is not installed (None
    when all are); a module of no extra is named with the package to install."""
    for name in modules:
        if import_util.find_spec(name) is None:
            return _not_installed(name, needed_by)
    return None


def _not_installed(name: str, needed_by: str) -> str:
    """The one line for a package ``name`` that ``needed_by`` needs and is not installed."""
    extra = EXTRA_OF.get(name)
    how = install_hint(extra) if extra else f"pip install {name}"
    return f"{needed_by} needs {name}, which is not installed: {how}"


__all__ = ["DISTRIBUTION", "EXTRA_OF", "install_hint", "missing_extra", "missing_requirement"]
