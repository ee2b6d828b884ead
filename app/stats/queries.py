"""The statistics of one period, aggregated in SQL (GROUP BY, counts, percentiles); nothing is decrypted.

Every figure counts on its own timestamp inside the period (README, "Statistics"): received on ``submitted_at``,
acknowledged on ``acknowledged_at``, transferred on the transfer's ``created_at``, the police outcomes on
``feedback_at``, supervised on ``supervision_requested_at``, closed on ``closed_at``, overdue on the deadline that
was missed. The breakdowns (month, category, unit type, unit, district, channel) are of the reports received in
the period. Training reports never count: ``counted_reports`` is the one filter every query starts from.

Each statement reads one range of one index per figure (README, "Statistics", for the list): the received
reports once, counted by month, unit, unit type, district, channel and category bits (``_received``); months as a
VALUES list joined on the timestamp's range (``_months``); the transfers on their own copy of the report's office
and submission time (``counted_transfers``), never joined back to reports. On PostgreSQL every such index INCLUDEs
what its figure reads, so the period's rows come from index-only scans (tests/stats/test_stats_plans.py).
Percentiles are ``percentile_cont`` on PostgreSQL; on SQLite the two ranked values around each percentile are
picked with window functions and interpolated (the same definition).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter

from app.cases import queries as cases
from app.core.dbtypes import UTCDateTime
from app.core.periods import CST, Period
from app.extensions import db
from app.reports.constants import CATEGORIES
from app.reports.models import Report, ReportCategory
from app.reports.records import Transfer
from app.reports.states import Status
from app.units.models import Unit

OUTCOMES = ("accepted", "filed", "not_filed")
HEADLINES = ("received", "acknowledged", "transferred", "accepted", "filed", "not_filed", "supervised", "closed",
             "overdue", "silent_units", "unreported")


@dataclasses.dataclass(frozen=True)
class Scope:
    """Whose reports: an office's (prosecutors), or one member unit's of it (its liaison)."""

    office_id: int
    unit_id: int | None = None


def counted_reports(scope: Scope) -> ColumnElement[bool]:
    """The reports that count for ``scope``: its office's (and unit's), never a practice report (``training``,
    in every statistics index, so the filter reads no table row)."""
    conditions: list[ColumnElement[bool]] = [Report.office_id == scope.office_id, Report.training.is_(False)]
    if scope.unit_id is not None:
        conditions.append(Report.unit_id == scope.unit_id)
    return and_(*conditions)


def _within(column: Any, period: Period) -> ColumnElement[bool]:
    return and_(column >= period.start_at, column < period.end_at)


def _dialect() -> str:
    return str(db.session.get_bind().dialect.name)


def _months(period: Period) -> Any:
    """The period's China months as a table (``month`` ``YYYY-MM``, ``start_at``, ``end_at``: UTC instants, the
    period's own ends at both ends), joined on a timestamp's range: each month is one range of the timestamp's
    index, and the month is known without converting a time zone row by row (the same SQL on both backends)."""
    rows: list[str] = []
    params: list[BindParameter[Any]] = []
    for i, month in enumerate(period.months()):
        first = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=CST)
        following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
        rows.append(f"(:m{i}, :s{i}, :e{i})")
        params += [bindparam(f"m{i}", month, type_=String()),
                   bindparam(f"s{i}", max(first.astimezone(dt.UTC), period.start_at), type_=UTCDateTime()),
                   bindparam(f"e{i}", min(following.astimezone(dt.UTC), period.end_at), type_=UTCDateTime())]
    # A VALUES list in a subquery (its columns are column1, column2, ... on both backends; SQLite takes no column
    # names after the alias), so that a long period is one list, not a compound SELECT of one row per month.
    sql = ("SELECT v.column1 AS month, v.column2 AS start_at, v.column3 AS end_at FROM (VALUES "  # noqa: S608
           + ", ".join(rows) + ") AS v")
    return (text(sql).bindparams(*params).columns(month=String(), start_at=UTCDateTime(), end_at=UTCDateTime())
            .subquery("months"))


def _by_month(stmt: Select[Any], timestamp: Any, period: Period) -> tuple[Select[Any], Any]:
    """``stmt`` (over the rows whose ``timestamp`` is in ``period``) joined to the months it falls in; and the
    month column to select and group by."""
    months = _months(period)
    joined = stmt.join(months, and_(timestamp >= months.c.start_at, timestamp < months.c.end_at))
    return joined, months.c.month


def _with_total(stmt: Select[Any], key: Any, aggregate: Any) -> Any:
    """``stmt``'s rows grouped by ``key`` with ``aggregate``, and one more row (key NULL) of the aggregate over all
    of them: GROUPING SETS on PostgreSQL (one scan), a UNION ALL of the two elsewhere."""
    if _dialect() == "postgresql":
        return stmt.with_only_columns(key, aggregate).group_by(func.grouping_sets(tuple_(key), tuple_()))
    return union_all(stmt.with_only_columns(key, aggregate).group_by(key),
                     stmt.with_only_columns(literal(None), aggregate))


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


def counted_transfers(scope: Scope) -> ColumnElement[bool]:
    """The transfers of the reports that count for ``scope``, on the transfer's own copies of its report's office
    and training flag (no join); a unit's through the reports of ``counted_reports``."""
    conditions: list[ColumnElement[bool]] = [Transfer.office_id == scope.office_id, Transfer.training.is_(False)]
    if scope.unit_id is not None:
        conditions.append(Transfer.report_id.in_(select(Report.id).where(counted_reports(scope))))
    return and_(*conditions)


