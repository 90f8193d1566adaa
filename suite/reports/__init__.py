"""Renderings of the results store: the static HTML leaderboard page and PNG plots.

Plotting imports matplotlib only when a plot is drawn.
"""

from suite.reports.html import render_html
from suite.reports.plots import plot_auc_per_explainer, plot_auc_vs_throughput

__all__ = ["plot_auc_per_explainer", "plot_auc_vs_throughput", "render_html"]
