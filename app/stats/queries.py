"""The statistics of one period, aggregated in SQL (GROUP BY, counts, percentiles); nothing is decrypted.

Every figure counts on its own timestamp inside the period (README, "Statistics"): received on ``submitted_at``,
acknowledged on ``acknowledged_at``, transferred on the transfer's ``created_at``, the police outcomes on
``feedback_at``, supervised on ``supervision_requested_at``, closed on ``closed_at``, overdue on the deadline that
was missed. The breakdowns (month, category, unit type, unit, district, channel) are of the reports received in
the period. Training reports never count: ``counted_reports`` is the one filter every query starts from.

One aggregate query reads the received reports grouped by (month, unit, unit type, district, channel); the page's
breakdowns are sums of those few groups. Percentiles are ``percentile_cont`` on PostgreSQL; on SQLite the two
ranked values around each percentile are picked with window functions and interpolated (the same definition).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, distinct, exists, func, or_, select, union
from sqlalchemy.sql import Select

from app.extensions import db
from app.reports.models import Report, ReportCategory
from app.reports.states import Status
from app.review.models import Transfer
from app.units.models import Unit

CST = dt.timezone(dt.timedelta(hours=8))
OUTCOMES = ("accepted", "filed", "not_filed")
HEADLINES = ("received", "acknowledged", "transferred", "accepted", "filed", "not_filed", "supervised", "closed",
             "overdue", "silent_units")


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose reports: an office's (prosecutors), or one member unit's of it (its liaison)."""

    office_id: int
    unit_id: int | None = None


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


def counted_reports(scope: Scope) -> ColumnElement[bool]:
    """The reports that count for ``scope``: its office's (and unit's), never a training report.

    The ``training`` column comes with the training mode (issue 10, part 6); until it is there no report is one."""
    conditions: list[ColumnElement[bool]] = [Report.office_id == scope.office_id]
    if scope.unit_id is not None:
        conditions.append(Report.unit_id == scope.unit_id)
    if hasattr(Report, "training"):
        conditions.append(Report.training.is_not(True))  # type: ignore[attr-defined]
    return and_(*conditions)


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start_at, column < period.end_at)


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


def _month(column: Any) -> Any:
    """The China month (``YYYY-MM``) of a UTC timestamp."""
    if _dialect() == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")


def _seconds(later: Any, earlier: Any) -> Any:
    if _dialect() == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


@dataclasses.dataclass
class Spread:
    """Median and 90th percentile of a duration, in hours (None without any case), and how many cases."""

    cases: int
    median_h: float | None
    p90_h: float | None


def _percentiles(stmt: Select[Any], value: Any) -> Spread:
    """Median and p90 of ``value`` over the rows of ``stmt`` (a select whose WHERE picks the cases)."""
    if _dialect() == "postgresql":
        row = db.session.execute(stmt.with_only_columns(
            func.count(), func.percentile_cont(0.5).within_group(value),
            func.percentile_cont(0.9).within_group(value))).one()
        hours = [None if v is None else float(v) / 3600 for v in row[1:]]
        return Spread(int(row[0]), hours[0], hours[1])
    ranked = stmt.with_only_columns(
        value.label("v"), func.row_number().over(order_by=value).label("rn"), func.count().over().label("n"),
    ).subquery()
    def near(p: float) -> ColumnElement[bool]:
        offset = ranked.c.rn - 1 - cast((ranked.c.n - 1) * p, Integer)
        return offset.between(0, 1)

    rows = db.session.execute(select(ranked.c.v, ranked.c.rn, ranked.c.n).where(or_(near(0.5), near(0.9)))).all()
    if not rows:
        return Spread(0, None, None)
    n = int(rows[0][2])
    by_rank = {int(rn): float(v) for v, rn, _ in rows}

    def at(p: float) -> float:
        position = (n - 1) * p
        low = int(position)
        lo = by_rank[low + 1]
        hi = by_rank.get(low + 2, lo)
        return (lo + (hi - lo) * (position - low)) / 3600

    return Spread(n, at(0.5), at(0.9))


@dataclasses.dataclass
class Figures:
    """Everything the page, the meeting view and the workbook show of one period and scope."""

    period: Period
    headline: dict[str, int]
    by_month: dict[str, dict[str, int]]  # month -> received, transferred, closed
    by_category: dict[str, int]
    by_unit_type: dict[str | None, int]
    by_unit: list[tuple[int | None, str | None, str | None, int]]  # (unit id, code, name, received), most first
    by_district: dict[str | None, int]
    by_channel: dict[str, int]
    silent_units: list[tuple[int, str, str, str]]  # (id, code, name, type)
    transfer_rate: float | None  # of the reports received in the period, the share transferred (by now)
    received_transferred: int
    time_to_acknowledge: Spread
    time_to_transfer: Spread
    time_to_feedback: Spread


