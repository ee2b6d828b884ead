"""Reads of the audit log for ``/admin/audit`` and its export: one office's entries, filtered, newest first, and each
entry as its readers read it (names, not ids).

Who acted is the account's display name and role; what was done is the action's zh-CN name
(``app.admin.audit_labels``); what it was done to is named from its own table: an account by its display name, a
report (and its attachments and transfers) by its tracking number, a unit or police unit by its name. Nothing
sealed is opened: a unit liaison shows as the unit's liaison, never by name, and no reporter is ever named.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from app.admin.audit_labels import action_label, role_label
from app.admin.schemas import TRACKING
from app.audit.models import AuditEntry
from app.auth.models import StaffUser
from app.errors import ValidationError
from app.extensions import db
from app.offices.models import Office, PoliceUnit
from app.reports.models import Attachment, Report
from app.reports.records import Transfer
from app.units.models import Unit, UnitLiaison

PAGE = 100
EXPORT_BATCH = 1000
# A report-number filter that matches more reports than this is asked to be narrowed (each match is a parameter).
REPORT_CAP = 500
CST = dt.timezone(dt.timedelta(hours=8))


@dataclasses.dataclass(frozen=True)
class Filters:
    """Validated filters (``AuditFiltersIn``) resolved against the office: the acting account (its id and user
    name), the report number's matching targets (``(target_type, target_id)`` pairs; None: no report filter)."""

    actor_id: uuid.UUID | None = None
    actor: str | None = None
    action: str | None = None
    report: str | None = None
    targets: tuple[tuple[str, str], ...] | None = None
    first: dt.date | None = None
    last: dt.date | None = None
    before: int | None = None

    def summary(self) -> str:
        """What the filters pick, compactly, for the export's own audit entry (ids and codes, no names)."""
        parts = [f"u={self.actor}" if self.actor else "", f"a={self.action}" if self.action else "",
                 f"r={self.report}" if self.report else ""]
        if self.first or self.last:
            parts.append(f"{self.first or ''}..{self.last or ''}")
        return ";".join(p for p in parts if p) or "*"


def office_users(office_id: int) -> list[StaffUser]:
    """The office's accounts, every state, for the person filter."""
    return list(db.session.scalars(select(StaffUser).where(StaffUser.office_id == office_id)
                                   .order_by(StaffUser.display_name, StaffUser.username)))


def resolve(office_id: int, data: dict[str, Any]) -> Filters:
    """Filters of the office from the schema's data; a ``ValidationError`` (zh-CN, by field) for a person not of
    the office or a report number matching too many reports."""
    actor_id = None
    if data.get("actor"):
        actor_id = db.session.scalar(select(StaffUser.id).where(StaffUser.username == data["actor"],
                                                                StaffUser.office_id == office_id))
        if actor_id is None:
            raise ValidationError(fields={"actor": ["请从列表中选择操作人"]})
    report = data.get("report")
    return Filters(actor_id=actor_id, actor=data.get("actor"), action=data.get("action"), report=report,
                   targets=_report_targets(office_id, report) if report else None,
                   first=data.get("date_from"), last=data.get("date_to"), before=data.get("before"))


def _report_targets(office_id: int, number: str) -> tuple[tuple[str, str], ...]:
    """Entries about the reports a tracking number (or its last digits) names: the reports, their attachments and
    their transfers. Target ids are stored as text (``str(uuid)``), so they are matched as such."""
    if TRACKING.match(number):
        matches: ColumnElement[bool] = Report.tracking_no == number
    else:
        year, _, digits = number.rpartition("-")
        matches = Report.tracking_no.like(f"QZBG-{year or '%'}-{digits.zfill(6)}")
    ids = list(db.session.scalars(select(Report.id).where(Report.office_id == office_id, matches)
                                  .limit(REPORT_CAP + 1)))
    if len(ids) > REPORT_CAP:
        raise ValidationError(fields={"report": [f"符合该编号的线索超过 {REPORT_CAP} 条，请输入更完整的编号"]})
    if not ids:
        return ()
    attachments = db.session.scalars(select(Attachment.id).where(Attachment.report_id.in_(ids)))
    transfers = db.session.scalars(select(Transfer.id).where(Transfer.report_id.in_(ids)))
    return (*(("report", str(i)) for i in ids), *(("attachment", str(i)) for i in attachments),
            *(("transfer", str(i)) for i in transfers))


