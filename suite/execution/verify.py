"""``suite verify-submission FILE``: rerun a seeded sample of a submission's cells and accept
it only when its scores reproduce.

A submission (``suite export --plugin-ref REF``) carries, per row, the cell's whole
configuration, so a maintainer can rerun any cell. :func:`verify_submission`

1. reads the file (:func:`suite.store.submissions.read_submission`: schema, finite scores in
   range, known statuses, integer seeds);
2. checks every row is consistent with its configuration: the configuration rebuilds a
   cell whose key is the row's key and whose dataset, model, training, explainer and seed
   are the row's (an edited row fails here);
3. loads the plug-in each row names (its ``REF``'s last word: ``module:Class`` or a file
   path), installing nothing: the maintainer installs the package first;
4. reruns a seeded sample of the finished cells (``sample`` cells, generator seeded with
   ``seed``) on this machine's models (the committed reference models where the cell's
   model is one of them) and compares every gated score
   (:data:`suite.execution.check.GATED_COLUMNS`) with the submitted one: a difference above
   ``tolerance`` (the gate's ``min_tolerance``) rejects the submission, naming the first
   disagreeing cell and score. Scores of another (weaker) explainer submitted under this
   plug-in's name are caught here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from suite.core.config import ConfigError
from suite.core.paths import Paths
from suite.execution.cell import run_cell
from suite.execution.check import GATED_COLUMNS, MIN_TOLERANCE
from suite.matrix import Cell, CellStatus
from suite.plugins.loading import load_plugin
from suite.store.submissions import SUBMITTED_SUFFIX, read_submission

#: Cells rerun by default (each trains or loads its model and explains its instances).
DEFAULT_SAMPLE = 3
#: Largest difference of a gated score that still counts as reproduced (the gate's
#: ``MIN_TOLERANCE``, score units).
TOLERANCE = MIN_TOLERANCE


class SubmissionRejected(ValueError):
    """The submission is refused; the message names the first disagreeing cell."""


@dataclass
class Verification:
    """What :func:`verify_submission` checked."""

    rows: int
    plugins: list[str]
    rerun: list[str] = field(default_factory=list)  # labels of the cells rerun
    compared: int = 0  # scores compared

    def text(self) -> str:
        return (f"submission accepted: {self.rows} rows consistent with their configurations; "
                f"{len(self.rerun)} cell(s) rerun ({', '.join(self.rerun)}), {self.compared} "
                f"scores within {TOLERANCE} of the submitted ones; plug-in(s) "
                f"{', '.join(self.plugins)}")


def _plugin_spec(reference: str) -> str:
    """The loadable part of a ``--plugin-ref``: its last word (``module:Class`` or a path)."""
    words = str(reference).split()
    if not words:
        raise SubmissionRejected("a row names no plug-in (column plugin is empty)")
    return words[-1]


def _cell_of(row: pd.Series) -> Cell:
    """The row's cell from its configuration, checked against the row's own columns."""
    label = f"row {row.name + 1}"
    try:
        cell = Cell.from_dict(json.loads(str(row["config"])))
    except (ValueError, ConfigError) as exc:
        raise SubmissionRejected(f"{label}: its configuration is not a cell ({exc})") from None
    key = str(row["cell_key"]).removeprefix("external:")
    explainer = str(row["explainer"]).removesuffix(SUBMITTED_SUFFIX)
    wanted = {"cell key": (cell.key, key), "explainer": (cell.explainer, explainer),
              "dataset": (cell.dataset, str(row["dataset"])),
              "model": (cell.model, str(row["model"])),
              "training": (cell.training, str(row["training"])),
              "seed": (cell.seed, int(row["seed"]))}
    for what, (configured, written) in wanted.items():
        if configured != written:
            raise SubmissionRejected(f"{label} ({cell.label}): its {what} {written!r} is not "
                                     f"its configuration's {configured!r} (an edited row)")
    return cell


def verify_submission(path: str | Path, paths: Paths, sample: int = DEFAULT_SAMPLE,
                      seed: int = 0, tolerance: float = TOLERANCE,
                      progress: Callable[[str], None] | None = None) -> Verification:
    """Verify the submission at ``path`` (module docstring); raises ``SubmissionRejected``
    (or ``SubmissionError`` for an unreadable file) with one line."""
    if sample < 1:
        raise ConfigError(f"--sample: expected a positive number (got {sample})")
    say = progress or (lambda _line: None)
    frame = read_submission(path).reset_index(drop=True)
    cells = {index: _cell_of(row) for index, row in frame.iterrows()}
    plugins = sorted({_plugin_spec(ref) for ref in frame["plugin"]})
    for spec in plugins:
        try:
            load_plugin(spec)
        except Exception as exc:  # an import error of any kind: one line, the plug-in named
            raise SubmissionRejected(f"plug-in {spec} cannot be loaded here ({exc}); install "
                                     "its package first") from None
    done = [i for i in frame.index if frame.at[i, "status"] == CellStatus.DONE.value]
    if not done:
        raise SubmissionRejected("no finished cell to rerun")
    chosen = np.random.default_rng(seed).choice(done, size=min(sample, len(done)),
                                                replace=False)
    result = Verification(rows=len(frame), plugins=plugins)
    for index in sorted(int(i) for i in chosen):
        cell = cells[index]
        say(f"rerunning {cell.label}")
        outcome = run_cell(cell, paths)
        if outcome.status != CellStatus.DONE:
            raise SubmissionRejected(f"{cell.label}: the rerun did not finish ({outcome.status}: "
                                     f"{str(outcome.error).splitlines()[0] if outcome.error else ''})")
        for column in GATED_COLUMNS:
            if column not in frame.columns:
                continue
            submitted = pd.to_numeric(pd.Series([frame.at[index, column]]),
                                      errors="coerce").iloc[0]
            rerun = float(outcome.scores.get(column, math.nan))
            if math.isnan(submitted) and math.isnan(rerun):
                continue
            if math.isnan(submitted) or math.isnan(rerun) or abs(submitted - rerun) > tolerance:
                raise SubmissionRejected(
                    f"{cell.label}: {column} submitted {submitted:.4f}, rerun {rerun:.4f} "
                    f"(tolerance {tolerance}); the scores do not reproduce")
            result.compared += 1
        result.rerun.append(cell.label)
    return result


__all__ = ["DEFAULT_SAMPLE", "SubmissionRejected", "TOLERANCE", "Verification",
           "verify_submission"]
