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


LEASE = dt.timedelta(minutes=5)


def release_before_io() -> None:
    """Channels call this after their reads and before network I/O: no transaction (on SQLite,
    no write lock) is held while a provider is slow."""
    db.session.commit()


def _claim(now: dt.datetime) -> tuple[uuid.UUID, int, dt.datetime] | None:
    """Take one due message: count the attempt and lease it, in a short transaction of its own.

    Returns (id, attempts, lease end), the proof of ownership ``_record`` checks. A message
    that used up its attempts without an outcome (its worker died each time) is marked dead.
    """
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
               OutboxMessage.channel.in_(list(CHANNELS)))
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    while True:
        message = db.session.scalars(stmt).one_or_none()
        if message is None:
            db.session.rollback()
            return None
        if message.attempts < MAX_ATTEMPTS:
            break
        message.state, message.last_error = "dead", message.last_error or "no_outcome"
        db.session.commit()
    message.attempts += 1
    message.next_attempt_at = lease = now + LEASE  # no other worker takes it while this one sends
    claim = (message.id, message.attempts, lease)
    db.session.commit()
    return claim


def _record(message: OutboxMessage, outcome: str, code: str | None, now: dt.datetime) -> str:
    message.last_error = code[:80] if code else None
    if outcome == "sent":
        message.state, message.sent_at = "sent", now
    elif outcome == "dead" or message.attempts >= MAX_ATTEMPTS:
        message.state = "dead"
    else:
        message.state, message.next_attempt_at = "pending", now + _backoff(message.attempts)
    return "retry" if message.state == "pending" else message.state


def deliver_due(*, now: dt.datetime, limit: int = 100) -> dict[str, int]:
    """Send what is due, one message at a time; returns counts by outcome.

    ``now`` is when the run starts; each claim uses the clock as it moves on from
    there, so a long run never hands out leases that have already run out. A
    channel failing in an unexpected way counts as a temporary failure of that
    message only: the others still go out.
    """
    counts = {"sent": 0, "retry": 0, "dead": 0}
    offset = now - dt.datetime.now(dt.UTC)
    for _ in range(limit):
        claim = _claim(dt.datetime.now(dt.UTC) + offset)
        if claim is None:
            break
        message_id, attempts, lease = claim
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        outcome, code = "sent", None
        try:
            CHANNELS[message.channel](message, now)
        except Retry as exc:
            outcome, code = "retry", exc.code
        except GiveUp as exc:
            outcome, code = "dead", exc.code
        except Exception as exc:  # noqa: BLE001 - one broken message must not stop the queue
            log.error("outbox_channel_failed", extra={"channel": message.channel, "exception": type(exc).__name__})
            outcome, code = "retry", type(exc).__name__
            db.session.rollback()  # whatever the channel half-did
        finished = dt.datetime.now(dt.UTC) + offset
        if not _still_ours(message_id, attempts, lease):
            log.error("outbox_lease_lost", extra={"channel": message.channel})
            db.session.rollback()
            continue
        message = db.session.get(OutboxMessage, message_id)
        assert message is not None
        result = _record(message, outcome, code, finished)
        counts[result] += 1
        log.info("outbox_delivery", extra={"channel": message.channel, "state": message.state,
                                           "attempts": message.attempts, "error": message.last_error})
        db.session.commit()
    return counts


def _still_ours(message_id: uuid.UUID, attempts: int, lease: dt.datetime) -> bool:
    """The row still carries this worker's claim (no other worker took it after the lease ran out)."""
    stmt = select(OutboxMessage.attempts, OutboxMessage.next_attempt_at, OutboxMessage.state).where(
        OutboxMessage.id == message_id
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = db.session.execute(stmt).one_or_none()
    return row is not None and row[0] == attempts and row[1] == lease and row[2] == "pending"
