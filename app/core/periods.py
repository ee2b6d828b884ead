"""A period of China dates, both included, as the statistics, the register and the 应报未报 ledger take it
(``?from=YYYY-MM-DD&to=YYYY-MM-DD``; this year when nothing is given)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

CST = dt.timezone(dt.timedelta(hours=8))


@dataclasses.dataclass(frozen=True)
class Period:
    """China dates, both included; ``start_at``/``end_at`` are the UTC instants [start, end)."""

    first: dt.date
    last: dt.date

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.first, dt.time(), tzinfo=CST).astimezone(dt.UTC)

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), tzinfo=CST).astimezone(dt.UTC)

    def months(self) -> list[str]:
        out, year, month = [], self.first.year, self.first.month
        while (year, month) <= (self.last.year, self.last.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out


EARLIEST = dt.date(2000, 1, 1)


class PeriodIn(Schema):
    """``from`` and ``to`` (China dates, both included); either may be left out (this year's start or end)."""

    date_from = fields.Date(data_key="from", format="%Y-%m-%d", load_default=None,
                            error_messages={"invalid": "日期格式应为 YYYY-MM-DD"})
    date_to = fields.Date(data_key="to", format="%Y-%m-%d", load_default=None,
                          error_messages={"invalid": "日期格式应为 YYYY-MM-DD"})

    @validates_schema
    def check_range(self, data: dict[str, Any], **_: Any) -> None:
        first, last = data.get("date_from"), data.get("date_to")
        for name, day in (("from", first), ("to", last)):
            if day is not None and not EARLIEST <= day <= dt.date(2100, 12, 31):
                raise ValidationError("日期应在 2000 年至 2100 年之间", name)
        if first and last and first > last:
            raise ValidationError("开始日期不能晚于结束日期", "from")


def today() -> dt.date:
    return dt.datetime.now(CST).date()


def parse_period(args: Any) -> tuple[Period, dict[str, list[str]]]:
    """The period asked for (this year when nothing is given), and the errors of a bad one (then: this year)."""
    year = today().year
    default = Period(dt.date(year, 1, 1), dt.date(year, 12, 31))
    raw = {key: args.get(key) for key in ("from", "to") if args.get(key)}
    try:
        data = PeriodIn().load(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"from": [str(exc.messages)]}
        return default, {k: list(v) if isinstance(v, list) else [str(v)] for k, v in messages.items()}
    first = data["date_from"] or (dt.date(data["date_to"].year, 1, 1) if data["date_to"] else default.first)
    last = data["date_to"] or (dt.date(first.year, 12, 31) if data["date_from"] else default.last)
    if first > last:
        return default, {"from": ["开始日期不能晚于结束日期"]}
    return Period(first, last), {}


