"""Report actions. Each takes explicit arguments, flushes, and leaves the commit to its caller."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.config import Settings
from app.core.actor import Actor
from app.core.idcard import age_on, birth_date, normalise_name
from app.core.logs import security_event
from app.crypto.vault import Vault
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.offices.models import OfficeDistrict
from app.reporters.models import Reporter
from app.reports import news
from app.reports.constants import age_band
from app.reports.models import SEALED_SECTIONS, ClosedReportCount, Report, ReportEvent
from app.reports.queries import report_id_by_client_key
from app.reports.states import REPORTER_STATUS, Action, Status, transition
from app.reports.tracking import CST, next_tracking_no
from app.units.models import Unit

# 查询码: 10 characters without look-alikes (no 0/O, 1/I/L), about 50 bits.
STATUS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
STATUS_CODE_LENGTH = 10
# QZBG-<year>-<sequence of at least 6 digits> (tracking.py), ASCII digits only.
TRACKING_NO_SHAPE = re.compile(r"QZBG-[0-9]{4}-[0-9]{6,10}")
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# What a wrong tracking number's code is checked against, at the same cost: hashed when first needed, not at import.
_DUMMY_HASH: str | None = None
# What the staff side is told when someone else changed the report between its read and this write.
CHANGED = "该线索已被他人修改，请查看最新状态后再操作"
F = TypeVar("F", bound=Callable[..., Any])


class ReportChangedError(ConflictError):
    """Someone else changed the report between its read and this write (a stale version): each side words it
    for its own readers (the reporter's answers, app/reports/answers.py)."""


def one_at_a_time(action: F) -> F:
    """Two people acting on one report at once: the one whose write finds a newer version is told so."""

    @functools.wraps(action)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except StaleDataError:
            raise ReportChangedError(CHANGED) from None

    return wrapper  # type: ignore[return-value]


NOTE_MAX = 5000


def checked_text(value: str | None, field: str, *, required: bool = True, limit: int = NOTE_MAX) -> str | None:
    """A free text of a form, stripped; ValidationError on ``field`` when missing (if ``required``) or too long."""
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError(fields={field: ["此项必填"]})
        return None
    if len(text) > limit:
        raise ValidationError(fields={field: [f"不能超过 {limit} 个字"]})
    return text


@dataclasses.dataclass(frozen=True)
class AckDeadlines:
    """签收 deadlines (DOMAIN.md): ``QZBG_DEADLINE_ACK_URGENT`` hours for an urgent report, else
    ``QZBG_DEADLINE_ACK``."""

    urgent: dt.timedelta
    normal: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> AckDeadlines:
        return cls(urgent=dt.timedelta(hours=settings.deadline_ack_urgent),
                   normal=dt.timedelta(hours=settings.deadline_ack))

    def for_report(self, urgent: bool) -> dt.timedelta:
        return self.urgent if urgent else self.normal


@dataclasses.dataclass(frozen=True)
class Submission:
    report: Report
    created: bool


def _jsonable(section: dict[str, Any] | None) -> dict[str, Any] | None:
    if section is None:
        return None
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in section.items()}


def _victim_age(victim: dict[str, Any], discovered_at: dt.datetime) -> int | None:
    if victim.get("age") is not None:
        return int(victim["age"])
    born = birth_date(victim["id_number"]) if victim.get("id_number") else None
    return age_on(born, discovered_at.astimezone(CST).date()) if born else None


def _route_public(district_code: str | None) -> tuple[int | None, str | None]:
    """(office id, district) of a public report: the office covering the chosen district, else the default
    (``None``: the INSERT fills in the default office itself, ``Report.office_id``'s column default)."""
    if district_code is None:
        return None, None
    district = db.session.get(OfficeDistrict, district_code)
    if district is None:
        raise ValidationError(fields={"district_code": ["所选地区不在受理范围内，请重新选择或不选"]})
    return district.office_id, district.code


