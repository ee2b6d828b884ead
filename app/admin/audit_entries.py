"""Reads of the audit log for the admin page: one office's entries, filtered, newest first, keyset-paged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth.models import StaffUser
from app.extensions import db

PAGE = 100
CST = dt.timezone(dt.timedelta(hours=8))


@dataclasses.dataclass(frozen=True)
class Page:
    entries: list[AuditEntry]
    names: dict[uuid.UUID, str]  # actor id -> username
    next_before: int | None


def _day_start(value: str) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=CST)


def office_entries(office_id: int | None, filters: dict[str, Any]) -> Page:
    """Entries of ``office_id``; filters (all optional strings): actor (username), action, target, from, to (dates
    in CST), before (an entry number, the cursor)."""
    stmt = select(AuditEntry).where(AuditEntry.office_id == office_id)
    if filters.get("actor"):
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == filters["actor"].lower())).first()
        stmt = stmt.where(AuditEntry.actor_id == (user.id if user else uuid.UUID(int=0)))
    if filters.get("action"):
        stmt = stmt.where(AuditEntry.action == filters["action"])
    if filters.get("target"):
        stmt = stmt.where(AuditEntry.target_id == filters["target"])
    start, end = _day_start(filters.get("from") or ""), _day_start(filters.get("to") or "")
    if start:
        stmt = stmt.where(AuditEntry.at >= start)
    if end:
        stmt = stmt.where(AuditEntry.at < end + dt.timedelta(days=1))
    if str(filters.get("before") or "").isdigit() and len(str(filters["before"])) <= 18:  # fits a BIGINT
        stmt = stmt.where(AuditEntry.seq < int(filters["before"]))
    entries = list(db.session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(PAGE + 1)))
    page = entries[:PAGE]
    actor_ids = {e.actor_id for e in page if e.actor_id}
    names = ({u.id: u.username for u in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(actor_ids)))}
             if actor_ids else {})
    return Page(page, names, page[-1].seq if len(entries) > PAGE else None)
