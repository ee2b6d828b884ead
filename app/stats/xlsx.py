"""Workbooks: the statistics (a sheet per breakdown, the page's numbers) and the case register (台账).

Both are written in openpyxl's write-only mode. The register decrypts personal columns row by row, so its sheet
never waits in clear on disk: it is a ``sealed_sheet`` (app/core/sheets.py: an encrypted spool instead of
openpyxl's temporary file), and the finished workbook is assembled into another spool and sent in chunks. Memory
stays flat however many rows there are (rows are read ``REGISTER_CHUNK`` at a time).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from app.core.sheets import XLSX as XLSX  # the routes' mimetype
from app.core.sheets import header, row, sealed_sheet, sealed_workbook_chunks
from app.crypto.vault import DecryptionError, Vault
from app.extensions import db
from app.offices.queries import district_label
from app.reports.constants import CATEGORY_SHORT
from app.reports.records import CLOSE_REASONS, FEEDBACK_OUTCOMES
from app.reports.states import STATUS_LABELS
from app.stats import queries
from app.stats.presenters import CHANNEL_LABELS
from app.units.models import UNIT_TYPES

log = logging.getLogger("qzbg.stats")
CONFIDENTIAL = "机密 · 仅限未检办内部使用"


def _sheet_title(title: str) -> str:
    cleaned = title.split("（")[0]
    for ch in "[]:*?/\\":
        cleaned = cleaned.replace(ch, " ")
    return cleaned[:31]


def stats_workbook(context: dict[str, Any]) -> bytes:
    """The statistics of ``presenters.build``: a summary sheet, then one sheet per breakdown."""
    wb = Workbook(write_only=True)
    bold = Font(bold=True)

    def head(ws: Any, values: tuple[str, ...]) -> None:
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)

    period = context["period"]
    summary = wb.create_sheet("概况")
    summary.append(row(summary, [f"统计期间 {period.first.isoformat()} 至 {period.last.isoformat()}（北京时间）"]))
    head(summary, ("指标", "代码", "数量"))
    for item in context["headline"]:
        summary.append(row(summary, [item.label, item.name, item.value]))
    rate = ["移送率（本期接收线索中已移送公安的比例）", "transfer_rate", context["transfer_rate"]]
    summary.append(row(summary, rate))
    if context.get("small_cell_rule"):
        summary.append(row(summary, [context["small_cell_rule"]]))
    for table in context["tables"]:
        ws = wb.create_sheet(_sheet_title(table.title))
        ws.append(row(ws, [table.title]))
        if table.note:
            ws.append(row(ws, [table.note]))
        head(ws, table.head)
        for values in table.rows:
            ws.append(row(ws, values))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


REGISTER_HEAD = (
    "编号", "接收时间", "渠道", "紧急", "类别", "成员单位", "单位类型", "区划", "状态", "签收时间",
    "移送时间", "移送公安机关", "公安反馈", "案件编号", "反馈时间", "办结时间", "办结原因",
    "被害人姓名", "报告人姓名", "报告人电话",
)


def _cst(value: dt.datetime | None) -> str:
    return value.astimezone(queries.CST).strftime("%Y-%m-%d %H:%M") if value else ""


def _personal(report: Any) -> tuple[str, str, str]:
    try:
        victim = report.section("victim") or {}
        reporter = report.section("reporter") or {}
    except DecryptionError as exc:
        log.error("register_row_unreadable", extra={"report_id": str(report.id), "exception": type(exc).__name__})
        return ("（无法解密）", "（无法解密）", "")
    return (str(victim.get("name") or ""), str(reporter.get("name") or ""), str(reporter.get("phone") or ""))


def _case_no(vault: Vault, report: Any, transfer_id: Any, blob: bytes | None) -> str:
    """The police 案号 of the report's latest transfer, sealed like the report's other personal fields."""
    if not blob:
        return ""
    try:
        return str(vault.decrypt(report.data_key, "transfers", "case_no_data", transfer_id, blob))
    except DecryptionError as exc:
        log.error("register_row_unreadable", extra={"report_id": str(report.id), "exception": type(exc).__name__})
        return "（无法解密）"


def register_stream(scope: queries.Scope, period: queries.Period, *, office_name: str, vault: Vault,
                    district_names: dict[str, str] | None = None,
                    progress: Callable[[int, int | None], None] | None = None) -> Iterator[bytes]:
    """The case register of the period as .xlsx bytes, in chunks (see the module docstring); ``progress`` hears
    how many rows are written after each chunk of rows."""
    wb = Workbook(write_only=True)
    ws = sealed_sheet(wb, "台账")
    ws.oddHeader.center.text = CONFIDENTIAL
    ws.oddFooter.center.text = f"{CONFIDENTIAL} · 第 &P 页，共 &N 页"
    ws.evenHeader.center.text = CONFIDENTIAL
    ws.evenFooter.center.text = ws.oddFooter.center.text
    warning = WriteOnlyCell(ws, value=CONFIDENTIAL)
    warning.font = Font(bold=True, color="C00000", size=14)
    ws.append([warning])
    ws.append(row(ws, [f"{office_name} · 强制报告线索台账 · {period.first.isoformat()} 至 {period.last.isoformat()}"
                       "（北京时间）· 含个人信息，严禁外传"]))
    ws.append(header(ws, REGISTER_HEAD))
    total = queries.register_count(scope, period) if progress is not None else None
    written = 0
    result = queries.register_rows(scope, period)
    for partition in result.partitions():
        categories = queries.category_codes([row[0].id for row in partition])
        for report, unit_name, transferred_at, police_name, outcome, feedback_at, transfer_id, case_blob in partition:
            victim, reporter, phone = _personal(report)
            case_no = _case_no(vault, report, transfer_id, case_blob)
            ws.append(row(ws, [
                report.tracking_no, _cst(report.submitted_at), CHANNEL_LABELS.get(report.channel, report.channel),
                "是" if report.urgent else "否",
                "、".join(CATEGORY_SHORT.get(c, c) for c in sorted(categories.get(report.id, []),
                                                                  key=list(CATEGORY_SHORT).index)),
                unit_name or "社会公众", UNIT_TYPES.get(report.unit_type or "", "") if report.unit_type else "",
                district_label(report.district_code, district_names or {}),
                STATUS_LABELS.get(report.status, report.status),
                _cst(report.acknowledged_at), _cst(transferred_at), police_name or "",
                FEEDBACK_OUTCOMES.get(outcome or "", ""), case_no, _cst(feedback_at), _cst(report.closed_at),
                CLOSE_REASONS.get(report.close_reason or "", ""), victim, reporter, phone,
            ]))
            if report.data_key in db.session:  # reports may share a key (copies made by the bench)
                db.session.expunge(report.data_key)
            db.session.expunge(report)
        written += len(partition)
        if progress is not None:
            progress(written, total)
        yield b""  # let the server notice a client that went away between chunks
    db.session.rollback()  # the reading transaction ends before the workbook is assembled
    yield from sealed_workbook_chunks(wb)