def _transfers(scope: Scope) -> Select[Any]:
    return select(Transfer.report_id).where(counted_transfers(scope))


def _overdue(scope: Scope, period: Period, now: dt.datetime) -> int:
    """Reports with a deadline inside the period (and already past) that was missed: met late, or not yet met
    while the report waits for it (the inbox's overdue, counted on the deadline's day). One statement: the union
    (each report once) of one range of each deadline's index."""
    ack = select(Report.id).where(
        counted_reports(scope), _within(Report.acknowledge_due_at, period), Report.acknowledge_due_at < now,
        or_(and_(Report.acknowledged_at.is_(None), Report.status == Status.NEW.value),
            Report.acknowledged_at > Report.acknowledge_due_at))
    waiting = Transfer.state == "open"
    receipt = _transfers(scope).where(
        _within(Transfer.receipt_due_at, period), Transfer.receipt_due_at < now,
        or_(Transfer.acknowledged_at > Transfer.receipt_due_at, and_(Transfer.acknowledged_at.is_(None), waiting)))
    feedback = _transfers(scope).where(
        _within(Transfer.feedback_due_at, period), Transfer.feedback_due_at < now,
        or_(Transfer.feedback_at > Transfer.feedback_due_at, and_(Transfer.feedback_at.is_(None), waiting)))
    answer = _transfers(scope).where(
        _within(Transfer.supervision_answer_due_at, period), Transfer.supervision_answer_due_at < now,
        or_(Transfer.explained_at > Transfer.supervision_answer_due_at,
            and_(Transfer.explained_at.is_(None), Transfer.concluded_at.is_(None), waiting)))
    every = union(ack, receipt, feedback, answer).subquery()
    return int(db.session.scalar(select(func.count()).select_from(every)) or 0)


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


