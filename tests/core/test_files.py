"""Writes that cannot destroy data (suite.core.files)."""

from __future__ import annotations

import sqlite3

import pytest

from suite.cli import main
from suite.core.files import TargetError, atomic_write, check_target, is_sqlite
from suite.core.paths import atomic_write as write_atomically


def _store(path):
    with sqlite3.connect(path) as db:
        db.execute("create table cells (k text)")
    return path


def test_targets_that_would_destroy_data_are_refused(tmp_path):
    store = _store(tmp_path / "store.sqlite")
    assert is_sqlite(store) and not is_sqlite(tmp_path / "missing")
    with pytest.raises(TargetError, match="is the file this command reads"):
        check_target(tmp_path / "x.csv", reads=[tmp_path / "x.csv"])
    with pytest.raises(TargetError, match="is a results store"):
        check_target(store)
    with pytest.raises(TargetError, match="is a directory"):
        check_target(tmp_path)
    existing = tmp_path / "ref.json"
    existing.write_text("{}")
    with pytest.raises(TargetError, match="exists; pass --overwrite"):
        check_target(existing, overwrite=False)
    assert check_target(existing) == existing and check_target(tmp_path / "new.csv")


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path):
    path = tmp_path / "out.json"
    atomic_write(path, "old")
    def interrupted(handle) -> None:
        handle.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_atomically(path, interrupted)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary left behind


def test_check_refuses_to_write_a_reference_over_a_store_or_an_existing_file(tmp_path, capsys):
    """Refused before the matrix runs (one line, exit 2)."""
    store = _store(tmp_path / "store.sqlite")
    before = store.read_bytes()
    assert main(["check", "--write-reference", str(store), "--root", str(tmp_path)]) == 2
    assert "is a results store" in capsys.readouterr().err
    assert store.read_bytes() == before
    reference = tmp_path / "ref.json"
    reference.write_text("{}")
    assert main(["check", "--write-reference", str(reference), "--root", str(tmp_path)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err
    assert reference.read_text() == "{}"


def test_leaderboard_out_onto_a_file_is_one_line(tmp_path, capsys):
    store = _store(tmp_path / "store.sqlite")
    target = tmp_path / "board.md"
    target.write_text("mine")
    assert main(["leaderboard", "--store", str(store), "--out", str(target)]) == 2
    assert "is a file; give a directory" in capsys.readouterr().err
    assert target.read_text() == "mine"


@pytest.mark.parametrize("command", [
    ["tune", "--explainer", "gnnexplainer", "--task", "node"],
    ["compare", "--explainer", "saliency", "--matrix", "smoke"],
])
def test_long_commands_refuse_a_store_as_their_output_before_running(command, tmp_path, capsys):
    store = _store(tmp_path / "store.sqlite")
    before = store.read_bytes()
    assert main([*command, "--out", str(store), "--root", str(tmp_path)]) == 2
    assert "is a results store" in capsys.readouterr().err
    assert store.read_bytes() == before