def submit(
    data: dict[str, Any],
    *,
    actor: Actor,
    client_key: str,
    now: dt.datetime,
    vault: Vault,
    ack_deadlines: AckDeadlines,
    reporter: Reporter | None = None,
    status_code: str | None = None,
) -> Submission:
    """Store a validated report with its categories and first timeline event, all in the caller's transaction.

    Idempotent on ``client_key``: a repeat returns the stored report and ``created=False``.
    The sealing and hashing come before the first statement, so that on SQLite the
    write lock (taken at the transaction's first statement) is not held through them.
    """
    report = _sealed_report(data, actor=actor, client_key=client_key, now=now, status_code=status_code, vault=vault,
                            ack_deadline=ack_deadlines.for_report(bool(data.get("urgent"))))

    existing_id = report_id_by_client_key(client_key)
    if existing_id is not None:
        return Submission(_stored(existing_id), created=False)

    unit = None
    if data.get("unit_id") is not None:
        unit = db.session.get(Unit, data["unit_id"])
        if unit is None or not unit.active:
            raise ValidationError(fields={"unit_id": ["所选单位不存在或已停用，请重新选择"]})
    report.reporter_id = reporter.id if reporter else None
    report.unit_id = unit.id if unit else None
    report.unit_type = unit.type if unit else None
    # Routing: the unit's office and district win; a public report goes to the office covering its district.
    if unit is not None:
        report.office_id, report.district_code = unit.office_id, unit.district_code
    else:
        office_id, report.district_code = _route_public(data.get("district_code"))
        if office_id is not None:
            report.office_id = office_id
    report.tracking_no = next_tracking_no(now)
    report.events.append(
        ReportEvent(at=now, seq=0, action=Action.SUBMIT, from_status=None, to_status=Status.NEW, actor=actor.label)
    )
    try:
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except IntegrityError:
        # The same client_key committed by a parallel request in between.
        existing_id = report_id_by_client_key(client_key)
        if existing_id is None:
            raise
        return Submission(_stored(existing_id), created=False)
    news.announce(news.News.NEW_REPORT, report, now)  # the prosecutors on duty hear of it
    if reporter is not None and unit is not None and reporter.unit_id != unit.id:
        reporter.unit_id = unit.id  # the unit the reporter files for, shown at their next login
    return Submission(report, created=True)


def _sealed_report(
    data: dict[str, Any], *, actor: Actor, client_key: str, now: dt.datetime, status_code: str | None, vault: Vault,
    ack_deadline: dt.timedelta,
) -> Report:
    """The new report with its sealed sections, blind indexes and 查询码 hash: CPU only, no statement."""
    victim = data["victim"]
    report = Report(
        id=uuid.uuid4(),
        client_key=client_key,
        channel=actor.channel,
        status=transition(None, Action.SUBMIT, actor.role),
        categories=list(data["categories"]),
        urgent=bool(data.get("urgent")),
        training=bool(data.get("training")),
        victim_gender=victim["gender"],
        victim_age_band=age_band(_victim_age(victim, data["incident"]["discovered_at"])),
        submitted_at=now,
        updated_at=now,
        acknowledge_due_at=now + ack_deadline,
        data_key=vault.new_data_key(),
    )
    # Stored exactly as submitted: a missing police section means "not stated", not "not notified".
    for name in SEALED_SECTIONS:
        report.seal(f"{name}_data", _jsonable(data.get(name)))
    if victim.get("id_number"):
        report.victim_id_bidx = vault.blind_index("victim.id_number", victim["id_number"])
    if victim.get("name") and normalise_name(victim["name"]):
        report.victim_name_bidx = vault.blind_index("victim.name", normalise_name(victim["name"]))
    report.reporter_phone_bidx = vault.blind_index("phone", data["reporter"]["phone"])
    if status_code is not None:
        report.status_code_hash = _hasher.hash(status_code)  # only the hash of the 查询码 is kept
    return report