def _statement(office_id: int, f: Filters) -> Select[Any]:
    stmt = select(AuditEntry).where(AuditEntry.office_id == office_id)
    if f.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == f.actor_id)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.targets is not None:
        by_type: dict[str, list[str]] = collections.defaultdict(list)
        for target_type, target_id in f.targets:
            by_type[target_type].append(target_id)
        stmt = stmt.where(or_(*(and_(AuditEntry.target_type == t, AuditEntry.target_id.in_(ids))
                                for t, ids in by_type.items())) if by_type else false())
    if f.first:
        stmt = stmt.where(AuditEntry.at >= dt.datetime.combine(f.first, dt.time(), tzinfo=CST))
    if f.last:
        stmt = stmt.where(AuditEntry.at < dt.datetime.combine(f.last + dt.timedelta(days=1), dt.time(), tzinfo=CST))
    return stmt


@dataclasses.dataclass(frozen=True)
class Row:
    """One entry as the page and the export show it."""

    seq: int
    at: dt.datetime
    actor: str
    username: str | None
    role: str
    action: str
    action_code: str
    target: str
    ip: str
    request_id: str


@dataclasses.dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_before: int | None


def office_page(office_id: int, f: Filters) -> Page:
    """A page of ``PAGE`` entries, newest first, from ``f.before`` (an entry number) down."""
    stmt = _statement(office_id, f)
    if f.before is not None:
        stmt = stmt.where(AuditEntry.seq < f.before)
    entries = list(db.session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(PAGE + 1)))
    page = entries[:PAGE]
    return Page(present(page), page[-1].seq if len(entries) > PAGE else None)


def all_rows(office_id: int, f: Filters) -> Iterator[list[Row]]:
    """Every entry the filters pick, newest first, ``EXPORT_BATCH`` at a time (keyset on the entry number, so each
    batch reads only its own rows)."""
    before = f.before
    while True:
        stmt = _statement(office_id, f)
        if before is not None:
            stmt = stmt.where(AuditEntry.seq < before)
        entries = list(db.session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(EXPORT_BATCH)))
        if not entries:
            return
        yield present(entries)
        before = entries[-1].seq
        db.session.expunge_all()


# --- names ----------------------------------------------------------------------------------------------------


def _uuids(values: Iterable[str]) -> list[uuid.UUID]:
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


def _ints(values: Iterable[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and len(v) <= 18]


def _names(entries: list[AuditEntry]) -> dict[tuple[str, str], Any]:
    """Every actor and target of ``entries`` looked up once per table: ``(kind, id as stored) -> what it is``."""
    wanted: dict[str, set[str]] = collections.defaultdict(set)
    for e in entries:
        if e.actor_id:
            wanted["staff_user"].add(str(e.actor_id))
        if e.target_type and e.target_id:
            wanted[e.target_type].add(e.target_id)
    names: dict[tuple[str, str], Any] = {}
    if ids := _uuids(wanted["staff_user"]):
        for user_id, display, username in db.session.execute(
                select(StaffUser.id, StaffUser.display_name, StaffUser.username).where(StaffUser.id.in_(ids))):
            names["staff_user", str(user_id)] = (display, username)
    if ids := _uuids(wanted["report"]):
        for report_id, tracking_no in db.session.execute(
                select(Report.id, Report.tracking_no).where(Report.id.in_(ids))):
            names["report", str(report_id)] = tracking_no
    if ids := _uuids(wanted["attachment"]):
        for attachment_id, tracking_no in db.session.execute(
                select(Attachment.id, Report.tracking_no).join(Report, Report.id == Attachment.report_id)
                .where(Attachment.id.in_(ids))):
            names["attachment", str(attachment_id)] = f"{tracking_no} 的附件"
    if ids := _uuids(wanted["transfer"]):
        for transfer_id, tracking_no, police in db.session.execute(
                select(Transfer.id, Report.tracking_no, PoliceUnit.name).join(Report, Report.id == Transfer.report_id)
                .join(PoliceUnit, PoliceUnit.id == Transfer.police_unit_id).where(Transfer.id.in_(ids))):
            names["transfer", str(transfer_id)] = f"{tracking_no} 移送{police}"
    if ids := _uuids(wanted["unit_liaison"]):
        for liaison_id, unit_name in db.session.execute(
                select(UnitLiaison.id, Unit.name).join(Unit, Unit.id == UnitLiaison.unit_id)
                .where(UnitLiaison.id.in_(ids))):
            names["unit_liaison", str(liaison_id)] = f"{unit_name}的联络人"
    if codes := wanted["unit"]:
        for code, name in db.session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(codes))):
            names["unit", code] = f"{name}（{code}）"
    if numbers := _ints(wanted["police_unit"]):
        for unit_id, name in db.session.execute(select(PoliceUnit.id, PoliceUnit.name)
                                                .where(PoliceUnit.id.in_(numbers))):
            names["police_unit", str(unit_id)] = name
    if codes := wanted["office"]:
        for code, name in db.session.execute(select(Office.code, Office.name).where(Office.code.in_(codes))):
            names["office", code] = f"{name}（{code}）"
    return names


