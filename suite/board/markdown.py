"""The board as Markdown."""

from __future__ import annotations

from typing import Iterable

from suite.board.format import describe_dataset, format_cell, provenance_lines
from suite.board.numbers import format_number
from suite.board.table import CARD_COLUMNS, CONVENTIONS, PROBLEM_COLUMNS, Leaderboard

#: Characters that open code, a table cell or inline HTML in Markdown, and their stand-ins.
_MARKDOWN_ESCAPES = {"\\": "\\\\", "|": "\\|", "`": "\\`", "<": "&lt;", ">": "&gt;",
                     "&": "&amp;", "\n": " ", "\r": " "}


def _md(text: str) -> str:
    """``text`` as literal Markdown text: nothing in it can open code, a table cell, an
    HTML tag or an inline link (a submitted name such as ``<img onerror=...>`` or
    ``[x](javascript:...)`` is shown, not rendered). Brackets without ``](`` and
    intraword underscores stay as they are (they render literally)."""
    out = "".join(_MARKDOWN_ESCAPES.get(ch, ch) for ch in str(text))
    return out.replace("](", "]\\(")


def _md_table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    headers = list(headers)
    out = ["| " + " | ".join(_md(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return out


#: Headings of the sections of a dataset's tables.
SECTION_TITLES: dict[str, str] = {
    "reference": "Faithful reference (shown, not ranked)",
    "unranked": "Shown, not ranked",
    "below-floor": "Below the accuracy floor (shown, not ranked)",
}


def to_markdown(board: Leaderboard) -> str:
    """The board as Markdown: conventions, provenance, per dataset its ranked table, the
    rows shown but not ranked, the rows below the floor and its model cards; problems."""
    lines = ["# GNN explainer leaderboard", "",
             "Derived from the results store by `suite leaderboard`; never edit it by hand.", "",
             "## Conventions", ""]
    lines += [f"- {c}" for c in CONVENTIONS]
    lines += ["", "## Where the numbers come from", ""]
    lines += [f"- {_md(line)}" for line in provenance_lines(board)]
    if board.table.empty:
        lines += ["", "No finished cells in the store."]
    for dataset in board.datasets:
        part, cols = board.section(dataset), board.columns(dataset, markdown=True)
        lines += ["", f"## {_md(dataset)}", "", _md(describe_dataset(board, dataset)), ""]
        ranked = part[part["section"] == "ranked"]
        lines += _md_table([c.label for c in cols],
                           ([format_cell(row, c) for c in cols] for _, row in ranked.iterrows()))
        for section, title in SECTION_TITLES.items():
            rows = part[part["section"] == section]
            if rows.empty:
                continue
            lines += ["", f"### {_md(dataset)}: {title}", ""]
            lines += _md_table([c.label for c in cols],
                               ([format_cell(row, c) for c in cols] for _, row in rows.iterrows()))
        card = board.card(dataset)
        if not card.empty:
            lines += ["", f"### {_md(dataset)}: model cards", ""]
            lines += _md_table([c.label for c in CARD_COLUMNS],
                               ([format_cell(row, c) for c in CARD_COLUMNS]
                                for _, row in card.iterrows()))
    if not board.problems.empty:
        lines += ["", "## Failed and skipped cells", ""]
        lines += _md_table([c.label for c in PROBLEM_COLUMNS],
                           ([str(row[c.key]) for c in PROBLEM_COLUMNS]
                            for _, row in board.problems.iterrows()))
    return "\n".join(lines) + "\n"


def headline_markdown(board: Leaderboard, top: int = 3) -> str:
    """A compact board: per (dataset, model, training) group its ``top`` ranked explainers
    with the headline mean, 95% interval and rank range, or why the group is not ranked."""
    rows = []
    for dataset in board.datasets:
        part = board.section(dataset)
        metric = board.rank_metric.get(dataset, "")
        for (model, training), group in part.groupby(["model", "training"], sort=False):
            ranked = group[group["section"] == "ranked"].sort_values(
                ["rank", f"{metric}_mean"], ascending=[True, False]) if metric else group.iloc[:0]
            best = [f"{row['explainer']} {format_number(row[f'{metric}_mean'], 'score')} "
                    f"[{format_number(row['rank_low'], 'score')}, "
                    f"{format_number(row['rank_high'], 'score')}] (rank {row['rank_text']})"
                    for _, row in ranked.head(top).iterrows()]
            if not best:
                below = group[group["section"] == "below-floor"]
                best = ["not ranked: the model is below its accuracy floor" if not below.empty
                        else "not ranked"]
            n = str(int(ranked["n"].min())) if not ranked.empty else "-"
            rows.append([dataset, f"{model} ({training})", metric or "-", n, *best[:1],
                         "; ".join(best[1:])])
    headers = ["dataset", "model", "score", "n", "first", f"next {top - 1}"]
    return "\n".join(_md_table(headers, rows)) + "\n"


#: The markers around the headline board in a Markdown file (the README).
HEADLINE_START, HEADLINE_END = "<!-- headline-board -->", "<!-- /headline-board -->"


def with_headline(text: str, headline: str) -> str:
    """``text`` with the block between :data:`HEADLINE_START` and :data:`HEADLINE_END`
    replaced by ``headline``; ValueError when the markers are missing."""
    if HEADLINE_START not in text or HEADLINE_END not in text:
        raise ValueError(f"no {HEADLINE_START} ... {HEADLINE_END} block to fill")
    head, rest = text.split(HEADLINE_START, 1)
    _, tail = rest.split(HEADLINE_END, 1)
    return f"{head}{HEADLINE_START}\n{headline}{HEADLINE_END}{tail}"
