"""The inbox's list: its orders, its keyset pages, and what each row shows.

Without ``sort`` the list comes in two bands: first the open reports that are urgent or overdue, then the rest;
each band newest first, with keyset pagination on (band, submitted_at, id). The first band is read along the
partial index of open reports (few, however many are closed), the second along the open, status or time index
its tab matches, so a page costs about the same at a thousand reports as at a hundred thousand.

With ``sort`` (``submitted``, ``deadline``, ``status``, ``unit``) and ``dir``, there is one order: the sort's key,
then ``submitted_at``, then ``id``, all in the one direction. The cursor (``after``) carries the last row's values
of those keys, so the next page starts strictly after that row and paging visits every report exactly once
however many rows tie on the key. A report without a deadline sorts last either way (its key is a far date on
the side where the list ends). The cursor also names the order it was made for (a cursor of another order starts
again at the first page) and the number of the page it leads to.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, not_, or_, select, true, type_coerce
from sqlalchemy.orm import selectinload

from app.auth.models import StaffUser
from app.core.actor import Actor
from app.core.dbtypes import UTCDateTime
from app.crypto.vault import DecryptionError, Vault
from app.extensions import db
from app.offices.models import OfficeDistrict
from app.reports.constants import CATEGORIES
from app.reports.models import Report
from app.reports.overdue import open_condition, overdue_conditions
from app.reports.records import Transfer
from app.reports.states import Status
from app.review.queries import Filters, filtered, police_stage
from app.units.models import Unit

PAGE = 50
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
FAR_PAST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
STATUS_ORDER = tuple(status.value for status in Status)  # the state machine's order: 待签收 first, 已办结 last
# What each order's cursor holds, in order (the report's id last).
KEY_TYPES: dict[str, tuple[str, ...]] = {
    "": ("at", "id"), "submitted": ("at", "id"), "deadline": ("at", "at", "id"),
    "status": ("int", "at", "id"), "unit": ("str", "at", "id"),
}

log = logging.getLogger("qzbg.review")


def _first_band(now: dt.datetime) -> ColumnElement[bool]:
    """Open and urgent, or past a deadline: listed before everything else."""
    return and_(open_condition(), or_(Report.urgent.is_(true()), *overdue_conditions(now).values()))


def next_deadline() -> Any:
    """The next deadline the office watches for a report (the list's 期限), as SQL: the acknowledgement of a new
    report; then, from its open transfer, the police's explanation under supervision, their receipt, their
    feedback; NULL when nothing is awaited."""
    transfer = select(case(
        (and_(Transfer.supervision_requested_at.is_not(None), Transfer.explained_at.is_(None),
              Transfer.concluded_at.is_(None)), Transfer.supervision_answer_due_at),
        (Transfer.acknowledged_at.is_(None), Transfer.receipt_due_at),
        (Transfer.feedback_at.is_(None), Transfer.feedback_due_at),
        else_=None,
    )).where(Transfer.report_id == Report.id, Transfer.state == "open").order_by(
        Transfer.created_at.desc()).limit(1).scalar_subquery()
    return type_coerce(case(
        (and_(Report.status == Status.NEW.value, Report.acknowledged_at.is_(None)), Report.acknowledge_due_at),
        (Report.status == Status.CLOSED.value, None),
        else_=transfer,
    ), UTCDateTime())


def _keys(sort: str, order: str) -> list[Any]:
    """The columns a sorted list is ordered by (all in ``order``), the report's id last."""
    if sort == "deadline":
        far = FAR_FUTURE if order == "asc" else FAR_PAST  # no deadline: at the end either way
        first: Any = type_coerce(func.coalesce(next_deadline(), literal(far, UTCDateTime())), UTCDateTime())
    elif sort == "status":
        first = case({code: rank for rank, code in enumerate(STATUS_ORDER)}, value=Report.status,
                     else_=len(STATUS_ORDER))
    elif sort == "unit":
        first = func.coalesce(select(Unit.name).where(Unit.id == Report.unit_id).scalar_subquery(), "")
    else:
        return [Report.submitted_at, Report.id]
    return [first, Report.submitted_at, Report.id]


def _after(keys: list[Any], values: tuple[Any, ...], order: str) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the order of ``keys``: (k1, k2, k3) > (v1, v2, v3), spelled out."""
    def beyond(key: Any, value: Any) -> ColumnElement[bool]:
        return key > value if order == "asc" else key < value  # type: ignore[no-any-return]

    return or_(*(and_(*(keys[j] == values[j] for j in range(i)), beyond(keys[i], values[i]))
                 for i in range(len(keys))))


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the order it belongs to, the page's number, and the last row's keys."""

    sort: str  # "" for the bands
    order: str
    page: int
    band: int
    keys: tuple[Any, ...]

    def encode(self) -> str:
        values = [value.astimezone(dt.UTC).isoformat() if isinstance(value, dt.datetime) else
                  str(value) if isinstance(value, uuid.UUID) else value for value in self.keys]
        raw = json.dumps([self.sort, self.order, self.page, self.band, values], ensure_ascii=False,
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read(kind: str, value: Any) -> Any:
    if kind == "at":
        when = dt.datetime.fromisoformat(value)
        if when.tzinfo is None:
            raise ValueError(value)
        return when.astimezone(dt.UTC)
    if kind == "id":
        return uuid.UUID(value)
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(value)
        return value
    if not isinstance(value, str):
        raise ValueError(value)
    return value


def decode_cursor(text: str, filters: Filters) -> Cursor | None:
    """The cursor's position in the order ``filters`` ask for, or None (the first page) for one that means
    nothing or belongs to another order."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
        sort, order, page, band, values = raw
        kinds = KEY_TYPES[sort]
        if (sort, order) != (filters.sort or "", filters.order) or band not in (0, 1) or len(values) != len(kinds):
            return None
        if not isinstance(page, int) or not 1 < page < 10**7:
            return None
        return Cursor(sort, order, page, band, tuple(_read(k, v) for k, v in zip(kinds, values, strict=True)))
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None


def _band_ids(actor: Actor, filters: Filters, *, now: dt.datetime, vault: Vault, cursor: Cursor | None,
              limit: int) -> list[tuple[int, tuple[Any, ...]]]:
    rows: list[tuple[int, tuple[Any, ...]]] = []
    base = filtered(actor, filters, now, vault).with_only_columns(Report.submitted_at, Report.id)
    keys = [Report.submitted_at, Report.id]
    for band in (0, 1):
        if cursor is not None and band < cursor.band:
            continue
        first = _first_band(now)
        stmt = base.where(first if band == 0 else not_(first))
        if cursor is not None and band == cursor.band:
            stmt = stmt.where(_after(keys, cursor.keys, "desc"))
        stmt = stmt.order_by(Report.submitted_at.desc(), Report.id.desc()).limit(limit + 1 - len(rows))
        rows += [(band, tuple(row)) for row in db.session.execute(stmt)]
        if len(rows) > limit:
            break
    return rows


def _sorted_ids(actor: Actor, filters: Filters, *, now: dt.datetime, vault: Vault, cursor: Cursor | None,
                limit: int) -> list[tuple[int, tuple[Any, ...]]]:
    order = filters.order
    keys = _keys(filters.sort or "submitted", order)
    stmt = filtered(actor, filters, now, vault).with_only_columns(*keys)
    if cursor is not None:
        stmt = stmt.where(_after(keys, cursor.keys, order))
    stmt = stmt.order_by(*(key.asc() if order == "asc" else key.desc() for key in keys)).limit(limit + 1)
    return [(1, tuple(row)) for row in db.session.execute(stmt)]


def page_ids(actor: Actor, filters: Filters, *, now: dt.datetime, vault: Vault,
             limit: int | None = None) -> tuple[list[uuid.UUID], Cursor | None, int]:
    """One page's report ids in the list's order, the next page's cursor (None on the last) and this page's
    number."""
    limit = limit or PAGE
    cursor = decode_cursor(filters.after, filters) if filters.after else None
    read = _sorted_ids if filters.sort else _band_ids
    rows = read(actor, filters, now=now, vault=vault, cursor=cursor, limit=limit)
    number = cursor.page if cursor else 1
    following = None
    if len(rows) > limit:
        band, keys = rows[limit - 1]
        following = Cursor(filters.sort or "", filters.order, number + 1, band, keys)
    return [keys[-1] for _, keys in rows[:limit]], following, number


def mask_name(name: Any) -> str:
    """小花 -> 小*: the first character, then one star."""
    text = str(name or "").strip()
    return f"{text[0]}*" if text else "—"


def timer_text(deadline: dt.datetime | None, now: dt.datetime) -> str:
    """剩余 3 小时 / 已超期 2 天: the largest whole unit of the time left or past."""
    if deadline is None:
        return "—"
    left = deadline - now
    span = abs(left)
    if span >= dt.timedelta(days=1):
        amount = f"{span.days} 天"
    elif span >= dt.timedelta(hours=1):
        amount = f"{span.seconds // 3600} 小时"
    else:
        amount = f"{max(1, span.seconds // 60)} 分钟"
    return f"剩余 {amount}" if left >= dt.timedelta(0) else f"已超期 {amount}"


@dataclasses.dataclass
class Row:
    """What the list shows of one report (police: also their unit's receipt and the prosecutor's contact)."""

    report: Report
    victim: str
    assignee: str | None
    deadline: dt.datetime | None
    overdue: bool
    district: str | None = None
    stage: str | None = None  # the police tab it is in (queries.POLICE_TABS)
    received_at: dt.datetime | None = None  # when the police unit confirmed receipt
    contact: str | None = None  # the transfer's contact at the office


@dataclasses.dataclass
class Page:
    rows: list[Row]
    cursor: str | None  # the next page's ``after``
    number: int


def district_names(office_id: int | None) -> dict[str, str]:
    """The office's districts, code to name."""
    return dict(db.session.execute(select(OfficeDistrict.code, OfficeDistrict.name)
                                   .where(OfficeDistrict.office_id == office_id)).all())


def _opened(report_id: uuid.UUID, unseal: Any) -> Any:
    """What ``unseal()`` returns, or None for a ciphertext that does not open: one unreadable row (a destroyed key,
    a moved ciphertext) must not take the whole list down."""
    try:
        return unseal()
    except DecryptionError as exc:
        log.error("inbox_row_unreadable", extra={"report_id": str(report_id), "exception": type(exc).__name__})
        return None


def inbox(actor: Actor, filters: Filters | None = None, *, now: dt.datetime, vault: Vault,
          limit: int | None = None) -> Page:
    """The page's rows (only these reports' victim sections, and for police their transfers' contacts, are
    unsealed), the next page's cursor and this page's number."""
    filters = filters or Filters()
    wanted, following, number = page_ids(actor, filters, now=now, vault=vault, limit=limit)
    if not wanted:
        return Page([], None, number)
    loaded = {r.id: r for r in db.session.scalars(
        select(Report).where(Report.id.in_(wanted))
        .options(selectinload(Report.category_rows), selectinload(Report.unit))
    )}
    deadlines: dict[uuid.UUID, dt.datetime | None] = dict(
        db.session.execute(select(Report.id, next_deadline()).where(Report.id.in_(wanted))).all())
    transfers: dict[uuid.UUID, Transfer] = {}
    for record in db.session.scalars(select(Transfer).where(Transfer.report_id.in_(wanted), Transfer.state == "open")
                                     .order_by(Transfer.created_at)):
        transfers[record.report_id] = record
    people = {r.assignee_id for r in loaded.values() if r.assignee_id}
    names = dict(db.session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(people)))
                 .all()) if people else {}
    districts = district_names(actor.office_id)
    police = actor.role == "police"
    rows = []
    for rid in wanted:
        report, transfer, deadline = loaded[rid], transfers.get(rid), deadlines.get(rid)
        victim = _opened(rid, lambda r=report: r.section("victim")) or {}
        row = Row(report=report, victim=mask_name(victim.get("name")),
                  assignee=names.get(report.assignee_id) if report.assignee_id else None, deadline=deadline,
                  overdue=deadline is not None and deadline < now,
                  district=districts.get(report.district_code or "", report.district_code))
        if police and transfer is not None:
            row.stage, row.received_at = police_stage(report.status, transfer), transfer.acknowledged_at
            if transfer.contact_data:
                row.contact = _opened(rid, lambda t=transfer: t.unseal("contact_data"))
        rows.append(row)
    return Page(rows, following.encode() if following else None, number)


