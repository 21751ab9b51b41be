"""Names from files and visitors (model labels, dataset file names, config paths) written into the
reports that other programs open: Markdown (evaluation.md, attention_report.md), CSV
(evaluation.csv, attention_report.csv) and figure titles. A name must reach the reader as text: not
as a link, an image, raw HTML or a table cell break in Markdown, not as a formula in a spreadsheet,
not as matplotlib mathtext (a file named '$\\frac$.png' stops the figure with a parse error)."""

from __future__ import annotations

import html
import re

# What links, styles, breaks a table row or starts math mid-text ('<' and '>' become entities first).
_MARKDOWN = re.compile(r"([\\`*_\[\]()#|!~$])")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP's CSV injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(value: object) -> str:
    """`value` (str() of it) as literal Markdown text, on one line: & < > as HTML entities (no raw
    HTML), Markdown punctuation backslash-escaped (no links, images, emphasis or table cells)."""
    text = " ".join(str(value).splitlines())
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def markdown_code(value: object) -> str:
    """`value` as a Markdown code span (shown as written, HTML included), whatever backticks it
    holds: the fence is one backtick longer than its longest run of them."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def csv_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as written: text starting with = + - @ (or a tab or
    carriage return) gets a leading single quote, as OWASP recommends; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_row(row) -> list:
    """`csv_cell` of every cell of a row."""
    return [csv_cell(value) for value in row]


def figure_text(value: object) -> str:
    """`value` (str() of it) as plain matplotlib text: every '$' escaped, so no mathtext is parsed."""
    return str(value).replace("$", r"\$")
