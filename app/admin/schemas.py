"""Inputs of the administration pages that are not forms of a feature's service: the audit log's filters."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from app.admin.audit_labels import ACTION_LABELS

# A tracking number whole (QZBG-2026-000073), or its end as people read it out: the number (73, 000073), with or
# without its year (2026-000073); the same rule as the inbox's search.
TRACKING = re.compile(r"^QZBG-\d{4}-\d{6,}$")
TRACKING_TAIL = re.compile(r"^(?:\d{4}-)?\d{1,6}$")
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
DATE_MESSAGE: dict[str, Any] = {"invalid": "日期格式应为 YYYY-MM-DD"}


class AuditFiltersIn(Schema):
    """``/admin/audit`` and its export: who (``actor``, a user name from the list), what (``action``, a code from
    the list), which report (``report``: a tracking number or its last digits), when (``from``, ``to``: China
    dates, both included) and where the page starts (``before``, an entry number). All optional."""

    class Meta:
        unknown = EXCLUDE  # a link may carry other parameters; they filter nothing

    actor = fields.String(load_default=None, validate=validate.Length(max=40, error="请从列表中选择操作人"))
    action = fields.String(load_default=None, validate=validate.OneOf(ACTION_LABELS, error="请从列表中选择操作"))
    report = fields.String(load_default=None)
    date_from = fields.Date(data_key="from", format="%Y-%m-%d", load_default=None, error_messages=DATE_MESSAGE)
    date_to = fields.Date(data_key="to", format="%Y-%m-%d", load_default=None, error_messages=DATE_MESSAGE)
    before = fields.Integer(load_default=None, strict=False, validate=validate.Range(min=1, max=10**18 - 1),
                            error_messages={"invalid": "翻页位置无效，请从第一页重新查看"})

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> dict[str, str]:
        """A query string's values, trimmed; an empty one is no filter. The tracking number is read as typed on any
        keyboard (full-width digits, spaces, lower case)."""
        values = {key: str(data.get(key) or "").strip() for key in ("actor", "action", "report", "from", "to",
                                                                     "before")}
        values["actor"] = values["actor"].lower()
        values["report"] = unicodedata.normalize("NFKC", values["report"]).replace(" ", "").upper()
        return {key: value for key, value in values.items() if value}

    @validates_schema
    def check(self, data: dict[str, Any], **_: Any) -> None:
        report = data.get("report")
        if report is not None and not (TRACKING.match(report) or TRACKING_TAIL.match(report)):
            raise ValidationError("请输入完整的线索编号（如 QZBG-2026-000073）或其末尾的数字（如 73 或 2026-000073）",
                                  "report")
        first, last = data.get("date_from"), data.get("date_to")
        for name, day in (("from", first), ("to", last)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise ValidationError("日期应在 2000 年至 2100 年之间", name)
        if first and last and first > last:
            raise ValidationError("开始日期不能晚于结束日期", "from")
