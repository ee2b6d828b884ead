"""Who may see a report on the staff side: the one access rule, used by every staff page, action and query.

The office's prosecutors and leads see the office's reports. Police see a report only while it has an open
transfer to their unit, and of it only what that transfer shares (the reporter's identity when
``share_reporter``). Anyone else, and anything of another office, is not found (never "forbidden": a probe
learns nothing).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.core.actor import Actor
from app.errors import NotFoundError
from app.extensions import db
from app.reports.models import Report
from app.reports.records import Transfer
from app.reports.states import PROSECUTORS

NOT_FOUND = "找不到该线索"


def open_transfer(report: Report) -> Transfer | None:
    """The report's transfer that is still open (at most one), if any."""
    return db.session.scalars(
        select(Transfer).where(Transfer.report_id == report.id, Transfer.state == "open")
        .order_by(Transfer.created_at.desc())
    ).first()


def scope(report: Report, actor: Actor) -> Transfer | None:
    """The report's open transfer, after checking it is within ``actor``'s reach: own office; police only with
    an open transfer to their unit. NotFoundError otherwise. (Which actions a role may take is the state
    machine's answer, not this one's.)"""
    if report.office_id != actor.office_id:
        raise NotFoundError(NOT_FOUND)
    transfer = open_transfer(report)
    if actor.role == "police" and (transfer is None or transfer.police_unit_id != actor.police_unit_id):
        raise NotFoundError(NOT_FOUND)
    return transfer


def visible_report(report_id: uuid.UUID, actor: Actor) -> tuple[Report, Transfer | None]:
    """(the report, its open transfer) as ``actor`` may see it on a staff page; NotFoundError for a report out
    of reach or a role without case pages."""
    report = db.session.get(Report, report_id)
    if report is None or (actor.role not in PROSECUTORS and actor.role != "police"):
        raise NotFoundError(NOT_FOUND)
    return report, scope(report, actor)


def shows_reporter(actor: Actor, transfer: Transfer | None) -> bool:
    """Whether the page may show the reporter's identity: the office always (masked until revealed), police
    only when the transfer shares it."""
    return actor.role != "police" or (transfer is not None and transfer.share_reporter)