GONE = {"staff_user": "已删除的账号", "report": "已删除的线索", "attachment": "已删除线索的附件",
        "transfer": "已删除线索的移送", "unit_liaison": "已移除的单位联络人", "unit": "已删除的成员单位",
        "police_unit": "已删除的公安机关", "office": "已删除的检察院"}


def _counts(value: str) -> str:
    created, _, updated = value.partition("+")
    return f"新建 {created} 个，更新 {updated} 个" if created.isdigit() and updated.isdigit() else value


def describe_filters(value: str) -> str:
    """A ``Filters.summary()`` as read: 筛选：操作人 …、操作“…”、线索 …、… 至 …, or 全部记录."""
    if value == "*":
        return "全部记录"
    shown = []
    for part in value.split(";"):
        key, _, rest = part.partition("=")
        if key == "u":
            shown.append(f"操作人 {rest}")
        elif key == "a":
            shown.append(f"操作“{action_label(rest)}”")
        elif key == "r":
            shown.append(f"线索 {rest}")
        elif ".." in part:
            first, _, last = part.partition("..")
            shown.append(f"{first or '最早'} 至 {last or '今天'}")
    return "筛选：" + "、".join(shown) if shown else value


def _target(e: AuditEntry, names: dict[tuple[str, str], Any]) -> str:
    kind, value = e.target_type, e.target_id
    if not kind or value is None:
        return "—"
    known = names.get((kind, value))
    if kind == "staff_user":
        return f"{known[0]}（{known[1]}）" if known else GONE[kind]
    if kind in GONE:
        return str(known) if known else GONE[kind]
    described = {
        "kek": lambda: f"加密主密钥 {value}",
        "outbox_message": lambda: "一条失败的通知",
        "outbox": lambda: f"{value} 条失败的通知",
        "register": lambda: "台账 " + value.replace("..", " 至 "),
        "units": lambda: "成员单位：" + _counts(value),
        "police_units": lambda: "公安机关：" + _counts(value),
        "audit_log": lambda: "审计日志（" + describe_filters(value) + "）",
        "audit_chain": lambda: f"升级前的审计链（链头 {value[:12]}…）",
    }.get(kind)
    return described() if described else f"{kind} {value}"


def present(entries: list[AuditEntry]) -> list[Row]:
    names = _names(entries)
    rows = []
    for e in entries:
        actor = names.get(("staff_user", str(e.actor_id))) if e.actor_id else None
        if actor is not None:
            who, username = actor
        else:
            who, username = ("已删除的账号" if e.actor_id else role_label(e.actor_role, e.action)), None
        outside = e.actor_role in ("reporter", "public")  # a reporter's address is theirs: not shown to staff
        rows.append(Row(seq=e.seq, at=e.at, actor=who, username=username, role=role_label(e.actor_role, e.action),
                        action=action_label(e.action), action_code=e.action, target=_target(e, names),
                        ip="" if outside else (e.ip or ""), request_id=e.request_id or ""))
    return rows
