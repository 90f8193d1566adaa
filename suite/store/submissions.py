"""Leaderboard submissions: external results added to a board, marked as such.

A submission is a file written by ``suite export --format parquet --plugin-ref REF``
(CSV works too): the cells frame of a results store (one row per cell: names,
seed, status, the cell's config JSON, versions, one column per score) plus the
``plugin`` column, the reference a reader needs to rerun the explainer
(``"suite-toy-plugin==0.1.0 suite_toy_plugin:InverseDegreeExplainer"``).

:func:`read_submission` checks the columns and every row (:func:`first_invalid_row`; one
bad row refuses the file, naming the row) and marks every row: the explainer is
shown as ``NAME (submitted)``, its source as ``external``, ``origin`` names the
file, and the cell keys are prefixed with ``external:`` so a submitted row never
replaces a row of the store.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from suite.core.records import InstanceRecords, records_from_text
from suite.matrix import CellStatus
from suite.metrics import COLUMNS, column_range
from suite.store.frame import REQUIRED_COLUMNS
from suite.store.merge import RECORDS_COLUMN

#: Columns every submission must have (besides its score columns).
SUBMISSION_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "cell_key", "config", "plugin")
#: The source shown for submitted rows.
EXTERNAL_SOURCE = "external"
#: Appended to a submitted explainer's name on the board.
SUBMITTED_SUFFIX = " (submitted)"
#: The statuses a submitted row may have.
STATUSES: tuple[str, ...] = tuple(status.value for status in CellStatus)
#: Seeds are integers below this (they seed numpy and torch generators).
MAX_SEED = 2 ** 63


class SubmissionError(ValueError):
    """A submission file that cannot be added (the message names the file and why)."""


def read_submission(path: str | os.PathLike) -> pd.DataFrame:
    """The rows of submission ``path`` (Parquet or CSV), marked as external (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise SubmissionError(f"--include {path}: no such file")
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except ImportError:
        raise SubmissionError(f'--include {path}: reading Parquet needs pyarrow: '
                              'pip install ".[parquet]"') from None
    except Exception as exc:  # not a Parquet/CSV file
        raise SubmissionError(f"--include {path}: cannot read it as "
                              f"{'CSV' if path.suffix.lower() == '.csv' else 'Parquet'} ({exc})") from None
    missing = [c for c in SUBMISSION_COLUMNS if c not in frame.columns]
    if missing:
        raise SubmissionError(f"--include {path}: not a submission, missing column(s) "
                              f"{', '.join(missing)} (write one with `suite export --format "
                              "parquet --plugin-ref REF`)")
    if frame.empty:
        raise SubmissionError(f"--include {path}: no rows")
    problem = first_invalid_row(frame)
    if problem:
        raise SubmissionError(f"--include {path}: {problem}; the submission is refused")
    plugin = frame["plugin"].astype(str)
    return frame.assign(
        explainer=frame["explainer"].astype(str) + SUBMITTED_SUFFIX,
        explainer_source=EXTERNAL_SOURCE, origin=path.name, plugin=plugin,
        cell_key="external:" + frame["cell_key"].astype(str))


def _excerpt(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _row_problem(row: Mapping[str, Any], scores: Sequence[str]) -> str:
    status = row.get("status")
    if status not in STATUSES:
        return f"status {_excerpt(status)} is not one of {', '.join(STATUSES)}"
    seed = row.get("seed")
    number = pd.to_numeric(pd.Series([seed]), errors="coerce").iloc[0]
    if isinstance(seed, bool) or not (math.isfinite(number) and float(number).is_integer()
                                      and 0 <= number < MAX_SEED):
        return f"seed {_excerpt(seed)} is not an integer in [0, 2^63)"
    for column in scores:
        value = row.get(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        low, high = column_range(column)
        if isinstance(value, bool) or math.isnan(number) or not low <= number <= high:
            return (f"{column} {_excerpt(value)} is not a number in [{low:g}, {high:g}]")
    return ""


def first_invalid_row(frame: pd.DataFrame) -> str:
    """The first row that breaks the schema, named with why ('' when every row is valid):
    a known status, an integer seed in [0, 2^63), and every score column NaN or a finite
    number inside its range (``suite.metrics.column_range``); infinities are refused."""
    scores = [c for c in frame.columns if c in COLUMNS or c.startswith("model_acc_")]
    for index, row in enumerate(frame.to_dict("records")):
        problem = _row_problem(row, scores)
        if problem:
            return f"row {index + 1} (cell {_excerpt(row.get('cell_key'))}): {problem}"
    return ""


def submission_records(frame: pd.DataFrame) -> dict[str, InstanceRecords]:
    """Cell key -> per-instance records of the submitted rows that carry them (the
    ``instance_records`` column); a malformed entry is left out, so its row is shown and
    not ranked."""
    if RECORDS_COLUMN not in frame:
        return {}
    out: dict[str, InstanceRecords] = {}
    for key, text in zip(frame["cell_key"], frame[RECORDS_COLUMN]):
        if isinstance(text, str) and text:
            try:
                out[str(key)] = records_from_text(text)
            except ValueError:
                continue
    return out


def with_submissions(frame: pd.DataFrame, paths: list[str | os.PathLike]) -> pd.DataFrame:
    """``frame`` (a store's cells frame) with the rows of every submission appended."""
    if not paths:
        return frame
    parts = [frame.assign(origin="store")] + [read_submission(p) for p in paths]
    return pd.concat(parts, ignore_index=True, sort=False)
