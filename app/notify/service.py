"""Queue notifications with the change they announce, in the caller's transaction.

Services call ``enqueue(kind, ...)`` explicitly for each consequence of an
action; this module decides which channels and recipients a kind goes to and
adds one outbox row per message. Nothing is sent here: the worker
(``app.notify.worker``) delivers later, outside any request.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import TYPE_CHECKING, Any

from app.extensions import db
from app.notify.models import OutboxMessage

if TYPE_CHECKING:
    from app.reports.models import Report


class Kind(enum.StrEnum):
    REPORTER_STATUS_CHANGED = "status_changed"  # the status a reporter sees changed


def enqueue(kind: Kind, *, report: Report, now: dt.datetime) -> list[OutboxMessage]:
    """Queue the messages ``kind`` of event on ``report`` calls for; returns them (maybe none)."""
    messages: list[OutboxMessage] = []
    if kind is Kind.REPORTER_STATUS_CHANGED:
        from app.wechat import subscribe

        payload = subscribe.status_payload(report, now)
        if payload is not None:
            messages.append(queue(subscribe.CHANNEL, kind, now=now, payload=payload, report_id=report.id,
                                  reporter_id=report.reporter_id))
    return messages


def queue(
    channel: str, kind: str, *, now: dt.datetime, payload: dict[str, Any],
    report_id: uuid.UUID | None = None, reporter_id: uuid.UUID | None = None,
) -> OutboxMessage:
    """Add one message for one channel to the caller's transaction."""
    message = OutboxMessage(
        id=uuid.uuid4(), channel=channel, kind=str(kind), payload=payload, report_id=report_id,
        reporter_id=reporter_id, next_attempt_at=now, created_at=now,
    )
    db.session.add(message)
    return message
