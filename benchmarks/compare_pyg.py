"""Side by side: our explainers vs ``torch_geometric.explain``; a thin wrapper of ``suite bench``.

    python benchmarks/compare_pyg.py [suite bench options, e.g. --quick --tasks ba-shapes]

The logic lives in ``suite/perf/bench.py`` (see its docstring and ``suite bench --help``).
"""

from __future__ import annotations

import sys

from suite.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["bench", *sys.argv[1:]]))
