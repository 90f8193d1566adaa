"""Executors: how the cells of a matrix are run (a registry; ``local`` here, ``processes``
and ``ray`` in their own modules)."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

from suite.core.paths import Paths
from suite.core.registry import Registry
from suite.execution.cell import RunMemo, run_cell
from suite.matrix import Cell, CellOutcome

#: ``executor(cells, paths, on_start, **options) -> outcomes`` in any order; ``on_start(cell)``
#: is called when a cell begins or arrives (for the progress bar); ``options`` are the
#: executor's own keyword options (``run_matrix(executor_options=...)``). A cell it
#: cannot finish (its worker died) is simply not yielded: it stays pending.
Executor = Callable[[Sequence[Cell], Paths, Callable[[Cell], None]], Iterator[CellOutcome]]

EXECUTORS: Registry[Executor] = Registry("executor", entry_point_group="suite.executors")


@EXECUTORS.register("local", description="cells one after another in this process")
def local_executor(cells: Sequence[Cell], paths: Paths,
                   on_start: Callable[[Cell], None]) -> Iterator[CellOutcome]:
    memo = RunMemo()
    for cell in cells:
        on_start(cell)
        yield run_cell(cell, paths, memo=memo)