def _received(scope: Scope, period: Period) -> Select[Any]:
    return select(Report.id).where(counted_reports(scope), _within(Report.submitted_at, period))


def _transfers(scope: Scope) -> Select[Any]:
    return select(Transfer.report_id).join(Report, Report.id == Transfer.report_id).where(counted_reports(scope))


def _overdue(scope: Scope, period: Period, now: dt.datetime) -> int:
    """Reports with a deadline inside the period (and already past) that was missed: met late, or not yet met
    while the report waits for it (the inbox's overdue, counted on the deadline's day)."""
    ack = select(Report.id).where(
        counted_reports(scope), _within(Report.acknowledge_due_at, period), Report.acknowledge_due_at < now,
        or_(and_(Report.acknowledged_at.is_(None), Report.status == Status.NEW.value),
            Report.acknowledged_at > Report.acknowledge_due_at))
    waiting = Transfer.state == "open"
    police = _transfers(scope).where(or_(
        and_(_within(Transfer.receipt_due_at, period), Transfer.receipt_due_at < now,
             or_(Transfer.acknowledged_at > Transfer.receipt_due_at,
                 and_(Transfer.acknowledged_at.is_(None), waiting))),
        and_(_within(Transfer.feedback_due_at, period), Transfer.feedback_due_at < now,
             or_(Transfer.feedback_at > Transfer.feedback_due_at, and_(Transfer.feedback_at.is_(None), waiting))),
        and_(_within(Transfer.supervision_answer_due_at, period), Transfer.supervision_answer_due_at < now,
             or_(Transfer.explained_at > Transfer.supervision_answer_due_at,
                 and_(Transfer.explained_at.is_(None), Transfer.concluded_at.is_(None), waiting))),
    ))
    both = union(ack, police).subquery()
    return int(db.session.scalar(select(func.count()).select_from(both)) or 0)


def silent_units(scope: Scope, period: Period) -> list[tuple[int, str, str, str]]:
    """Active member units of the office with no counted report received in the period."""
    if scope.unit_id is not None:
        units = select(Unit).where(Unit.id == scope.unit_id)
    else:
        units = select(Unit).where(Unit.office_id == scope.office_id)
    filed = select(Report.id).where(Report.unit_id == Unit.id, counted_reports(scope),
                                    _within(Report.submitted_at, period))
    stmt = units.where(Unit.active.is_(True), ~exists(filed)).with_only_columns(
        Unit.id, Unit.code, Unit.name, Unit.type).order_by(Unit.type, Unit.code)
    return [(int(i), c, n, t) for i, c, n, t in db.session.execute(stmt)]


