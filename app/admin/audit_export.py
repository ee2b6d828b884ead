"""The audit log's export: the entries the page's filters pick, as an .xlsx workbook streamed in chunks.

The sheet holds what the page shows (staff names, actions, targets by name, addresses), nothing sealed. It is a
``sealed_sheet`` (app/core/sheets.py): its rows wait in an encrypted spool, never in clear on disk; every string is
a text cell, never a formula. Rows are read ``audit_entries.EXPORT_BATCH`` at a time, so memory stays flat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from openpyxl import Workbook

from app.admin import audit_entries
from app.core.sheets import header, row, sealed_sheet, sealed_workbook_chunks
from app.extensions import db

HEAD = ("序号", "时间（北京时间）", "操作人", "用户名", "角色", "操作", "操作代码", "对象", "地址", "请求编号")
WIDTHS = (9, 18, 14, 16, 14, 26, 24, 40, 16, 24)


def _cst(value: dt.datetime) -> str:
    return value.astimezone(audit_entries.CST).strftime("%Y-%m-%d %H:%M:%S")


def workbook_stream(office_id: int, filters: audit_entries.Filters, *, title: str) -> Iterator[bytes]:
    """The filtered log of ``office_id`` as .xlsx bytes; ``title`` is the first row (office, what was picked,
    when it was made)."""
    wb = Workbook(write_only=True)
    ws = sealed_sheet(wb, "审计日志")
    for index, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    ws.append(row(ws, [title]))
    ws.append(header(ws, HEAD))
    try:
        for batch in audit_entries.all_rows(office_id, filters):
            for r in batch:
                ws.append(row(ws, [r.seq, _cst(r.at), r.actor, r.username or "", r.role, r.action, r.action_code,
                                   r.target, r.ip, r.request_id]))
            yield b""  # let the server notice a client that went away between batches
    except GeneratorExit:
        # The client went away: end the sheet's writer (and its spool) now, rather than leave openpyxl's row
        # generator to be collected half-open.
        ws.close()
        raise
    db.session.rollback()  # the reading transaction ends before the workbook is assembled
    yield from sealed_workbook_chunks(wb)
