"""Scheduled notifications: escalation of urgent reports, reminders of police deadlines, the daily digest.

Each is a plain function of ``now`` that only flushes, in the caller's transaction. The scheduled jobs
(``flask notify worker`` / ``run-once``) run the batched forms (``*_batches``: generators of at most ``BATCH``
items per step, which the scheduler commits one by one; app/core/scheduler.py), so a long backlog never holds one
transaction. Each is idempotent: what it sent is kept in ``notify_steps`` under a key, so running it again (a
second worker, a retry, a run every minute, a run that stopped between batches) never sends the same step twice.

- ``run_escalation``: an urgent report still unacknowledged ``QZBG_URGENT_ESCALATION_MINUTES`` (30) after it
  was submitted goes to the office's leads on every channel, and again each time that much more time passes
  (step 1 at 30 minutes, step 2 at 60 ...), until someone acknowledges it. A run that missed steps (the worker
  was down) sends only the latest one.
- ``run_overdue_reminders``: an open transfer past its police receipt or police feedback deadline, once per
  deadline, to the assigned prosecutor (else the leads).
- ``run_daily_digest``: once per China Standard Time day, to each active prosecutor and lead with something
  waiting: counts only (unacknowledged in the office, their open reports, overdue).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, func, or_, select

from app.auth.models import StaffUser
from app.extensions import db
from app.notify import routing
from app.notify.models import NotifyStep
from app.notify.service import Kind, Outbound, enqueue
from app.reports.models import Report
from app.reports.records import Transfer
from app.reports.states import Status

CST = dt.timezone(dt.timedelta(hours=8))
BATCH = 200  # reports or transfers a scheduled job handles per transaction


def _pages(stmt: Any, created: Any, row_id: Any, batch: int) -> Iterator[list[Any]]:
    """``stmt``'s rows in (time, id) order, ``batch`` at a time (keyset paging; the last page is short, maybe
    empty). The next page's start is read before a page is handed out: the caller's commit expires its rows."""
    ordered = stmt.order_by(created, row_id).limit(batch)
    cursor: tuple[dt.datetime, uuid.UUID] | None = None
    while True:
        page = ordered if cursor is None else ordered.where(
            or_(created > cursor[0], and_(created == cursor[0], row_id > cursor[1])))
        rows = list(db.session.scalars(page).unique().all())
        if rows:
            cursor = (getattr(rows[-1], created.key), getattr(rows[-1], row_id.key))
        yield rows
        if len(rows) < batch:
            return


def _not_training() -> list[object]:
    training = getattr(Report, "training", None)
    return [training.is_(False)] if training is not None else []


def _first_time(key: str, report_id: object, now: dt.datetime) -> bool:
    """Claim ``key``; False when it was sent already."""
    if db.session.get(NotifyStep, key) is not None:
        return False
    db.session.add(NotifyStep(key=key, report_id=report_id, created_at=now))
    db.session.flush()
    return True


def escalation_batches(
    now: dt.datetime, *, urgent_escalation_minutes: int, outbound: Outbound, batch: int = BATCH
) -> Iterator[int]:
    """Escalate every urgent report nobody acknowledged in ``urgent_escalation_minutes`` (and again each time as
    long), ``batch`` reports at a time, oldest first; yields how many steps each batch sent."""
    interval = dt.timedelta(minutes=urgent_escalation_minutes)
    due = select(Report).where(
        Report.urgent.is_(True), Report.status == Status.NEW.value, Report.acknowledged_at.is_(None),
        Report.submitted_at <= now - interval,
    )
    for reports in _pages(due, Report.submitted_at, Report.id, batch):
        sent = 0
        for report in reports:
            waited = now - report.submitted_at
            step = int(waited / interval)
            if _first_time(f"escalation:{report.id}:{step}", report.id, now):
                enqueue(Kind.URGENT_ESCALATION, outbound=outbound, report=report, now=now, step=step,
                        minutes=int(waited.total_seconds() // 60))
                sent += 1
        yield sent


def run_escalation(now: dt.datetime, *, urgent_escalation_minutes: int, outbound: Outbound) -> int:
    """Every escalation due at ``now`` in the caller's transaction; returns how many steps were sent."""
    return sum(escalation_batches(now, urgent_escalation_minutes=urgent_escalation_minutes, outbound=outbound))


def overdue_reminder_batches(now: dt.datetime, *, outbound: Outbound, batch: int = BATCH) -> Iterator[int]:
    """Remind the assigned prosecutor of each police deadline passed, ``batch`` transfers at a time; yields how
    many reminders each batch sent. A practice report's deadlines remind nobody unless this is a training
    deployment (``outbound.training``)."""
    kinds = (
        ("police_receipt", Kind.POLICE_RECEIPT_OVERDUE,
         and_(Transfer.acknowledged_at.is_(None), Transfer.receipt_due_at <= now)),
        ("police_feedback", Kind.POLICE_FEEDBACK_OVERDUE,
         and_(Transfer.feedback_at.is_(None), Transfer.feedback_due_at <= now)),
    )
    for name, kind, condition in kinds:
        due = select(Transfer).where(Transfer.state == "open", condition)
        for transfers in _pages(due, Transfer.created_at, Transfer.id, batch):
            sent = 0
            for transfer in transfers:
                report = db.session.get(Report, transfer.report_id)
                if report is None or getattr(report, "training", False) and not outbound.training:
                    continue
                if _first_time(f"overdue:{name}:{transfer.id}", report.id, now):
                    enqueue(kind, outbound=outbound, report=report, now=now, transfer=transfer)
                    sent += 1
            yield sent


def run_overdue_reminders(now: dt.datetime, *, outbound: Outbound) -> int:
    """Every police-deadline reminder due at ``now`` in the caller's transaction; returns how many were sent."""
    return sum(overdue_reminder_batches(now, outbound=outbound))


def _count(*where: object) -> int:
    return int(db.session.scalar(select(func.count()).select_from(Report).where(*where)) or 0)  # type: ignore[arg-type]


def run_daily_digest(now: dt.datetime, *, outbound: Outbound) -> int:
    """Each prosecutor's and lead's counts of what waits, once per CST day; returns how many were queued."""
    from app.reports.overdue import overdue_condition

    day = now.astimezone(CST).date().isoformat()
    sent = 0
    staff = select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(routing.REVIEWERS)) \
        .order_by(StaffUser.office_id, StaffUser.username)
    for user in db.session.scalars(staff).unique().all():
        office = [Report.office_id == user.office_id, *_not_training()]
        counts = [
            ("unacknowledged", _count(*office, Report.status == Status.NEW.value)),
            ("assigned", _count(*office, Report.assignee_id == user.id, Report.status != Status.CLOSED.value)),
            ("overdue", _count(*office, or_(Report.assignee_id == user.id, Report.assignee_id.is_(None)),
                               overdue_condition(now))),
        ]
        if not any(number for _, number in counts):
            continue
        if _first_time(f"digest:{user.id}:{day}", None, now):
            enqueue(Kind.DAILY_DIGEST, outbound=outbound, now=now, recipients=[routing.Recipient(user)],
                    office_id=user.office_id, counts=counts)
            sent += 1
    return sent
