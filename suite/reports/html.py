"""The leaderboard as one self-contained static HTML page.

Inline CSS and plain JavaScript, PNG plots embedded as base64 data URIs, no
external assets or fonts: the page works offline from a single file. Every string
that comes from the store is escaped. Tables sort by clicking a column header
(numerically for numeric columns, missing values last) and a filter box hides
the rows that do not contain every typed word.
"""

from __future__ import annotations

import base64
import html
from typing import Callable, Iterable, Mapping

import pandas as pd

from suite.leaderboard import (
    CONVENTIONS,
    PROBLEM_COLUMNS,
    Column,
    Leaderboard,
    describe_dataset,
    format_cell,
    provenance_lines,
    sort_value,
)

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem auto;
       max-width: 110rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
.conventions li { margin-bottom: 0.3rem; } .muted { color: #555; }
#filter { font-size: 1rem; padding: 0.35rem 0.5rem; width: 24rem; max-width: 100%; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; margin-top: 0.5rem; }
th, td { border: 1px solid #d0d0d5; padding: 0.25rem 0.5rem; white-space: nowrap; }
th { background: #f2f2f5; cursor: pointer; user-select: none; position: sticky; top: 0; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.below-floor td { background: #fff4e0; }
td.reason { white-space: normal; min-width: 20rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
"""

#: Sorting and filtering; the comparison is a top-level function so it can be tested.
_SCRIPT = """
"use strict";
function suiteCompare(x, y, numeric, ascending) {
  if (numeric) {
    var fx = parseFloat(x), fy = parseFloat(y), nx = isNaN(fx), ny = isNaN(fy);
    if (nx || ny) { return nx === ny ? 0 : (nx ? 1 : -1); }
    return ascending ? fx - fy : fy - fx;
  }
  if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }
  return ascending ? x.localeCompare(y) : y.localeCompare(x);
}
function suiteCellKey(cell) {
  var v = cell.getAttribute("data-sort");
  return v === null ? cell.textContent.trim() : v;
}
function suiteSort(th) {
  var table = th.closest("table"), body = table.tBodies[0];
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var ascending = th.getAttribute("aria-sort") !== "ascending";
  var numeric = th.getAttribute("data-type") === "number";
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = suiteCellKey(a.cells[col]), y = suiteCellKey(b.cells[col]);
    return suiteCompare(x, y, numeric, ascending);
  });
  rows.forEach(function (row) { body.appendChild(row); });
  Array.prototype.forEach.call(th.parentNode.children, function (h) {
    h.removeAttribute("aria-sort");
  });
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
}
function suiteFilter(query) {
  var words = query.toLowerCase().split(/\\s+/).filter(function (w) { return w.length > 0; });
  document.querySelectorAll("table.board tbody tr").forEach(function (row) {
    var text = row.textContent.toLowerCase();
    row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
  });
}
if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.board th").forEach(function (th) {
      th.addEventListener("click", function () { suiteSort(th); });
    });
    var box = document.getElementById("filter");
    box.addEventListener("input", function () { suiteFilter(box.value); });
  });
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(columns: Iterable[Column], rows: pd.DataFrame, table_id: str,
           row_class: Callable[[pd.Series], str] | None = None) -> list[str]:
    columns = list(columns)
    out = [f'<div class="scroll"><table class="board" id="{_e(table_id)}"><thead><tr>']
    for col in columns:
        kind = "number" if col.numeric else "text"
        title = f' title="{_e(col.help)}"' if col.help else ""
        out.append(f'<th data-type="{kind}"{title}>{_e(col.label)}</th>')
    out.append("</tr></thead><tbody>")
    for _, row in rows.iterrows():
        css = row_class(row) if row_class else ""
        out.append(f'<tr class="{css}">' if css else "<tr>")
        for col in columns:
            if col.key == "reason":
                out.append(f'<td class="reason">{_e(row[col.key])}</td>')
            elif col.numeric:
                out.append(f'<td class="num" data-sort="{_e(sort_value(row, col))}">'
                           f"{_e(format_cell(row, col, plus_minus='±'))}</td>")
            else:
                out.append(f"<td>{_e(format_cell(row, col))}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return out


def _anchor(index: int) -> str:
    return f"dataset-{index}"


def render_html(board: Leaderboard, images: Mapping[str, bytes] | None = None,
                title: str = "GNN explainer leaderboard") -> str:
    """The board as one HTML document; ``images`` (file name -> PNG bytes) are embedded."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        '<p class="muted">Derived from the results store by <code>suite leaderboard</code>; '
        "click a column header to sort, type in the box to filter rows.</p>",
        '<p><label for="filter">Filter: </label>'
        '<input id="filter" type="search" placeholder="e.g. gcn gnnexplainer" '
        'autocomplete="off"></p>',
        "<h2>Conventions</h2>",
        '<ul class="conventions">', *(f"<li>{_e(c)}</li>" for c in CONVENTIONS), "</ul>",
        "<h2>Where the numbers come from</h2>",
        "<ul>", *(f"<li>{_e(line)}</li>" for line in provenance_lines(board)), "</ul>",
    ]
    datasets = board.datasets
    if datasets:
        parts.append("<p>Datasets: " + ", ".join(
            f'<a href="#{_anchor(i)}">{_e(d)}</a>' for i, d in enumerate(datasets)) + "</p>")
    else:
        parts.append("<p>No finished cells in the store.</p>")
    for i, dataset in enumerate(datasets):
        parts += [f'<h2 id="{_anchor(i)}">{_e(dataset)}</h2>',
                  f'<p class="muted">{_e(describe_dataset(board, dataset))}</p>']
        parts += _table(board.columns(dataset), board.section(dataset), f"table-{i}",
                        row_class=lambda row: "below-floor" if row.get("below_floor", 0) else "")
    if not board.problems.empty:
        parts.append("<h2>Failed and skipped cells</h2>")
        parts += _table(PROBLEM_COLUMNS, board.problems, "problems")
    if images:
        parts.append("<h2>Plots</h2>")
        for name, data in images.items():
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{encoded}">'
                         f"<figcaption>{_e(name)}</figcaption></figure>")
    parts += [f"<script>{_SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