def _by_count(counts: Counter[Any]) -> dict[Any, int]:
    """Most first; equal counts in the order of their keys (so the page does not change between two loads)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, str(item[0]))))


RECEIVED_KEYS = ("month", "unit_id", "unit_type", "district_code", "channel", "category_mask")


def _received(scope: Scope, period: Period) -> dict[str, Counter[Any]]:
    """The period's received reports counted by each of ``RECEIVED_KEYS`` (the month, unit, unit type, district,
    channel and category bits), in one pass: on PostgreSQL a GROUPING SETS of the six, over one index-only range
    of ``ix_reports_office_id_submitted_at_id`` per month; elsewhere one GROUP BY of all six, added up here."""
    stmt, month = _by_month(select(Report.id).where(counted_reports(scope), _within(Report.submitted_at, period)),
                            Report.submitted_at, period)
    keys = (month, Report.unit_id, Report.unit_type, Report.district_code, Report.channel, Report.category_mask)
    if _dialect() == "postgresql":
        # grouping(...): one bit per key, most significant first, set for the keys a row is not counted by.
        stmt = stmt.with_only_columns(*keys, func.grouping(*keys), func.count()).group_by(
            func.grouping_sets(*(tuple_(key) for key in keys)))
    else:
        stmt = stmt.with_only_columns(*keys, literal(0), func.count()).group_by(*keys)
    counts: dict[str, Counter[Any]] = {name: Counter() for name in RECEIVED_KEYS}
    last = len(keys) - 1
    for *key, absent, n in db.session.execute(stmt):
        for position, name in enumerate(RECEIVED_KEYS):
            if not int(absent) >> (last - position) & 1:
                counts[name][key[position]] += int(n)
    return counts


def figures(scope: Scope, period: Period, *, now: dt.datetime) -> Figures:
    """The period's figures for ``scope``; see the module docstring for what each counts."""
    counted = counted_reports(scope)
    months = {m: {"received": 0, "transferred": 0, "closed": 0} for m in period.months()}
    by = _received(scope, period)
    for month, n in by["month"].items():
        months[month]["received"] = n
    received = sum(by["month"].values())
    categories = Counter[str]()
    for bits, n in by["category_mask"].items():
        for position, code in enumerate(CATEGORIES):
            if int(bits or 0) >> position & 1:
                categories[code] += n
    by_unit = by["unit_id"]

    acknowledged = select(Report.id).where(counted, _within(Report.acknowledged_at, period))
    time_to_acknowledge = _percentiles(acknowledged, _seconds(Report.acknowledged_at, Report.submitted_at))

    transfers = _transfers(scope).where(_within(Transfer.created_at, period))
    transferred = 0
    by_month, month = _by_month(transfers, Transfer.created_at, period)
    for key, n in db.session.execute(_with_total(by_month, month, func.count(distinct(Transfer.report_id)))):
        if key is None:
            transferred = int(n)
        else:
            months[key]["transferred"] = int(n)
    time_to_transfer = _percentiles(transfers, _seconds(Transfer.created_at, Transfer.report_submitted_at))

    feedback = _transfers(scope).where(_within(Transfer.feedback_at, period))
    outcomes = dict(db.session.execute(
        feedback.with_only_columns(Transfer.feedback_outcome, func.count(distinct(Transfer.report_id)))
        .where(Transfer.feedback_outcome.in_(OUTCOMES)).group_by(Transfer.feedback_outcome)).all())
    time_to_feedback = _percentiles(feedback, _seconds(Transfer.feedback_at, Transfer.created_at))
    supervised = int(db.session.scalar(
        _transfers(scope).where(_within(Transfer.supervision_requested_at, period))
        .with_only_columns(func.count(distinct(Transfer.report_id)))) or 0)

    closed_rows = select(Report.id).where(counted, Report.status == Status.CLOSED.value,
                                          _within(Report.closed_at, period))
    closed = 0
    by_month, month = _by_month(closed_rows, Report.closed_at, period)
    for key, n in db.session.execute(by_month.with_only_columns(month, func.count()).group_by(month)):
        months[key]["closed"] = int(n)
        closed += int(n)

    # Of the period's received reports, those transferred (by now): on the transfers' copy of the submission time.
    received_transferred = int(db.session.scalar(
        _transfers(scope).where(_within(Transfer.report_submitted_at, period))
        .with_only_columns(func.count(distinct(Transfer.report_id)))) or 0)
    units = {uid: (code, name) for uid, code, name in db.session.execute(
        select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_([u for u in by_unit if u is not None] or [-1])))}
    silent = silent_units(scope, period)
    headline = {
        "received": received,
        "acknowledged": time_to_acknowledge.cases,
        "transferred": transferred,
        **{outcome: int(outcomes.get(outcome, 0)) for outcome in OUTCOMES},
        "supervised": supervised,
        "closed": closed,
        "overdue": _overdue(scope, period, now),
        "silent_units": len(silent),
        # 倒查: findings of the period's filed cases (a case, and a unit it names that did not report it).
        "unreported": cases.unreported_count(scope.office_id, period.first, period.last, unit_id=scope.unit_id),
    }
    return Figures(
        period=period, headline=headline, by_month=dict(sorted(months.items())),
        by_category=dict(categories),
        by_unit_type=_by_count(by["unit_type"]),
        by_unit=[(uid, *units.get(uid, (None, None)), n) for uid, n in  # type: ignore[misc]
                 sorted(by_unit.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0))],
        by_district=_by_count(by["district_code"]), by_channel=_by_count(by["channel"]),
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

    # The latest transfer of each report of the period: the transfers carry their report's office and submission
    # time, so this reads the period's transfers only, not every transfer ever made.
    latest = (select(Transfer.report_id, func.max(Transfer.created_at).label("at"))
              .where(Transfer.office_id == scope.office_id, _within(Transfer.report_submitted_at, period))
              .group_by(Transfer.report_id).subquery())
    stmt = (
        select(Report, Unit.name, Transfer.created_at, PoliceUnit.name, Transfer.feedback_outcome,
               Transfer.feedback_at, Transfer.id, Transfer.case_no_data)
        .outerjoin(Unit, Unit.id == Report.unit_id)
        .outerjoin(latest, latest.c.report_id == Report.id)
        .outerjoin(Transfer, and_(Transfer.report_id == Report.id, Transfer.created_at == latest.c.at))
        .outerjoin(PoliceUnit, PoliceUnit.id == Transfer.police_unit_id)
        .where(counted_reports(scope), _within(Report.submitted_at, period))
        .order_by(Report.submitted_at, Report.id)
        .execution_options(yield_per=REGISTER_CHUNK)
    )
    return db.session.execute(stmt)


def register_count(scope: Scope, period: Period) -> int:
    """How many rows the period's register has (its progress bar's end)."""
    return int(db.session.scalar(select(func.count()).select_from(Report)
                                 .where(counted_reports(scope), _within(Report.submitted_at, period))) or 0)


def category_codes(report_ids: list[Any]) -> dict[Any, list[str]]:
    """The category codes of a chunk of reports (one query per chunk, not per report)."""
    found: dict[Any, list[str]] = {}
    for rid, code in db.session.execute(select(ReportCategory.report_id, ReportCategory.code)
                                        .where(ReportCategory.report_id.in_(report_ids))):
        found.setdefault(rid, []).append(code)
    return found

