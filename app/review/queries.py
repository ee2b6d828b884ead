"""Reads for the review pages, always scoped to the actor's office (and, for police, to their unit).

The inbox lists in two bands: first the open reports that are urgent or overdue, then every other report; each
band newest first, with keyset pagination on (band, submitted_at, id). The first band is read along the partial
index of open reports (few, however many are closed), the second along the office's time index, so a page costs
about the same at a thousand reports as at a hundred thousand. Search is an exact match on the tracking number
or on a blind index (victim ID number, reporter phone): nothing is decrypted to search.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import logging
import re
import unicodedata
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select, true
from sqlalchemy.orm import selectinload

from app.auth.models import StaffUser
from app.core.actor import Actor
from app.core.idcard import is_phone, normalise_id_number
from app.crypto.vault import DecryptionError, Vault
from app.extensions import db
from app.reports.constants import CATEGORIES
from app.reports.models import ClosedReportCount, Report, ReportCategory
from app.reports.overdue import open_condition, open_transfer, overdue_condition, overdue_conditions
from app.reports.records import Transfer
from app.reports.states import Status
from app.units.models import Unit

PAGE = 50
CLOSED_CAP = 1000  # a filtered 已办结 tab counts this many, then shows "1000+"
CST = dt.timezone(dt.timedelta(hours=8))
TRACKING = re.compile(r"^QZBG-\d{4}-\d{6,}$")
# The end of a tracking number as people read it out: its number (1-6 digits), or year and number.
TRACKING_TAIL = re.compile(r"^(?:\d{4}-)?\d{1,6}$")
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
OVERDUE_KINDS: dict[str, str] = {
    "acknowledge": "逾期未签收",
    "police_receipt": "公安逾期未签收",
    "police_feedback": "公安逾期未反馈",
    "supervision_answer": "逾期未说明不立案理由",
}

log = logging.getLogger("qzbg.review")


def visible(actor: Actor) -> Any:
    """The reports ``actor`` may see at all: their office's; police only those with an open transfer to their
    unit (a returned or closed transfer drops out of their list)."""
    stmt = select(Report).where(Report.office_id == actor.office_id)
    if actor.role == "police":
        stmt = stmt.where(exists(open_transfer().where(Transfer.police_unit_id == actor.police_unit_id)))
    return stmt


def _first_band(now: dt.datetime) -> ColumnElement[bool]:
    """Open and urgent, or past a deadline: listed before everything else."""
    return and_(open_condition(), or_(Report.urgent.is_(true()), *overdue_conditions(now).values()))


@dataclasses.dataclass(frozen=True)
class Filters:
    """The inbox's query parameters, checked; a value that means nothing is dropped (``ignored`` names it)."""

    status: str | None = None
    category: str | None = None
    urgent: bool = False
    unit: str | None = None
    unit_type: str | None = None
    district: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    overdue: bool = False
    assignee: str | None = None
    q: str | None = None
    after: str | None = None
    # The training queue (``training=1``): practice reports only; without it they are left out.
    training: bool = False
    ignored: tuple[str, ...] = ()

    @property
    def narrows(self) -> bool:
        """Whether anything but the status tab and the page narrows the list (the tabs then count under it)."""
        return any((self.category, self.urgent, self.unit, self.unit_type, self.district, self.date_from,
                    self.date_to, self.overdue, self.assignee, self.q))

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The parameters that rebuild these filters (for tab links and the next page)."""
        args = {
            "status": self.status, "category": self.category, "urgent": "1" if self.urgent else None,
            "unit": self.unit, "unit_type": self.unit_type, "district": self.district,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "overdue": "1" if self.overdue else None, "assignee": self.assignee, "q": self.q,
            "training": "1" if self.training else None,
        }
        args.update(changes)
        return {k: v for k, v in args.items() if v}


def _text_arg(value: str | None, limit: int, pattern: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > limit or not re.fullmatch(pattern, text):
        raise ValueError(text)
    return text


def _date_arg(value: str | None) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)
    return dt.date.fromisoformat(text)


def parse_filters(args: Any) -> Filters:
    """Read the inbox's parameters from a request's ``args``; a bad value is ignored, never an error."""
    values: dict[str, Any] = {}
    ignored: list[str] = []

    def take(name: str, key: str, read: Any) -> None:
        try:
            value = read(args.get(name))
        except (ValueError, TypeError, OverflowError):
            ignored.append(name)
            return
        if value not in (None, False):
            values[key] = value

    take("status", "status", lambda v: _choice(v, {s.value for s in Status}))
    take("category", "category", lambda v: _choice(v, set(CATEGORIES)))
    take("urgent", "urgent", lambda v: _flag(v))
    take("unit", "unit", lambda v: _text_arg(v, 32, r"[A-Za-z0-9_.-]+"))
    take("unit_type", "unit_type", lambda v: _text_arg(v, 40, r"[a-z0-9_]+"))
    take("district", "district", lambda v: _text_arg(v, 12, r"\d{2,12}"))
    take("from", "date_from", _date_arg)
    take("to", "date_to", _date_arg)
    take("overdue", "overdue", lambda v: _flag(v))
    take("assignee", "assignee", lambda v: _text_arg((v or "").lower(), 60, r"[a-z0-9_.@-]+"))
    take("q", "q", _search_arg)
    take("after", "after", lambda v: _text_arg(v, 200, r"[A-Za-z0-9_-]+"))
    take("training", "training", lambda v: _flag(v))
    return Filters(**values, ignored=tuple(ignored))


def _choice(value: str | None, choices: set[str]) -> str | None:
    if not value:
        return None
    if value not in choices:
        raise ValueError(value)
    return value


def _flag(value: str | None) -> bool:
    if value in (None, "", "0"):
        return False
    if value == "1":
        return True
    raise ValueError(value)


def _search_arg(value: str | None) -> str | None:
    text = unicodedata.normalize("NFKC", value or "").replace(" ", "").strip()
    if not text:
        return None
    # Anything else than a tracking number, an ID number or a phone number finds nothing (not everything).
    return text[:40].upper()


def _search(q: str, vault: Vault) -> ColumnElement[bool]:
    """A tracking number whole or its last digits (``000198`` or ``198`` finds ``QZBG-2026-000198``, of any year),
    or exactly an 18-character ID number or a phone number (through blind indexes)."""
    if TRACKING.match(q):
        return Report.tracking_no == q
    if TRACKING_TAIL.match(q):
        year, _, number = q.rpartition("-")
        return Report.tracking_no.like(f"QZBG-{year or '%'}-{number.zfill(6)}")
    if ID_NUMBER.match(q):
        return Report.victim_id_bidx == vault.blind_index("victim.id_number", normalise_id_number(q))
    if is_phone(q):
        return Report.reporter_phone_bidx == vault.blind_index("phone", q)
    return false()


def training_queue(training: bool) -> ColumnElement[bool]:
    """The real reports (``False``) or the practice ones of the training queue (``True``)."""
    # ``=``, not ``IS``: PostgreSQL reads ``training = false`` as ``NOT training``, the open index's predicate.
    return Report.training == (true() if training else false())


def _filtered(actor: Actor, filters: Filters, now: dt.datetime, vault: Vault, *, with_status: bool = True) -> Any:
    stmt = visible(actor).where(training_queue(filters.training))
    if with_status and filters.status:
        stmt = stmt.where(Report.status == filters.status)
    if filters.category:
        stmt = stmt.where(exists(select(ReportCategory.report_id).where(
            ReportCategory.report_id == Report.id, ReportCategory.code == filters.category)))
    if filters.urgent:
        stmt = stmt.where(Report.urgent.is_(true()))
    if filters.unit:
        stmt = stmt.where(Report.unit_id.in_(select(Unit.id).where(Unit.code == filters.unit)))
    if filters.unit_type:
        stmt = stmt.where(Report.unit_type == filters.unit_type)
    if filters.district:
        stmt = stmt.where(Report.district_code == filters.district)
    if filters.date_from:
        stmt = stmt.where(Report.submitted_at >= _day_start(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Report.submitted_at < _day_start(filters.date_to + dt.timedelta(days=1)))
    if filters.overdue:
        stmt = stmt.where(overdue_condition(now))
    if filters.assignee == "me":
        stmt = stmt.where(Report.assignee_id == actor.id) if actor.id else stmt.where(false())
    elif filters.assignee == "none":
        stmt = stmt.where(Report.assignee_id.is_(None))
    elif filters.assignee:
        stmt = stmt.where(Report.assignee_id.in_(select(StaffUser.id).where(StaffUser.username == filters.assignee)))
    if filters.q:
        stmt = stmt.where(_search(filters.q, vault))
    return stmt


def _day_start(day: dt.date) -> dt.datetime:
    """Midnight in China of ``day``, as UTC (dates on the page are China dates)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=CST).astimezone(dt.UTC)


