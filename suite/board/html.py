"""The leaderboard as one self-contained static HTML page.

Inline CSS and plain JavaScript, PNG plots embedded as base64 data URIs, no
external assets or fonts: the page works offline from a single file. Every string
that comes from the store is escaped. Tables sort by clicking a column header
(numerically for numeric columns, missing values last) and a filter box hides
the rows that do not contain every typed word. Drop-downs filter by dataset
family, task level and training mode and pick the metric columns shown. Every
board row links (its "config" cell) to a JSON block further down the page with
the configs, seeds, runs and package versions of the cells behind it; submitted
(external) rows are marked.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from suite.board.format import describe_dataset, format_cell, provenance_lines, sort_value
from suite.board.table import CARD_COLUMNS, CONVENTIONS, PROBLEM_COLUMNS, Column, Leaderboard
from suite.store.frame import KEY

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
.filters label { margin-right: 0.3rem; }
.filters select { font-size: 0.95rem; margin-right: 1.2rem; }
details.conventions-box summary { cursor: pointer; } details.conventions-box summary h2 {
  display: inline; }
tr.external td { background: #eef4ff; } .badge { font-size: 0.75rem; color: #1a4fa0; }
details.row-config { margin: 0.3rem 0; } details.row-config pre { background: #f7f7f9;
  padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
details.row-config:target summary { background: #fff3b0; }
"""

