"""What the statistics page, the meeting view and the workbook show: periods, labels, the liaison's small-cell
rule, and the tables every view draws from (so the page, the projector and Excel hold the same numbers)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from app.core.actor import Actor
from app.core.periods import parse_period as parse_period  # re-exported: the pages read their period here
from app.core.periods import today
from app.offices.queries import district_label
from app.reports.constants import CATEGORY_SHORT
from app.stats import charts
from app.stats.queries import HEADLINES, Figures, Period, Scope, Spread
from app.units.models import UNIT_TYPES

HEADLINE_LABELS: dict[str, str] = {
    "received": "接收线索", "acknowledged": "签收", "transferred": "移送公安", "accepted": "公安受案",
    "filed": "公安立案", "not_filed": "不予立案", "supervised": "立案监督", "closed": "办结", "overdue": "超期",
    "silent_units": "未报告的成员单位", "unreported": "应报未报",
}
CHANNEL_LABELS = {"miniprogram": "小程序", "web": "网页", "phone": "电话录入", "institution": "机构系统"}
MONTH_SERIES = {"received": "接收", "transferred": "移送", "closed": "办结"}
SMALL = "<3"
HIDDEN = "*"
SMALL_CELL_RULE = (
    "小数保护：联络人视图中，按类别统计的任何 1 至 2 件的数字显示为“<3”；若据本单位合计仍可推算出被隐藏的数字，"
    "再将最小的其他非零类别显示为“*”，仍不足以防止推算时整个类别分布不予显示。"
)
def quick_picks(period: Period) -> list[dict[str, Any]]:
    """This year, last year, and each quarter of both: links that set ``from`` and ``to``."""
    year = today().year
    picks = [("今年", dt.date(year, 1, 1), dt.date(year, 12, 31)),
             ("去年", dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31))]
    for y in (year, year - 1):
        for q in range(1, 5):
            first = dt.date(y, 3 * q - 2, 1)
            last = (dt.date(y + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1))
            picks.append((f"{y}年第{q}季度", first, last))
    return [{"label": label, "from": f.isoformat(), "to": t.isoformat(),
             "active": (f, t) == (period.first, period.last)} for label, f, t in picks]


def scope_of(actor: Actor, *, liaison: bool) -> Scope:
    """Staff see their own office; a unit liaison their unit only."""
    assert actor.office_id is not None
    if liaison:
        return Scope(actor.office_id, actor.unit_id if actor.unit_id is not None else -1)
    return Scope(actor.office_id)


def small_cells(cells: dict[str, int]) -> dict[str, str] | None:
    """The liaison's small-cell rule on one breakdown by category: what each cell shows, or None when the whole
    breakdown must be withheld.

    Counts of 1-2 show ``<3``. A reader who knows the unit's total (and so, at worst, the sum of the cells) must
    not be able to pin the hidden values: while the hidden cells' sum allows only one assignment (one hidden cell;
    all of them at their least, 1 for a ``<3`` and 3 for a ``*``; or, with only ``<3`` cells, all at 2), the
    smallest other non-zero cell is hidden too, as ``*``; when none is left, nothing is shown."""
    shown = {code: str(n) for code, n in cells.items()}
    small = {code for code, n in cells.items() if 1 <= n <= 2}
    if not small:
        return shown
    extra: set[str] = set()
    while True:
        hidden_sum = sum(cells[c] for c in small | extra)
        pinned = (len(small) + len(extra) == 1 or hidden_sum == len(small) + 3 * len(extra)
                  or (not extra and hidden_sum == 2 * len(small)))
        if not pinned:
            break
        rest = sorted((n, code) for code, n in cells.items() if n > 0 and code not in small | extra)
        if not rest:
            return None
        extra.add(rest[0][1])
    for code in small:
        shown[code] = SMALL
    for code in extra:
        shown[code] = HIDDEN
    return shown


@dataclasses.dataclass
class Table:
    """One breakdown: a key for the workbook's sheet, a title, (label, shown value, number) rows and a chart."""

    key: str
    title: str
    head: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    chart: Any = None
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Headline:
    """One headline figure: its code (``HEADLINES``), its label and its count."""

    name: str
    label: str
    value: int


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.1f} 小时" if value < 48 else f"{value / 24:.1f} 天"


def _spread_row(label: str, spread: Spread) -> tuple[str, int, str, str]:
    return (label, spread.cases, _hours(spread.median_h), _hours(spread.p90_h))


def _month_labels(months: list[str]) -> list[str]:
    """``3月`` within one year, ``25-03`` across years (short enough for a projector's axis)."""
    if len({m[:4] for m in months}) <= 1:
        return [f"{int(m[5:])}月" for m in months]
    return [m[2:] for m in months]