def _stored(report_id: uuid.UUID) -> Report:
    report = db.session.get(Report, report_id)
    assert report is not None  # found by its client_key in this transaction
    return report


def change_status(
    report: Report, action: str, *, actor: Actor, now: dt.datetime, note: str | None = None
) -> ReportEvent:
    """Take one action of the state machine on a report, with its timeline event, in the caller's transaction.

    An action that leaves the status as it is (a note, a question) still makes an event and a new version. A
    change of the status the reporter sees queues a message to them. ``note`` is sealed on the event (internal:
    never shown to the reporter or the police). Two actors on one report: the second flush finds a stale
    version -> ConflictError.
    """
    try:
        with db.session.no_autoflush:  # no write before every change is in place: one flush, below
            before = REPORTER_STATUS[report.status]
            target = transition(report.status, action, actor.role)
            event = ReportEvent(
                id=uuid.uuid4(), at=now, seq=len(report.events), action=action, from_status=report.status,
                to_status=target, actor=actor.label,
            )
            report.status = target
            report.updated_at = now
            report.events.append(event)  # also sets event.report, whose data key seals the note
            if note:
                event.seal("note_data", note)
            # A practice report never reaches a real channel; the sandbox channel (QZBG_TRAINING) is the notify
            # package's to route to.
            if REPORTER_STATUS[target] != before and not report.training:
                news.announce(news.News.STATUS_CHANGED, report, now)
        db.session.flush()
    except StaleDataError:
        raise ReportChangedError("该线索已被他人修改，请刷新后重试") from None
    if (event.from_status == Status.CLOSED) != (target == Status.CLOSED):
        # After the report's own UPDATE: a transaction locks the report row, then its office's counter row.
        _count_closed(report.office_id, 1 if target == Status.CLOSED else -1)
    return event


def _count_closed(office_id: int | None, delta: int) -> None:
    """Add ``delta`` to the office's closed reports (``ClosedReportCount``), in the caller's transaction."""
    if office_id is None:
        return
    dialect = db.session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = upsert(ClosedReportCount).values(office_id=office_id, closed=delta)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[ClosedReportCount.office_id], set_={"closed": ClosedReportCount.closed + delta},
    ))


def recount_closed() -> None:
    """Count every office's closed reports afresh (after rows were loaded around ``change_status``, as the
    bench does), in the caller's transaction."""
    db.session.execute(delete(ClosedReportCount))
    counted = (select(Report.office_id, func.count()).where(Report.status == Status.CLOSED.value,
                                                             Report.office_id.is_not(None))
               .group_by(Report.office_id))
    db.session.execute(insert(ClosedReportCount).from_select(["office_id", "closed"], counted))


def make_status_code() -> str:
    """A fresh 查询码 (about 50 bits); the report keeps only its argon2 hash."""
    return "".join(secrets.choice(STATUS_CODE_ALPHABET) for _ in range(STATUS_CODE_LENGTH))


def find_by_status_code(tracking_no: str, status_code: str) -> Report | None:
    """The report whose tracking number and 查询码 both match; constant work when either is wrong.

    A tracking number not of the form ``QZBG-YYYY-NNNNNN`` never reaches the query."""
    well_formed = TRACKING_NO_SHAPE.fullmatch(tracking_no) is not None
    report = (
        db.session.scalars(select(Report).where(Report.tracking_no == tracking_no)).one_or_none()
        if well_formed else None
    )
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash("qzbg-dummy-status-code")
    stored = report.status_code_hash if report is not None and report.status_code_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, status_code.strip().upper())
    except (VerificationError, InvalidHashError):
        report = None
    if report is None or not report.status_code_hash:
        # Neither the number nor the code typed is logged: only that a look-up failed, and from where.
        security_event("security.lookup_failed", reason="no_match" if well_formed else "malformed_tracking_no")
        return None
    return report
