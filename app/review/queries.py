"""Reads for the review pages, always scoped to the actor's office (and, for police, to their unit)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.auth.actor import Actor
from app.extensions import db
from app.reports.models import Report
from app.reports.states import Status

PAGE = 50


def visible(actor: Actor) -> Any:
    """The reports ``actor`` may see at all: their office's; police only what was transferred to their unit
    (transfers come with the review workflow, so police see none yet)."""
    stmt = select(Report).where(Report.office_id == actor.office_id)
    if actor.role == "police":
        stmt = stmt.where(Report.id.is_(None))
    return stmt


def status_counts(actor: Actor) -> dict[str, int]:
    base = visible(actor).with_only_columns(Report.status, func.count()).group_by(Report.status)
    counts = {status.value: 0 for status in Status}
    counts.update({status: int(n) for status, n in db.session.execute(base)})
    return counts


def inbox(actor: Actor, *, status: str | None) -> list[Report]:
    stmt = visible(actor)
    if status in {s.value for s in Status}:
        stmt = stmt.where(Report.status == status)
    stmt = stmt.order_by(Report.urgent.desc(), Report.submitted_at.desc(), Report.id.desc()).limit(PAGE)
    return list(db.session.scalars(stmt))
