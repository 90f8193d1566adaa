"""Lean installs: a family whose extra is missing is skipped with one line naming the extra
to install (suite.core.extras), never a traceback (the Captum baselines: test_pyg_adapter)."""

from __future__ import annotations

import sys

import pytest

from suite.core.extras import EXTRA_OF, missing_extra, missing_requirement
from suite.datasets import load_dataset
from suite.datasets.base import DatasetUnavailable
from tests.datasets.test_nlp import CONLLU


def test_a_missing_package_names_its_extra():
    error = ModuleNotFoundError("No module named 'rdkit'", name="rdkit")
    line = missing_extra(error, "dataset benzene")
    assert line == ('dataset benzene needs rdkit, which is not installed: pip install '
                    '"gnn-explain-suite[molecules]" (from a clone: pip install -e ".[molecules]")')
    assert missing_extra(ModuleNotFoundError("x", name="yaml"), "y") is None  # not an extra's
    assert {EXTRA_OF[p] for p in ("rdkit", "ogb", "conllu", "captum")} == {
        "molecules", "nlp", "pyg"}


def test_a_dataset_whose_extra_is_missing_is_unavailable_in_one_line(tmp_path, monkeypatch):
    path = tmp_path / "mine.conllu"
    path.write_text("".join(CONLLU.replace("email-test-0001", f"s{i}") for i in range(12)),
                    encoding="utf-8")
    monkeypatch.setitem(sys.modules, "conllu", None)  # import conllu now fails
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("conllu", seed=0, path=str(path))
    assert str(caught.value) == ('dataset conllu needs conllu, which is not installed: pip '
                                 'install "gnn-explain-suite[nlp]" (from a clone: pip install '
                                 '-e ".[nlp]")')


def test_a_missing_extra_is_named_before_any_download_is_tried(monkeypatch):
    """Without rdkit and without the data mirror, benzene names the extra to install, not
    the failed download (the requirement is checked before the builder runs)."""
    monkeypatch.setitem(sys.modules, "rdkit", None)
    monkeypatch.delenv("SUITE_DATA_MIRROR", raising=False)
    with pytest.raises(DatasetUnavailable) as caught:
        load_dataset("benzene", seed=0)
    assert str(caught.value).startswith("dataset benzene needs rdkit, which is not installed: "
                                        'pip install "gnn-explain-suite[molecules]"')
    assert missing_requirement(("json", "rdkit"), "x") == str(caught.value).replace(
        "dataset benzene", "x")
    assert missing_requirement(("json",), "x") is None