class Counts(dict[str, int]):
    """The tabs' counts; those named in ``capped`` were counted only up to ``CLOSED_CAP`` + 1."""

    capped: frozenset[str] = frozenset()

    def text(self, key: str) -> str:
        """A tab's count as shown: "1000+" past the cap of a tab counted up to it."""
        count = self[key]
        return f"{CLOSED_CAP}+" if key in self.capped and count > CLOSED_CAP else str(count)


def status_counts(actor: Actor, filters: Filters | None = None, *, now: dt.datetime, vault: Vault) -> Counts:
    """Reports per status under the other filters (the tabs), and ``overdue``: open ones past a deadline.

    The open statuses and the overdue count are read along the partial index of open reports (an office's open
    work, however long its history). The closed ones, the bulk of that history, are not counted row by row: the
    office's whole tab is its ``ClosedReportCount`` row, and under a filter (or in a police list) they are counted
    up to ``CLOSED_CAP`` + 1, which the page shows as "1000+" (``Counts.text``)."""
    filters = filters or Filters()
    base = _filtered(actor, filters, now, vault, with_status=False)
    counts = Counts({status.value: 0 for status in Status})
    grouped = base.where(open_condition()).with_only_columns(Report.status, func.count()).group_by(Report.status)
    counts.update({status: int(n) for status, n in db.session.execute(grouped)})
    if actor.role != "police" and not filters.narrows:
        counts[Status.CLOSED.value] = closed_count(actor.office_id)
    else:
        # The newest first, as the status index holds them: the count stops after the cap along that index.
        closed = (base.where(Report.status == Status.CLOSED.value).with_only_columns(Report.id)
                  .order_by(Report.submitted_at.desc(), Report.id.desc()).limit(CLOSED_CAP + 1))
        counts[Status.CLOSED.value] = int(db.session.scalar(select(func.count()).select_from(closed.subquery())) or 0)
        counts.capped = frozenset({Status.CLOSED.value})
    overdue = base.where(overdue_condition(now)).with_only_columns(func.count())
    counts["overdue"] = int(db.session.scalar(overdue) or 0)
    practice = visible(actor).where(training_queue(True)).with_only_columns(func.count())
    counts["training"] = int(db.session.scalar(practice) or 0)
    return counts


