"""The inbox's list as a workbook (``/review/inbox.xlsx``): the filtered list, every page of it, in its order.

It holds what the list shows of each report and nothing sealed (no victim, reporter or free text: those are in
the case register, ``/review/register.xlsx``), so no personal data is decrypted for it. Written in openpyxl's
write-only mode; every string is a text cell, never a formula (``app/core/sheets.py``).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable

from openpyxl import Workbook

from app.core.sheets import header, row
from app.reports.constants import CATEGORY_SHORT
from app.reports.states import STATUS_LABELS
from app.review.listing import Line
from app.review.queries import Filters
from app.units.models import UNIT_TYPES

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEAD = ("编号", "提交时间", "紧急", "类别", "成员单位", "单位类型", "区划", "状态", "承办人", "期限", "签收时间",
        "办结时间")
CST = dt.timezone(dt.timedelta(hours=8))
SORT_LABELS = {"submitted": "提交时间", "deadline": "期限", "status": "状态", "unit": "成员单位"}


def _cst(value: dt.datetime | None) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M") if value else ""


def list_workbook(lines: Iterable[Line], *, title: str, conditions: str) -> bytes:
    """The list as .xlsx bytes: a title line, the conditions it was filtered by, a header row, a row per report."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("线索列表")
    ws.append(row(ws, [title]))
    ws.append(row(ws, [conditions]))
    ws.append(header(ws, HEAD))
    for line in lines:
        ws.append(row(ws, [
            line.tracking_no, _cst(line.submitted_at), "是" if line.urgent else "否",
            "、".join(CATEGORY_SHORT.get(code, code) for code in line.categories), line.unit or "社会公众",
            UNIT_TYPES.get(line.unit_type or "", line.unit_type or ""), line.district or "",
            STATUS_LABELS.get(line.status, line.status), line.assignee or "未分配", _cst(line.deadline),
            _cst(line.acknowledged_at), _cst(line.closed_at),
        ]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def conditions_text(filters: Filters, labels: dict[str, str]) -> str:
    """The list's conditions in words, for the sheet's second line (a search is named, not repeated)."""
    parts = [f"状态：{labels.get(filters.status, filters.status)}" if filters.status else
             "状态：全部在办" if not filters.q else "状态：全部"]
    named = (("category", "类别", CATEGORY_SHORT.get(filters.category or "", filters.category)),
             ("unit", "成员单位代码", filters.unit), ("unit_type", "单位类型", UNIT_TYPES.get(filters.unit_type or "")),
             ("district", "区划代码", filters.district), ("assignee", "承办人", filters.assignee),
             ("date_from", "提交日期自", filters.date_from), ("date_to", "提交日期至", filters.date_to))
    parts += [f"{label}：{value}" for name, label, value in named if getattr(filters, name) and value]
    parts += [text for flag, text in ((filters.urgent, "仅紧急"), (filters.overdue, "仅超期"),
                                      (filters.q, "按编号、身份证号或电话查找"), (filters.training, "培训练习队列"))
              if flag]
    if filters.sort:
        parts.append(f"排序：{SORT_LABELS[filters.sort]}{'升序' if filters.order == 'asc' else '降序'}")
    return "筛选条件：" + "；".join(parts)