def build(figures: Figures, *, liaison: bool, scale: float = 1.0,
          district_names: dict[str, str] | None = None) -> dict[str, Any]:
    """The context the page, the meeting view and the workbook share (districts by the names in
    ``district_names``, code -> name)."""
    district_names = district_names or {}
    headline = [Headline(name=name, label=HEADLINE_LABELS[name], value=figures.headline[name]) for name in HEADLINES]
    months = list(figures.by_month)
    month_rows = [(m, *(figures.by_month[m][k] for k in MONTH_SERIES)) for m in months]
    tables = [Table("by_month", "按月份", ("月份", *MONTH_SERIES.values()), month_rows,
                    charts.line_chart("按月份：接收、移送、办结", _month_labels(months),
                                      {label: [figures.by_month[m][k] for m in months]
                                       for k, label in MONTH_SERIES.items()}, scale=scale))]

    categories = {code: figures.by_category.get(code, 0) for code in CATEGORY_SHORT}
    shown = small_cells(categories) if liaison else {c: str(n) for c, n in categories.items()}
    if shown is None:
        tables.append(Table("by_category", "按类别", ("类别", "线索数"), [],
                            note="本期数量过少，为防止识别未成年人，类别分布不予显示。"))
    else:
        # A count is a number cell in the workbook (SUM works); a withheld one stays its marker.
        rows = [(CATEGORY_SHORT[c], shown[c] if shown[c] in (SMALL, HIDDEN) else categories[c]) for c in CATEGORY_SHORT]
        bars = [(CATEGORY_SHORT[c], shown[c], 0.0 if shown[c] in (SMALL, HIDDEN) else float(categories[c]))
                for c in CATEGORY_SHORT]
        tables.append(Table("by_category", "按类别（一条线索可有多个类别）", ("类别", "线索数"), rows,
                            charts.bar_chart("按类别", bars, scale=scale),
                            note=SMALL_CELL_RULE if liaison else None))
    if not liaison:
        unit_types = [(UNIT_TYPES.get(t, t) if t else "社会公众（无单位）", n) for t, n in figures.by_unit_type.items()]
        tables.append(Table("by_unit_type", "按单位类型", ("单位类型", "线索数"), unit_types,
                            charts.bar_chart("按单位类型", [(a, str(n), n) for a, n in unit_types], scale=scale)))
        units = [(name or "社会公众（无单位）", code or "—", n) for _, code, name, n in figures.by_unit]
        tables.append(Table("by_unit", "按成员单位", ("单位", "编码", "线索数"), units,
                            charts.bar_chart("按成员单位（前 15）", [(a, str(n), n) for a, _, n in units[:15]],
                                             scale=scale)))
        districts = [(district_label(d, district_names), d or "—", n) for d, n in figures.by_district.items()]
        tables.append(Table("by_district", "按区划", ("区划", "区划代码", "线索数"), districts,
                            charts.bar_chart("按区划", [(a, str(n), n) for a, _, n in districts], scale=scale)))
    channels = [(CHANNEL_LABELS.get(c, c), n) for c, n in figures.by_channel.items()]
    tables.append(Table("by_channel", "按渠道", ("渠道", "线索数"), channels,
                        charts.bar_chart("按渠道", [(a, str(n), n) for a, n in channels], scale=scale)))
    timing = [_spread_row("签收用时（自接收）", figures.time_to_acknowledge),
              _spread_row("移送用时（自接收）", figures.time_to_transfer),
              _spread_row("公安反馈用时（自移送）", figures.time_to_feedback)]
    tables.append(Table("timing", "办理用时", ("环节", "件数", "中位数", "90% 分位"), timing))
    silent = [(code, name, UNIT_TYPES.get(kind, kind)) for _, code, name, kind in figures.silent_units]
    tables.append(Table("silent_units", "本期未报告的成员单位", ("编码", "名称", "类型"), silent))
    rate = figures.transfer_rate
    return {
        "period": figures.period, "headline": headline, "tables": tables,
        "transfer_rate": "—" if rate is None else f"{rate * 100:.1f}%",
        "received_transferred": figures.received_transferred,
        "liaison": liaison, "small_cell_rule": SMALL_CELL_RULE if liaison else None,
        "headline_chart": charts.bar_chart(
            "主要数字", [(h.label, str(h.value), float(h.value)) for h in headline
                      if h.name in ("received", "acknowledged", "transferred", "filed", "closed")], scale=scale),
    }
