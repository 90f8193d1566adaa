"""Write a board's files: Markdown, the HTML page and the PNG plots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import pandas as pd

from suite.board.html import render_html
from suite.board.markdown import headline_markdown, to_markdown, with_headline
from suite.board.plots import plot_auc_per_explainer, plot_auc_vs_throughput, plot_edges_dropped
from suite.board.table import build_leaderboard, row_details
from suite.core.files import atomic_write
from suite.core.records import InstanceRecords

MARKDOWN_FILE = "leaderboard.md"
HTML_FILE = "leaderboard.html"
AUC_PLOT_FILE = "auc_per_explainer.png"
THROUGHPUT_PLOT_FILE = "auc_vs_throughput.png"
DROP_PLOT_FILE = "edges_dropped.png"


def write_leaderboard(frame: pd.DataFrame, out_dir: str | os.PathLike,
                      instances: Mapping[str, InstanceRecords] | None = None,
                      readme: str | os.PathLike | None = None) -> list[Path]:
    """Write the Markdown board, the HTML page and the PNG plots; return their paths.

    ``readme``: also fill that Markdown file's headline-board block
    (:func:`~suite.board.markdown.with_headline`) with the compact board.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    board = build_leaderboard(frame, instances)
    md = atomic_write(out / MARKDOWN_FILE, to_markdown(board))
    plots = [plot_auc_per_explainer(board, out / AUC_PLOT_FILE),
             plot_auc_vs_throughput(board, out / THROUGHPUT_PLOT_FILE),
             plot_edges_dropped(board, out / DROP_PLOT_FILE)]
    html = atomic_write(out / HTML_FILE,
                        render_html(board, images={p.name: p.read_bytes() for p in plots},
                                    details=row_details(frame)))
    written = [md, html, *plots]
    if readme is not None:
        path = Path(readme)
        written.append(atomic_write(path, with_headline(path.read_text(encoding="utf-8"),
                                                        headline_markdown(board))))
    return written
