"""CSV cells a spreadsheet will not run as formulas, and the same cells read back as they were.

qabot writes text typed by visitors (the feedback export) and text quoted from a corpus
(``qabot eval``'s ``results.csv``) into CSV files that people open in spreadsheets, where a cell
starting with ``= + - @``, a tab or a carriage return is a formula (CSV injection).
`spreadsheet_safe` puts a ``'`` before such a cell, as OWASP advises; `spreadsheet_text` takes
exactly that quote off again when the file is read back as a question set, so that ``'-2+3`` is
asked as ``-2+3``. A cell that already started with quotes before a formula lead gets one more,
so the round trip gives back every text unchanged.
"""

from __future__ import annotations

# What a spreadsheet takes for the start of a formula (or skips to find one).
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def spreadsheet_safe(value: object) -> object:
    """A cell a spreadsheet will not run: text that reads as a formula gets a leading ``'``.

    Numbers are left alone: they are written by qabot, not typed by visitors.
    """
    if isinstance(value, str) and value.lstrip(_QUOTE).startswith(FORMULA_LEADS):
        return _QUOTE + value
    return value


def spreadsheet_text(value: object) -> object:
    """The text `spreadsheet_safe` was given: its added ``'`` removed (other cells unchanged)."""
    if (
        isinstance(value, str)
        and value.startswith(_QUOTE)
        and value[1:].lstrip(_QUOTE).startswith(FORMULA_LEADS)
    ):
        return value[1:]
    return value
