"""Renderings of the results store (HTML page, PNG plots) and the registered studies
(``suite report NAME``).

Plotting imports matplotlib only when a plot is drawn.
"""

from suite.reports import adversarial  # noqa: F401  (registers `suite report adversarial`)
from suite.reports import chemistry  # noqa: F401  (registers `suite report chemistry`)
from suite.reports import graphmask  # noqa: F401  (registers `suite report graphmask`)
from suite.reports import nlp  # noqa: F401  (registers `suite report nlp`)
from suite.reports.base import REPORTS, ReportRequest
from suite.reports.html import render_html
from suite.reports.plots import plot_auc_per_explainer, plot_auc_vs_throughput, plot_edges_dropped

__all__ = ["REPORTS", "ReportRequest", "plot_auc_per_explainer", "plot_auc_vs_throughput",
           "plot_edges_dropped", "render_html"]