def figures(scope: Scope, period: Period, *, now: dt.datetime) -> Figures:
    """The period's figures for ``scope``; see the module docstring for what each counts."""
    counted = counted_reports(scope)
    months = {m: {"received": 0, "transferred": 0, "closed": 0} for m in period.months()}
    by_unit_type: Counter[str | None] = Counter()
    by_unit: Counter[int | None] = Counter()
    by_district: Counter[str | None] = Counter()
    by_channel: Counter[str] = Counter()
    month = _month(Report.submitted_at)
    grouped = (select(month, Report.unit_id, Report.unit_type, Report.district_code, Report.channel, func.count())
               .where(counted, _within(Report.submitted_at, period))
               .group_by(month, Report.unit_id, Report.unit_type, Report.district_code, Report.channel))
    received = 0
    for key, unit_id, unit_type, district, channel, n in db.session.execute(grouped):
        n = int(n)
        received += n
        months.setdefault(key, {"received": 0, "transferred": 0, "closed": 0})["received"] += n
        by_unit_type[unit_type] += n
        by_unit[unit_id] += n
        by_district[district] += n
        by_channel[channel] += n

    categories = dict(db.session.execute(
        select(ReportCategory.code, func.count()).join(Report, Report.id == ReportCategory.report_id)
        .where(counted, _within(Report.submitted_at, period)).group_by(ReportCategory.code)).all())

    acknowledged = select(Report.id).where(counted, _within(Report.acknowledged_at, period))
    time_to_acknowledge = _percentiles(acknowledged, _seconds(Report.acknowledged_at, Report.submitted_at))

    transfers = _transfers(scope).where(_within(Transfer.created_at, period))
    tmonth = _month(Transfer.created_at)
    for key, n in db.session.execute(transfers.with_only_columns(tmonth, func.count(distinct(Transfer.report_id)))
                                     .group_by(tmonth)):
        months.setdefault(key, {"received": 0, "transferred": 0, "closed": 0})["transferred"] = int(n)
    transferred = int(db.session.scalar(transfers.with_only_columns(func.count(distinct(Transfer.report_id)))) or 0)
    time_to_transfer = _percentiles(transfers, _seconds(Transfer.created_at, Report.submitted_at))

    feedback = _transfers(scope).where(_within(Transfer.feedback_at, period))
    outcomes = dict(db.session.execute(
        feedback.with_only_columns(Transfer.feedback_outcome, func.count(distinct(Transfer.report_id)))
        .group_by(Transfer.feedback_outcome)).all())
    time_to_feedback = _percentiles(feedback, _seconds(Transfer.feedback_at, Transfer.created_at))
    supervised = int(db.session.scalar(
        _transfers(scope).where(_within(Transfer.supervision_requested_at, period))
        .with_only_columns(func.count(distinct(Transfer.report_id)))) or 0)

    closed_rows = select(Report.id).where(counted, Report.status == Status.CLOSED.value,
                                          _within(Report.closed_at, period))
    cmonth = _month(Report.closed_at)
    closed = 0
    for key, n in db.session.execute(closed_rows.with_only_columns(cmonth, func.count()).group_by(cmonth)):
        months.setdefault(key, {"received": 0, "transferred": 0, "closed": 0})["closed"] = int(n)
        closed += int(n)

    received_transferred = int(db.session.scalar(
        select(func.count()).where(counted, _within(Report.submitted_at, period),
                                   exists(select(Transfer.id).where(Transfer.report_id == Report.id)))) or 0)
    units = {uid: (code, name) for uid, code, name in db.session.execute(
        select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_([u for u in by_unit if u is not None] or [-1])))}
    silent = silent_units(scope, period)
    headline = {
        "received": received,
        "acknowledged": int(db.session.scalar(acknowledged.with_only_columns(func.count())) or 0),
        "transferred": transferred,
        **{outcome: int(outcomes.get(outcome, 0)) for outcome in OUTCOMES},
        "supervised": supervised,
        "closed": closed,
        "overdue": _overdue(scope, period, now),
        "silent_units": len(silent),
    }
    return Figures(
        period=period, headline=headline, by_month=dict(sorted(months.items())),
        by_category={code: int(n) for code, n in categories.items()},
        by_unit_type=dict(by_unit_type.most_common()),
        by_unit=[(uid, *units.get(uid, (None, None)), n) for uid, n in  # type: ignore[misc]
                 sorted(by_unit.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0))],
        by_district=dict(by_district.most_common()), by_channel=dict(by_channel.most_common()),
        silent_units=silent, transfer_rate=(received_transferred / received) if received else None,
        received_transferred=received_transferred, time_to_acknowledge=time_to_acknowledge,
        time_to_transfer=time_to_transfer, time_to_feedback=time_to_feedback,
    )


# --- The case register (台账): one row per report received in the period, read in chunks. ---

REGISTER_CHUNK = 1000


def register_rows(scope: Scope, period: Period) -> Any:
    """The reports received in the period, oldest first, with their latest transfer's police unit and outcome;
    streamed (``yield_per``) so that memory stays flat however many there are."""
    from app.offices.models import PoliceUnit

    latest = (select(Transfer.report_id, func.max(Transfer.created_at).label("at"))
              .group_by(Transfer.report_id).subquery())
    stmt = (
        select(Report, Unit.name, Transfer.created_at, PoliceUnit.name, Transfer.feedback_outcome,
               Transfer.feedback_at, Transfer.case_no)
        .outerjoin(Unit, Unit.id == Report.unit_id)
        .outerjoin(latest, latest.c.report_id == Report.id)
        .outerjoin(Transfer, and_(Transfer.report_id == Report.id, Transfer.created_at == latest.c.at))
        .outerjoin(PoliceUnit, PoliceUnit.id == Transfer.police_unit_id)
        .where(counted_reports(scope), _within(Report.submitted_at, period))
        .order_by(Report.submitted_at, Report.id)
        .execution_options(yield_per=REGISTER_CHUNK)
    )
    return db.session.execute(stmt)


def category_codes(report_ids: list[Any]) -> dict[Any, list[str]]:
    """The category codes of a chunk of reports (one query per chunk, not per report)."""
    found: dict[Any, list[str]] = {}
    for rid, code in db.session.execute(select(ReportCategory.report_id, ReportCategory.code)
                                        .where(ReportCategory.report_id.in_(report_ids))):
        found.setdefault(rid, []).append(code)
    return found

