"""One row of a filed-case list (CONTRACT.md "Filed cases and 应报未报"): the cells arrive as text, from a CSV or a
workbook, and leave as typed values; every problem of a row is named at once."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from app.core.fields import Choice, StrictSchema, Text
from app.reports.constants import CATEGORIES
from app.reports.schemas import IdNumber

CST = dt.timezone(dt.timedelta(hours=8))
COLUMNS = ("case_no", "filed_at", "category", "victim_id_no", "victim_name", "victim_age", "place", "units")
OPTIONAL = ("category", "victim_name", "victim_age", "place", "units")
LABELS: dict[str, str] = {
    "case_no": "案件编号", "filed_at": "立案日期", "category": "案件类别", "victim_id_no": "被害人身份证号码",
    "victim_name": "被害人姓名", "victim_age": "被害人年龄", "place": "案发地点", "units": "接触过被害人的成员单位",
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AGE = re.compile(r"[0-9]{1,2}")
UNIT_SEPARATORS = re.compile(r"[;；]")


class FilingDate(Text):
    """A filing date, ``YYYY-MM-DD``, from 2000 on and not after today (China time)."""

    default_error_messages = {  # noqa: RUF012
        **Text.default_error_messages,
        "date": "立案日期应为 YYYY-MM-DD 格式的真实日期，如 2026-03-01",
        "range": "立案日期应在2000年以后，且不晚于今天",
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=10, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        if not isinstance(text, str) or not _DATE.fullmatch(text):
            raise self.make_error("date")
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise self.make_error("date") from None
        if not dt.date(2000, 1, 1) <= day <= dt.datetime.now(CST).date():
            raise self.make_error("range")
        return day


class MinorAge(Text):
    """A victim's age in whole years, 0 to 17, as a cell holds it."""

    default_error_messages = {**Text.default_error_messages, "age": "被害人年龄应为0至17的整数"}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=2, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        if text is None:
            return None
        if not isinstance(text, str) or not _AGE.fullmatch(text) or int(text) > 17:
            raise self.make_error("age")
        return int(text)


class FiledCaseRowIn(StrictSchema):
    case_no = Text(required=True, max_length=64)
    filed_at = FilingDate(required=True)
    category = Choice(tuple(CATEGORIES), load_default=None, allow_none=True)
    victim_id_no = IdNumber(required=True)
    victim_name = Text(load_default=None, allow_none=True, max_length=50)
    victim_age = MinorAge(load_default=None, allow_none=True)
    place = Text(load_default=None, allow_none=True, max_length=200)
    units = Text(load_default=None, allow_none=True, max_length=2000)
