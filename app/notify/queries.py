"""Reads for the notification pages: the roster, the unreachable recipients, the sandbox."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db
from app.notify.channels import NONE
from app.notify.models import DutyShift, OutboxMessage, SandboxMessage
from app.notify.routing import REVIEWERS, reachable

UNREACHABLE_SHOWN = 200


def shifts(office_id: int) -> list[DutyShift]:
    stmt = select(DutyShift).join(StaffUser, StaffUser.id == DutyShift.user_id) \
        .where(DutyShift.office_id == office_id).order_by(StaffUser.username, DutyShift.start_minute)
    return list(db.session.scalars(stmt).unique())


def reviewers(office_id: int) -> list[StaffUser]:
    stmt = select(StaffUser).where(StaffUser.office_id == office_id, StaffUser.role.in_(REVIEWERS),
                                   StaffUser.active.is_(True)).order_by(StaffUser.username)
    return list(db.session.scalars(stmt).unique())


def without_channel(office_id: int, live: list[str]) -> list[StaffUser]:
    """The office's active prosecutors, leads and police users whom no channel of ``live`` reaches (no address
    for any of them): each message to them would reach nobody, so the page names them before one does."""
    stmt = select(StaffUser).where(StaffUser.office_id == office_id, StaffUser.role.in_([*REVIEWERS, "police"]),
                                   StaffUser.active.is_(True)).order_by(StaffUser.username)
    return [user for user in db.session.scalars(stmt).unique() if not reachable(user, live)]


@dataclasses.dataclass(frozen=True)
class Unreachable:
    at: dt.datetime
    kind: str
    reason: str
    tracking_no: str | None
    user: StaffUser | None


def unreachable(office_id: int) -> list[Unreachable]:
    """The office's latest messages that reached nobody (channel ``none``), newest first."""
    from app.reports.models import Report

    rows = db.session.execute(
        select(OutboxMessage, Report.tracking_no).outerjoin(Report, Report.id == OutboxMessage.report_id)
        .where(OutboxMessage.channel == NONE).order_by(OutboxMessage.created_at.desc()).limit(UNREACHABLE_SHOWN)
    ).all()
    mine = [(m, no) for m, no in rows if m.payload.get("office_id") == office_id]
    ids = {_uuid(m.payload.get("user_id")) for m, _ in mine} - {None}
    users = {u.id: u for u in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(ids))).unique()} \
        if ids else {}
    return [Unreachable(m.created_at, m.kind, str(m.payload.get("reason") or m.last_error), no,
                        users.get(_uuid(m.payload.get("user_id")) or uuid.UUID(int=0))) for m, no in mine]


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def sandbox(office_id: int, limit: int = 200) -> list[SandboxMessage]:
    stmt = select(SandboxMessage).where(SandboxMessage.office_id == office_id) \
        .order_by(SandboxMessage.created_at.desc()).limit(limit)
    return list(db.session.scalars(stmt))