def closed_count(office_id: int | None) -> int:
    """The office's closed reports, from its counter row (kept by ``reports.service.change_status``)."""
    if office_id is None:
        return 0
    return int(db.session.scalar(select(ClosedReportCount.closed).where(ClosedReportCount.office_id == office_id))
               or 0)


def encode_cursor(band: int, submitted_at: dt.datetime, report_id: uuid.UUID) -> str:
    raw = f"{band}|{submitted_at.astimezone(dt.UTC).isoformat()}|{report_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, dt.datetime, uuid.UUID] | None:
    """The cursor's position, or None for one that means nothing (the first page is shown)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        band, at, report_id = raw.split("|")
        when = dt.datetime.fromisoformat(at)
        if band not in ("0", "1") or when.tzinfo is None:
            return None
        return int(band), when.astimezone(dt.UTC), uuid.UUID(report_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        return None


def _band_query(stmt: Any, band: int, now: dt.datetime, position: tuple[dt.datetime, uuid.UUID] | None,
                limit: int) -> Any:
    first = _first_band(now)
    stmt = stmt.where(first if band == 0 else not_(first))
    if position is not None:
        at, report_id = position
        stmt = stmt.where(or_(Report.submitted_at < at, and_(Report.submitted_at == at, Report.id < report_id)))
    return stmt.order_by(Report.submitted_at.desc(), Report.id.desc()).limit(limit)


def band_query(actor: Actor, filters: Filters, band: int, *, now: dt.datetime, vault: Vault,
               position: tuple[dt.datetime, uuid.UUID] | None = None, limit: int = PAGE + 1) -> Any:
    """(id, submitted_at) of one band's reports after ``position``, newest first (0: open and urgent or overdue)."""
    base = _filtered(actor, filters, now, vault).with_only_columns(Report.id, Report.submitted_at)
    return _band_query(base, band, now, position, limit)


def inbox_page_ids(actor: Actor, filters: Filters, *, now: dt.datetime, vault: Vault,
                   limit: int = PAGE) -> tuple[list[tuple[int, uuid.UUID, dt.datetime]], str | None]:
    """One page of (band, id, submitted_at), and the cursor of the next page (None on the last)."""
    position = decode_cursor(filters.after) if filters.after else None
    rows: list[tuple[int, uuid.UUID, dt.datetime]] = []
    start_band = position[0] if position else 0
    for band in (0, 1):
        if band < start_band:
            continue
        at = (position[1], position[2]) if position and band == position[0] else None
        stmt = band_query(actor, filters, band, now=now, vault=vault, position=at, limit=limit + 1 - len(rows))
        rows += [(band, rid, when) for rid, when in db.session.execute(stmt)]
        if len(rows) > limit:
            break
    if len(rows) > limit:
        band, rid, when = rows[limit - 1]
        return rows[:limit], encode_cursor(band, when, rid)
    return rows, None


@dataclasses.dataclass
class Row:
    """What the inbox shows of one report."""

    report: Report
    victim: str
    assignee: str | None
    deadline: dt.datetime | None
    overdue: bool


