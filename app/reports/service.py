"""Report actions. Each takes explicit arguments, flushes, and leaves the commit to its caller."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.crypto.vault import get_vault
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.reporters.models import Reporter
from app.reports.constants import REPORTER_STATUS, REPORTER_STATUS_LABELS, age_band
from app.reports.idcard import age_on, birth_date
from app.reports.models import SEALED_SECTIONS, Report, ReportEvent
from app.reports.states import transition
from app.reports.tracking import CST, next_tracking_no
from app.units.models import Unit

ACK_DEADLINE_URGENT = dt.timedelta(hours=1)
ACK_DEADLINE = dt.timedelta(hours=24)
# 查询码: 10 characters without look-alikes (no 0/O, 1/I/L), about 50 bits.
STATUS_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
STATUS_CODE_LENGTH = 10
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("qzbg-dummy-status-code")


@dataclasses.dataclass(frozen=True)
class Submission:
    report: Report
    created: bool
    status_code: str | None = None  # only for a new web report


def _jsonable(section: dict[str, Any] | None) -> dict[str, Any] | None:
    if section is None:
        return None
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in section.items()}


def _victim_age(victim: dict[str, Any], discovered_at: dt.datetime) -> int | None:
    if victim.get("age") is not None:
        return int(victim["age"])
    born = birth_date(victim["id_number"]) if victim.get("id_number") else None
    return age_on(born, discovered_at.astimezone(CST).date()) if born else None


# Called with (report, now) inside every change of the status a reporter sees; the WeChat
# subscribe channel registers itself here (app.wechat.init_app).
REPORTER_STATUS_LISTENERS: list[Callable[[Report, dt.datetime], object]] = []


def find_by_client_key(client_key: str) -> Report | None:
    return db.session.scalars(select(Report).where(Report.client_key == client_key)).one_or_none()


def submit(
    data: dict[str, Any],
    *,
    channel: str,
    client_key: str,
    now: dt.datetime,
    reporter: Reporter | None = None,
    with_status_code: bool = False,
) -> Submission:
    """Store a validated report with its first timeline event, all in the caller's transaction.

    Idempotent on ``client_key``: a repeat returns the stored report and ``created=False``.
    """
    existing = find_by_client_key(client_key)
    if existing is not None:
        return Submission(existing, created=False)

    unit = None
    if data.get("unit_id") is not None:
        unit = db.session.get(Unit, data["unit_id"])
        if unit is None or not unit.active:
            raise ValidationError(fields={"unit_id": ["所选单位不存在或已停用，请重新选择"]})

    vault = get_vault()
    victim = data["victim"]
    report = Report(
        id=uuid.uuid4(),
        client_key=client_key,
        reporter_id=reporter.id if reporter else None,
        channel=channel,
        status="new",
        categories=list(data["categories"]),
        urgent=bool(data.get("urgent")),
        unit_id=unit.id if unit else None,
        unit_type=unit.type if unit else None,
        district_code=unit.district_code if unit else None,
        victim_gender=victim["gender"],
        victim_age_band=age_band(_victim_age(victim, data["incident"]["discovered_at"])),
        submitted_at=now,
        updated_at=now,
        acknowledge_due_at=now + (ACK_DEADLINE_URGENT if data.get("urgent") else ACK_DEADLINE),
        data_key=vault.new_data_key(),
    )
    # Stored exactly as submitted: a missing police section means "not stated", not "not notified".
    sections = {name: data.get(name) for name in SEALED_SECTIONS}
    for name in SEALED_SECTIONS:
        report.seal(f"{name}_data", _jsonable(sections[name]))
    if victim.get("id_number"):
        report.victim_id_bidx = vault.blind_index("victim.id_number", victim["id_number"])
    report.reporter_phone_bidx = vault.blind_index("phone", data["reporter"]["phone"])
    status_code = new_status_code(report) if with_status_code else None
    report.tracking_no = next_tracking_no(now)
    report.events.append(
        ReportEvent(at=now, seq=0, action="submit", from_status=None, to_status="new", actor=f"channel:{channel}")
    )
    try:
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except IntegrityError:
        # The same client_key committed by a parallel request in between.
        existing = find_by_client_key(client_key)
        if existing is None:
            raise
        return Submission(existing, created=False)
    if reporter is not None and unit is not None:
        reporter.unit_id = unit.id  # the unit the reporter files for, shown at their next login
    return Submission(report, created=True, status_code=status_code)


def change_status(report: Report, action: str, *, actor: str, now: dt.datetime) -> ReportEvent:
    """Move a report through the state machine, with its timeline event, in the caller's transaction.

    A reporter-visible change notifies the listeners (subscribe messages). Two
    actors on one report: the second flush finds a stale version -> ConflictError.
    """
    before = reporter_status(report)
    target = transition(report.status, action)
    event = ReportEvent(
        at=now, seq=len(report.events), action=action, from_status=report.status, to_status=target, actor=actor
    )
    report.status = target
    report.updated_at = now
    report.events.append(event)
    if REPORTER_STATUS[target] != before:
        for listener in REPORTER_STATUS_LISTENERS:
            listener(report, now)
    try:
        db.session.flush()
    except StaleDataError:
        raise ConflictError("该线索已被他人修改，请刷新后重试") from None
    return event


def new_status_code(report: Report) -> str:
    """A fresh 查询码 for ``report``; only its argon2 hash is kept."""
    status_code = "".join(secrets.choice(STATUS_CODE_ALPHABET) for _ in range(STATUS_CODE_LENGTH))
    report.status_code_hash = _hasher.hash(status_code)
    return status_code


def reissue_status_code(report: Report) -> str:
    """Replace the 查询码 of a web report (the old one stops working)."""
    status_code = new_status_code(report)
    db.session.flush()
    return status_code


def reporter_report(reporter: Reporter, report_id: uuid.UUID) -> Report:
    """The reporter's own report; anyone else's is not found (not forbidden: no existence leak)."""
    report = db.session.get(Report, report_id)
    if report is None or report.reporter_id != reporter.id:
        raise NotFoundError("找不到该报告")
    return report


def find_by_status_code(tracking_no: str, status_code: str) -> Report | None:
    """The report whose tracking number and 查询码 both match; constant work when either is wrong."""
    report = db.session.scalars(select(Report).where(Report.tracking_no == tracking_no)).one_or_none()
    stored = report.status_code_hash if report is not None and report.status_code_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, status_code.strip().upper())
    except (VerificationError, InvalidHashError):
        return None
    return report if report is not None and report.status_code_hash else None


def reporter_status(report: Report) -> str:
    return REPORTER_STATUS[report.status]


def reporter_timeline(report: Report) -> list[dict[str, Any]]:
    """Status steps as the reporter sees them: one entry per change of reporter-visible status."""
    timeline: list[dict[str, Any]] = []
    for event in report.events:
        shown = REPORTER_STATUS[event.to_status]
        if timeline and timeline[-1]["status"] == shown:
            continue
        timeline.append({"at": event.at, "status": shown, "label": REPORTER_STATUS_LABELS[shown]})
    return timeline


def reporter_view_summary(report: Report) -> dict[str, Any]:
    status = reporter_status(report)
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": status,
        "status_label": REPORTER_STATUS_LABELS[status],
        "submitted_at": report.submitted_at,
        "updated_at": report.updated_at,
    }


def reporter_view(report: Report) -> dict[str, Any]:
    """What the reporter submitted, its status and timeline; no internal notes or police detail."""
    return {
        **reporter_view_summary(report),
        "categories": report.categories,
        "urgent": report.urgent,
        "unit_id": report.unit_id,
        **{name: report.section(name) for name in SEALED_SECTIONS},
        "attachments": [
            {"id": a.id, "filename": a.unseal("filename_data"), "size": a.size, "content_type": a.content_type}
            for a in report.attachments
        ],
        "timeline": reporter_timeline(report),
    }
