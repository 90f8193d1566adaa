"""asv: the quick subset, for a history over many commits in minutes.

``asv run --quick --bench quick A..B`` times, per commit: ``suite list`` in a fresh
interpreter (the command a user types first; it reads the metadata index instead of
importing torch) and one ``explain`` over the small BA-Shapes test set for three explainers
of different cost (``random``, ``saliency``, ``gnnexplainer``). The full benchmarks are in
``bench_explain``, ``bench_train`` and ``bench_memory`` (docs/speed.md).
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.bench_explain import build
from suite.explainers import build_explainer

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


class QuickExplain:
    """One ``explain`` over the small BA-Shapes test set (data and model built once)."""

    params = (EXPLAINERS,)
    param_names = ("explainer",)
    timeout = 120

    def setup_cache(self):
        return build("ba-shapes")

    def setup(self, cache, explainer):
        self.dataset, self.model, self.ids = cache
        self.explainer = build_explainer(explainer)

    def time_explain(self, cache, explainer):
        self.explainer.explain(self.model, self.dataset, self.ids, seed=0)