def _deadline(report: Report, transfer: Transfer | None) -> dt.datetime | None:
    """The next deadline the office watches for this report, if any."""
    if report.status == Status.NEW.value and report.acknowledged_at is None:
        return report.acknowledge_due_at
    if transfer is None or report.status == Status.CLOSED.value:
        return None
    if transfer.supervision_requested_at is not None and transfer.explained_at is None \
            and transfer.concluded_at is None:
        return transfer.supervision_answer_due_at
    if transfer.acknowledged_at is None:
        return transfer.receipt_due_at
    if transfer.feedback_at is None:
        return transfer.feedback_due_at
    return None


def mask_name(name: Any) -> str:
    """小花 -> 小*: the first character, then one star."""
    text = str(name or "").strip()
    return f"{text[0]}*" if text else "—"


def inbox(actor: Actor, filters: Filters | None = None, *, now: dt.datetime, vault: Vault,
          limit: int | None = None) -> tuple[list[Row], str | None]:
    """The page's rows (only these reports' victim sections are unsealed) and the next page's cursor."""
    ids, cursor = inbox_page_ids(actor, filters or Filters(), now=now, vault=vault, limit=limit or PAGE)
    if not ids:
        return [], None
    wanted = [rid for _, rid, _ in ids]
    loaded = {r.id: r for r in db.session.scalars(
        select(Report).where(Report.id.in_(wanted))
        .options(selectinload(Report.category_rows), selectinload(Report.unit))
    )}
    transfers: dict[uuid.UUID, Transfer] = {}
    for record in db.session.scalars(select(Transfer).where(Transfer.report_id.in_(wanted), Transfer.state == "open")
                                     .order_by(Transfer.created_at)):
        transfers[record.report_id] = record
    people = {r.assignee_id for r in loaded.values() if r.assignee_id}
    names = dict(db.session.execute(select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(people)))
                 .all()) if people else {}
    rows = []
    for rid in wanted:
        report = loaded[rid]
        deadline = _deadline(report, transfers.get(rid))
        try:
            victim = report.section("victim") or {}
        except DecryptionError as exc:
            # One unreadable row (a destroyed key, a moved ciphertext) must not take the whole inbox down.
            log.error("inbox_row_unreadable", extra={"report_id": str(report.id), "exception": type(exc).__name__})
            victim = {}
        assignee = names.get(report.assignee_id) if report.assignee_id else None
        rows.append(Row(report=report, victim=mask_name(victim.get("name")), assignee=assignee,
                        deadline=deadline, overdue=deadline is not None and deadline < now))
    return rows, cursor


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
class OverdueItem:
    """One past-due step, with whom to chase: the report's 承办人, and for a police deadline the unit."""

    report: Report
    kind: str
    due_at: dt.datetime
    police_unit: str | None = None
    assignee: str | None = None


def overdue(actor: Actor, *, now: dt.datetime, limit: int = 200) -> dict[str, list[OverdueItem]]:
    """What is past due, by kind, oldest deadline first (at most ``limit`` of each kind)."""
    found: dict[str, list[OverdueItem]] = {kind: [] for kind in OVERDUE_KINDS}
    scope = visible(actor).where(Report.status != Status.CLOSED.value, training_queue(False))
    due = scope.with_only_columns(Report, Report.acknowledge_due_at).where(overdue_conditions(now)["acknowledge"])
    for report, at in db.session.execute(due.order_by(Report.acknowledge_due_at).limit(limit)):
        found["acknowledge"].append(OverdueItem(report, "acknowledge", at))
    ids = scope.with_only_columns(Report.id)
    columns = {
        "police_receipt": (Transfer.receipt_due_at, [Transfer.acknowledged_at.is_(None)]),
        "police_feedback": (Transfer.feedback_due_at, [Transfer.feedback_at.is_(None)]),
        "supervision_answer": (Transfer.supervision_answer_due_at, [
            Transfer.supervision_requested_at.is_not(None), Transfer.explained_at.is_(None),
            Transfer.concluded_at.is_(None)]),
    }
    for kind, (column, conditions) in columns.items():
        stmt = (select(Transfer, column).where(Transfer.state == "open", Transfer.report_id.in_(ids), column < now,
                                              *conditions)
                .options(selectinload(Transfer.report)).order_by(column).limit(limit))
        stmt = stmt.options(selectinload(Transfer.police_unit))
        for record, at in db.session.execute(stmt):
            if at is not None:
                found[kind].append(OverdueItem(record.report, kind, at, police_unit=record.police_unit.name))
    people = {item.report.assignee_id for items in found.values() for item in items} - {None}
    names: dict[Any, str] = {row.id: row.display_name for row in db.session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(people)))} if people else {}
    return {kind: [dataclasses.replace(item, assignee=names.get(item.report.assignee_id)) for item in items]
            for kind, items in found.items()}
