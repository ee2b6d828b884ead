"""Queue notifications with the change they announce; deliver them later, outside any request.

Channels register a ``deliver(message, now)`` function that raises ``Retry`` for
a temporary failure and ``GiveUp`` for a permanent one. ``deliver_due`` claims due
messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never send
one message twice), one transaction per message.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.notify.models import OutboxMessage

log = logging.getLogger("qzbg.notify")
MAX_ATTEMPTS = 6
Deliver = Callable[[OutboxMessage, dt.datetime], None]
CHANNELS: dict[str, Deliver] = {}


class Retry(Exception):
    """Try again later (provider down, rate limited)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class GiveUp(Exception):
    """Never going to work (no grant, bad data): the message is dead."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def register_channel(name: str, deliver: Deliver) -> None:
    CHANNELS[name] = deliver


def enqueue(
    channel: str, kind: str, *, now: dt.datetime, payload: dict[str, Any],
    report_id: uuid.UUID | None = None, reporter_id: uuid.UUID | None = None,
) -> OutboxMessage:
    """Add a message to the caller's transaction."""
    message = OutboxMessage(
        id=uuid.uuid4(), channel=channel, kind=kind, payload=payload, report_id=report_id,
        reporter_id=reporter_id, next_attempt_at=now, created_at=now,
    )
    db.session.add(message)
    return message


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))


def deliver_due(*, now: dt.datetime, limit: int = 100) -> dict[str, int]:
    """Send what is due; returns counts by outcome."""
    counts = {"sent": 0, "retry": 0, "dead": 0}
    for _ in range(limit):
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
                   OutboxMessage.channel.in_(list(CHANNELS)))
            .order_by(OutboxMessage.next_attempt_at)
            .limit(1)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        message = db.session.scalars(stmt).one_or_none()
        if message is None:
            break
        message.attempts += 1
        try:
            CHANNELS[message.channel](message, now)
        except Retry as exc:
            message.last_error = exc.code[:80]
            if message.attempts >= MAX_ATTEMPTS:
                message.state = "dead"
                counts["dead"] += 1
            else:
                message.next_attempt_at = now + _backoff(message.attempts)
                counts["retry"] += 1
        except GiveUp as exc:
            message.last_error = exc.code[:80]
            message.state = "dead"
            counts["dead"] += 1
        else:
            message.state = "sent"
            message.sent_at = now
            counts["sent"] += 1
        log.info("outbox_delivery", extra={"channel": message.channel, "state": message.state,
                                           "attempts": message.attempts, "error": message.last_error})
        db.session.commit()
    return counts