@dataclasses.dataclass(frozen=True)
class Line:
    """One report of the list's export: what the list shows, nothing sealed."""

    tracking_no: str
    submitted_at: dt.datetime
    urgent: bool
    categories: list[str]
    unit: str | None
    unit_type: str | None
    district: str | None
    status: str
    assignee: str | None
    deadline: dt.datetime | None
    acknowledged_at: dt.datetime | None
    closed_at: dt.datetime | None


def export_lines(actor: Actor, filters: Filters, *, now: dt.datetime, vault: Vault,
                 batch: int = 500) -> Iterator[Line]:
    """Every report of the list under ``filters``, in its order, page after page (``batch`` at a time), read as
    plain columns: nothing is unsealed."""
    districts = district_names(actor.office_id)
    after = None
    while True:
        wanted, following, _ = page_ids(actor, dataclasses.replace(filters, after=after), now=now, vault=vault,
                                        limit=batch)
        if not wanted:
            return
        stmt = (select(Report.id, Report.tracking_no, Report.submitted_at, Report.urgent, Report.category_mask,
                       Unit.name, Report.unit_type, Report.district_code, Report.status, StaffUser.display_name,
                       next_deadline(), Report.acknowledged_at, Report.closed_at)
                .outerjoin(Unit, Unit.id == Report.unit_id).outerjoin(StaffUser, StaffUser.id == Report.assignee_id)
                .where(Report.id.in_(wanted)))
        found = {row[0]: row for row in db.session.execute(stmt)}
        for rid in wanted:
            (_, number, submitted, urgent, mask, unit, unit_type, district, status, assignee, deadline, acknowledged,
             closed) = found[rid]
            yield Line(number, submitted, bool(urgent), [c for i, c in enumerate(CATEGORIES) if mask & (1 << i)],
                       unit, unit_type, districts.get(district or "", district), status, assignee, deadline,
                       acknowledged, closed)
        if following is None:
            return
        after = following.encode()


@dataclasses.dataclass(frozen=True)
class Choices:
    """What the list's filters and bulk form offer: the office's member units (code, name), its districts (code,
    name) and, for a lead's 指派, its prosecutors and leads (username, name)."""

    units: list[tuple[str, str]]
    districts: list[tuple[str, str]]
    assignees: list[tuple[str, str]]


def choices(actor: Actor) -> Choices:
    units = db.session.execute(select(Unit.code, Unit.name, Unit.active).where(Unit.office_id == actor.office_id)
                               .order_by(Unit.name, Unit.code)).all()
    people = db.session.execute(
        select(StaffUser.username, StaffUser.display_name).where(
            StaffUser.office_id == actor.office_id, StaffUser.role.in_(("prosecutor", "lead")),
            StaffUser.active.is_(True)).order_by(StaffUser.display_name, StaffUser.username)).all()
    return Choices(
        units=[(code, name if active else f"{name}（已停用）") for code, name, active in units],
        districts=sorted(district_names(actor.office_id).items()),
        assignees=[(username, f"{name}（{username}）") for username, name in people],
    )
