"""Reads for the review pages, always scoped to the actor's office (and, for police, to their unit): the inbox's
filters, its tabs' counts, what is overdue.

The 全部 tab lists the open reports (the closed ones have their own tab; a search looks in both). The list's
order and pages are ``app/review/listing.py``'s. Search is an exact match on the tracking number (or its last
digits) or on a blind index (victim ID number, reporter phone): nothing is decrypted to search.

Police have tabs of their own (``tab``), read from their unit's open transfer: 待签收 (``receipt``: not yet
acknowledged), 待反馈 (``feedback``: acknowledged, or told to file after supervision, and no feedback yet), 监督中
(``supervision``: asked to explain a decision not to file, no conclusion yet), 已反馈 (``responded``: feedback given,
or the supervision concluded that their reasons stand).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import selectinload

from app.auth.models import StaffUser
from app.core.actor import Actor
from app.core.dbtypes import Holds
from app.core.idcard import is_phone, normalise_id_number
from app.crypto.vault import Vault
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
# The list's orders (``sort``), each with the direction it takes unless ``dir`` says otherwise.
SORTS: dict[str, str] = {"submitted": "desc", "deadline": "asc", "status": "asc", "unit": "asc"}
# The police's tabs (``tab``), in the order they are shown.
POLICE_TABS: dict[str, str] = {
    "receipt": "待签收", "feedback": "待反馈", "supervision": "监督中", "responded": "已反馈",
}
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
    sort: str | None = None  # one of SORTS; None: urgent and overdue first, then the newest
    direction: str | None = None  # ``dir``: asc or desc; None: the sort's own (SORTS)
    tab: str | None = None  # one of POLICE_TABS
    # The training queue (``training=1``): practice reports only; without it they are left out.
    training: bool = False
    ignored: tuple[str, ...] = ()

    @property
    def narrows(self) -> bool:
        """Whether anything but the status tab and the page narrows the list (the tabs then count under it)."""
        return any((self.category, self.urgent, self.unit, self.unit_type, self.district, self.date_from,
                    self.date_to, self.overdue, self.assignee, self.q))

    @property
    def order(self) -> str:
        """The direction of the chosen sort (``asc`` or ``desc``)."""
        return self.direction or SORTS.get(self.sort or "", "desc")

    @property
    def open_only(self) -> bool:
        """The 全部 tab lists open reports only; a status tab lists its status, a search looks everywhere."""
        return not self.status and not self.q

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The parameters that rebuild these filters (for tab links and the next page)."""
        args = {
            "status": self.status, "category": self.category, "urgent": "1" if self.urgent else None,
            "unit": self.unit, "unit_type": self.unit_type, "district": self.district,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "overdue": "1" if self.overdue else None, "assignee": self.assignee, "q": self.q,
            "training": "1" if self.training else None, "sort": self.sort, "dir": self.direction, "tab": self.tab,
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
    take("after", "after", lambda v: _text_arg(v, 1000, r"[A-Za-z0-9_-]+"))
    take("training", "training", lambda v: _flag(v))
    take("sort", "sort", lambda v: _choice(v, set(SORTS)))
    take("dir", "direction", lambda v: _choice(v, {"asc", "desc"}))
    take("tab", "tab", lambda v: _choice(v, set(POLICE_TABS)))
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
    """The real reports (``False``) or the practice ones of the training queue (``True``), each spelled as the
    partial index it reads on both backends: ``training = false`` (SQLite ``training = 0``: the open index's
    predicate there; PostgreSQL reads it as ``NOT training``, the predicate there), and ``training`` alone (the
    practice index's predicate on both)."""
    return Holds(Report.training) if training else Report.training == false()


def tab_condition(tab: str, actor: Actor) -> ColumnElement[bool]:
    """A police tab (POLICE_TABS) as a condition on a report row, read from its open transfer (to the actor's unit,
    for police)."""
    def transfer(*conditions: Any) -> ColumnElement[bool]:
        stmt = open_transfer().where(*conditions)
        if actor.role == "police":
            stmt = stmt.where(Transfer.police_unit_id == actor.police_unit_id)
        return exists(stmt)

    transferred, supervising = Report.status == Status.TRANSFERRED.value, Report.status == Status.SUPERVISING.value
    if tab == "receipt":
        return and_(transferred, transfer(Transfer.acknowledged_at.is_(None)))
    if tab == "feedback":
        return or_(and_(transferred, transfer(Transfer.acknowledged_at.is_not(None))),
                   and_(supervising, transfer(Transfer.conclusion == "notify_filing")))
    if tab == "supervision":
        return and_(supervising, transfer(Transfer.concluded_at.is_(None)))
    return or_(Report.status == Status.POLICE_RESPONDED.value,
               and_(supervising, transfer(Transfer.conclusion == "accept_reasons")))


def police_stage(status: str, transfer: Transfer | None) -> str | None:
    """The police tab (POLICE_TABS) a report of ``status`` with this open transfer is in, as ``tab_condition``."""
    if transfer is None:
        return None
    if status == Status.TRANSFERRED.value:
        return "receipt" if transfer.acknowledged_at is None else "feedback"
    if status == Status.SUPERVISING.value:
        return {"notify_filing": "feedback", "accept_reasons": "responded"}.get(transfer.conclusion or "",
                                                                              "supervision")
    if status == Status.POLICE_RESPONDED.value:
        return "responded"
    return None


def filtered(actor: Actor, filters: Filters, now: dt.datetime, vault: Vault, *, with_status: bool = True) -> Any:
    """The reports under ``filters``; ``with_status``: also its status (or, on the 全部 tab, open ones only)."""
    stmt = visible(actor).where(training_queue(filters.training))
    if with_status and filters.status:
        stmt = stmt.where(Report.status == filters.status)
    elif with_status and filters.open_only:
        stmt = stmt.where(open_condition())
    if filters.tab:
        stmt = stmt.where(tab_condition(filters.tab, actor))
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
    filters = dataclasses.replace(filters or Filters(), tab=None)  # the tabs count under the other filters
    base = filtered(actor, filters, now, vault, with_status=False)
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
    practice = visible(actor).where(training_queue(True), open_condition()).with_only_columns(func.count())
    counts["training"] = int(db.session.scalar(practice) or 0)
    if actor.role == "police":
        for tab in POLICE_TABS:
            counted = base.where(tab_condition(tab, actor)).with_only_columns(func.count())
            counts[tab] = int(db.session.scalar(counted) or 0)
    return counts


def list_total(actor: Actor, filters: Filters, counts: Counts, *, now: dt.datetime, vault: Vault) -> tuple[int, bool]:
    """How many reports the list holds under ``filters`` (all its pages), and whether that is a lower bound (the
    closed tab under a filter is counted up to the cap, ``status_counts``)."""
    if filters.status == Status.CLOSED.value and not filters.tab and not filters.overdue:
        return counts[Status.CLOSED.value], Status.CLOSED.value in counts.capped
    stmt = filtered(actor, filters, now, vault).with_only_columns(func.count())
    return int(db.session.scalar(stmt) or 0), False


def closed_count(office_id: int | None) -> int:
    """The office's closed reports, from its counter row (kept by ``reports.service.change_status``)."""
    if office_id is None:
        return 0
    return int(db.session.scalar(select(ClosedReportCount.closed).where(ClosedReportCount.office_id == office_id))
               or 0)


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


# 立案监督 candidates (issue 18 item 4), each kind with what it means for the prosecutor.
SUPERVISION_KINDS = {
    "not_filed": "公安机关不予立案，尚未立案监督",
    "no_case": "已过反馈期限，公安机关尚未立案",
}


def supervision_candidates(actor: Actor, *, now: dt.datetime, limit: int = 200) -> dict[str, list[OverdueItem]]:
    """Transfers of open reports that may call for 立案监督: the police declined to file a case (and no
    supervision was asked yet), or the feedback deadline passed with no case filed (no feedback, or a case only
    accepted for investigation). Oldest first, at most ``limit`` of each kind."""
    ids = visible(actor).where(Report.status != Status.CLOSED.value, training_queue(False)).with_only_columns(
        Report.id)
    base = select(Transfer).where(Transfer.state == "open", Transfer.report_id.in_(ids),
                                  Transfer.supervision_requested_at.is_(None))
    kinds = {
        "not_filed": (Transfer.feedback_at, base.where(Transfer.feedback_outcome == "not_filed")),
        "no_case": (Transfer.feedback_due_at, base.where(
            Transfer.feedback_due_at < now,
            (Transfer.feedback_outcome.is_(None)) | (Transfer.feedback_outcome == "accepted"))),
    }
    found: dict[str, list[OverdueItem]] = {}
    for kind, (column, stmt) in kinds.items():
        rows = db.session.scalars(stmt.options(selectinload(Transfer.report), selectinload(Transfer.police_unit))
                                  .order_by(column).limit(limit))
        found[kind] = [OverdueItem(t.report, kind, getattr(t, column.key) or now, police_unit=t.police_unit.name)
                       for t in rows]
    return found