#: Sorting and filtering; the comparison is a top-level function so it can be tested.
_SCRIPT = r"""
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
  document.getElementById("filter").value = query;
  suiteApply();
}
function suiteRowVisible(row, words, choice) {
  var text = row.textContent.toLowerCase();
  if (!words.every(function (w) { return text.indexOf(w) >= 0; })) { return false; }
  return ["family", "task", "training"].every(function (k) {
    return !choice[k] || row.getAttribute("data-" + k) === choice[k];
  });
}
function suiteApply() {
  var box = document.getElementById("filter");
  var words = box.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
  var choice = {};
  ["family", "task", "training", "metric"].forEach(function (k) {
    var el = document.getElementById("f-" + k); choice[k] = el ? el.value : "";
  });
  document.querySelectorAll("table.board tbody tr").forEach(function (row) {
    row.hidden = !suiteRowVisible(row, words, choice);
  });
  document.querySelectorAll("table.board").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) {
      var metric = heads[i].getAttribute("data-metric");
      var hide = !!(metric && choice.metric && metric !== choice.metric);
      heads[i].hidden = hide;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        if (row.cells[i]) { row.cells[i].hidden = hide; }
      });
    }
  });
  document.querySelectorAll("section.dataset").forEach(function (sec) {
    var rows = sec.querySelectorAll("tbody tr");
    sec.hidden = rows.length > 0 && Array.prototype.every.call(rows, function (r) { return r.hidden; });
  });
}
function suiteOpenTarget() {
  var id = decodeURIComponent((location.hash || "").slice(1));
  var el = id ? document.getElementById(id) : null;
  if (el && el.tagName === "DETAILS") { el.open = true; }
}
if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.board th").forEach(function (th) {
      th.addEventListener("click", function () { suiteSort(th); });
    });
    var box = document.getElementById("filter");
    box.addEventListener("input", suiteApply);
    document.querySelectorAll(".filters select").forEach(function (el) {
      el.addEventListener("change", suiteApply);
    });
    window.addEventListener("hashchange", suiteOpenTarget);
    suiteOpenTarget();
  });
}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(columns: Iterable[Column], rows: pd.DataFrame, table_id: str,
           row_class: Callable[[pd.Series], str] | None = None,
           row_attrs: Callable[[pd.Series], Mapping[str, str]] | None = None,
           link: Callable[[pd.Series], str | None] | None = None) -> list[str]:
    """One sortable table; ``row_attrs`` adds ``data-*`` attributes to a row, ``link``
    an anchor (``#id``) shown in a last "Config" column."""
    columns = list(columns)
    out = [f'<div class="scroll"><table class="board" id="{_e(table_id)}"><thead><tr>']
    for col in columns:
        kind = "number" if col.numeric else "text"
        title = f' title="{_e(col.help)}"' if col.help else ""
        metric = f' data-metric="{_e(col.key)}"' if col.aggregated else ""
        out.append(f'<th data-type="{kind}"{title}{metric}>{_e(col.label)}</th>')
    if link is not None:
        out.append('<th data-type="text" title="configs, seeds and versions of this row">'
                   "Config</th>")
    out.append("</tr></thead><tbody>")
    for _, row in rows.iterrows():
        css = row_class(row) if row_class else ""
        attrs = "".join(f' data-{_e(k)}="{_e(v)}"' for k, v in (row_attrs(row) if row_attrs
                                                                else {}).items())
        out.append(f'<tr class="{css}"{attrs}>' if css else f"<tr{attrs}>")
        for col in columns:
            if col.key == "reason":
                out.append(f'<td class="reason">{_e(row[col.key])}</td>')
            elif col.numeric:
                out.append(f'<td class="num" data-sort="{_e(sort_value(row, col))}">'
                           f"{_e(format_cell(row, col, plus_minus='±'))}</td>")
            else:
                out.append(f"<td>{_e(format_cell(row, col))}</td>")
        if link is not None:
            target = link(row)
            out.append(f'<td><a href="#{_e(target)}">config</a></td>' if target else "<td>-</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return out


def _row_class(row: pd.Series) -> str:
    classes = ["below-floor"] if row.get("below_floor", 0) else []
    if str(row.get("section", "ranked")) != "ranked":
        classes.append("unranked")
    if str(row.get("explainer_source", "")) == "external":
        classes.append("external")
    return " ".join(classes)


def _anchor(index: int) -> str:
    return f"dataset-{index}"


def _row_key(row: pd.Series) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in KEY)


def _row_anchor(key: tuple[str, ...]) -> str:
    return "row-" + "-".join("".join(ch if ch.isalnum() else "_" for ch in part) for part in key)


def _select(name: str, label: str, values: Iterable[str], labels: Mapping[str, str] | None = None
            ) -> str:
    options = ['<option value="">all</option>'] + [
        f'<option value="{_e(v)}">{_e((labels or {}).get(v, v))}</option>' for v in values]
    return (f'<label for="f-{name}">{_e(label)}: </label>'
            f'<select id="f-{name}">{"".join(options)}</select>')


def _filters(board: Leaderboard) -> str:
    table = board.table
    shown: dict[str, str] = {}
    for dataset in board.datasets:
        for col in board.columns(dataset):
            if col.aggregated:
                shown.setdefault(col.key, col.label)

    def values(col: str) -> list[str]:
        return sorted({str(v) for v in table[col].dropna()}) if col in table else []

    return ('<p class="filters">'
            + _select("family", "Dataset family", values("dataset_family"))
            + _select("task", "Task level", values("task"))
            + _select("training", "Training", values("training"))
            + _select("metric", "Metric", list(shown), shown) + "</p>")


def _details_section(details: Mapping[tuple[str, ...], Mapping[str, Any]]) -> list[str]:
    parts = ["<h2>Row configurations and versions</h2>",
             '<p class="muted">Every board row links here: the cells (one per seed) behind it, '
             "each with its full config (the hash of which is its cell key), run and package "
             "versions.</p>"]
    for key, value in details.items():
        text = json.dumps(value, indent=1, sort_keys=True, default=str)
        parts.append(f'<details class="row-config" id="{_e(_row_anchor(key))}"><summary>'
                     f'{_e(" / ".join(key))}</summary><pre>{_e(text)}</pre></details>')
    return parts


def render_html(board: Leaderboard, images: Mapping[str, bytes] | None = None,
                title: str = "GNN explainer leaderboard",
                details: Mapping[tuple[str, ...], Mapping[str, Any]] | None = None) -> str:
    """The board as one HTML document; ``images`` (file name -> PNG bytes) are embedded.

    ``details`` (``leaderboard.row_details``: board row key -> configs and versions)
    adds the per-row JSON blocks each row links to.
    """
    details = details or {}
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
        _filters(board),
        '<details class="conventions-box"><summary><h2>Conventions</h2></summary>',
        '<ul class="conventions">', *(f"<li>{_e(c)}</li>" for c in CONVENTIONS), "</ul>",
        "</details>",
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
        section = board.section(dataset)
        first = section.iloc[0]
        parts += [f'<section class="dataset" data-family="{_e(first["dataset_family"])}" '
                  f'data-task="{_e(first["task"])}">',
                  f'<h2 id="{_anchor(i)}">{_e(dataset)}</h2>',
                  f'<p class="muted">{_e(describe_dataset(board, dataset))}</p>']
        parts += _table(board.columns(dataset), section, f"table-{i}",
                        row_class=_row_class,
                        row_attrs=lambda row: {"family": str(row["dataset_family"]),
                                               "task": str(row["task"]),
                                               "training": str(row["training"])},
                        link=lambda row: (_row_anchor(_row_key(row))
                                          if _row_key(row) in details else None))
        card = board.card(dataset)
        if not card.empty:
            parts.append(f"<h3>{_e(dataset)}: model cards</h3>")
            parts += _table(CARD_COLUMNS, card, f"cards-{i}")
        parts.append("</section>")
    if not board.problems.empty:
        parts.append("<h2>Failed and skipped cells</h2>")
        parts += _table(PROBLEM_COLUMNS, board.problems, "problems")
    if details:
        parts += _details_section(details)
    if images:
        parts.append("<h2>Plots</h2>")
        for name, data in images.items():
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(f'<figure><img alt="{_e(name)}" src="data:image/png;base64,{encoded}">'
                         f"<figcaption>{_e(name)}</figcaption></figure>")
    parts += [f"<script>{_SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
