"""asv: the quick subset, for a history over many commits in minutes.

``asv run --quick --bench quick A..B`` times, per commit: ``suite list`` in a fresh
interpreter (the command a user types first; it reads the metadata index instead of
importing torch) and, on the small BA-Shapes test set, ``bench_explain``'s explain, fit and
AUC for three explainers of different cost (``random``, ``saliency``, ``gnnexplainer``).
The full benchmarks are in ``bench_explain``, ``bench_train`` and ``bench_memory``
(docs/speed.md).
"""

from __future__ import annotations

import subprocess
import sys

# the module, not its classes: asv would collect an imported Explain as a benchmark here too
from benchmarks import bench_explain

#: explainers of the quick subset: no fit, a gradient, an optimisation per instance
EXPLAINERS = ["random", "saliency", "gnnexplainer"]


class QuickList:
    """``suite list KIND`` from a fresh interpreter, start to exit (seconds)."""

    params = (["datasets", "explainers"],)
    param_names = ("kind",)
    timeout = 120

    def time_suite_list(self, kind):
        subprocess.run([sys.executable, "-m", "suite", "list", kind], check=True,
                       capture_output=True)


class QuickExplain(bench_explain.Explain):
    """:class:`bench_explain.Explain` on the small BA-Shapes only, for :data:`EXPLAINERS`."""

    params = (EXPLAINERS, ["ba-shapes"])
    timeout = 120

    def setup_cache(self):
        return {"ba-shapes": bench_explain.build("ba-shapes")}
