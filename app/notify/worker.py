"""Deliver the outbox: claim a batch, prepare it, send without a transaction, record the outcomes.

Per batch there are two short transactions: one claims up to ``batch`` due
messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never
take one message; each claim counts an attempt and sets a lease) and prepares
them; the other records every outcome, each only while this worker still holds
that message's lease. Delivery is at least once: a worker that dies between a
send and its record leaves the message to be sent again when the lease runs out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.core.db import unit_of_work
from app.extensions import db
from app.notify.channels import Channel, GiveUp, Retry, channels
from app.notify.models import OutboxMessage

log = logging.getLogger("qzbg.notify")
MAX_ATTEMPTS = 6
LEASE = dt.timedelta(minutes=5)


@dataclasses.dataclass
class _Claim:
    id: uuid.UUID
    channel: str
    attempts: int
    lease: dt.datetime
    prepared: Any = None
    outcome: str = "sent"
    code: str | None = None


def backoff(attempts: int) -> dt.timedelta:
    """Exponential back-off with jitter: about 30 s, 1, 2, 4 ... minutes, at most an hour."""
    base = min(3600.0, 30.0 * 2 ** (attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


def _claim_batch(now: dt.datetime, known: dict[str, Channel], batch: int) -> list[_Claim]:
    """Lease up to ``batch`` due messages and prepare them, in one transaction."""
    claims: list[_Claim] = []
    with unit_of_work():
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
                   OutboxMessage.channel.in_(list(known)))
            .order_by(OutboxMessage.next_attempt_at)
            .limit(batch)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        messages = list(db.session.scalars(stmt))
        recipients = _recipients(messages)  # held here: the session's identity map keeps them only while used
        for message in messages:
            if message.attempts >= MAX_ATTEMPTS:
                # Used up its attempts without an outcome (its worker died each time).
                message.state, message.last_error = "dead", message.last_error or "no_outcome"
                continue
            message.attempts += 1
            message.next_attempt_at = now + LEASE  # no other worker takes it while this one sends
            claim = _Claim(message.id, message.channel, message.attempts, message.next_attempt_at)
            try:
                with db.session.no_autoflush:  # the leases are written once, at COMMIT, not before each read
                    claim.prepared = known[message.channel].prepare(message)
            except GiveUp as exc:
                claim.outcome, claim.code = "dead", exc.code
            except Exception as exc:  # noqa: BLE001 - one broken message must not stop the queue
                # Its attempt is counted (and leased) with the others: it backs off, then ends dead.
                log.error("outbox_prepare_failed", extra={"channel": message.channel,
                                                          "exception": type(exc).__name__})
                claim.outcome, claim.code = "retry", type(exc).__name__
            claims.append(claim)
        del recipients
    return claims


def _recipients(messages: list[OutboxMessage]) -> list[Any]:
    """The batch's reports and reporters in two statements, so that the channels' ``prepare`` finds them
    in the session (``db.session.get``) instead of reading them one message at a time."""
    from app.reporters.models import Reporter
    from app.reports.models import Report

    loaded: list[Any] = []
    for model, ids in ((Report, {m.report_id for m in messages}), (Reporter, {m.reporter_id for m in messages})):
        ids.discard(None)
        if ids:
            loaded += db.session.scalars(select(model).where(model.id.in_(ids))).unique().all()
    return loaded


SEND_THREADS = 4  # messages of a batch in flight at once (providers answer in milliseconds to seconds)


def _send_all(claims: list[_Claim], known: dict[str, Channel]) -> None:
    """Send a batch's messages a few at a time: sending is network I/O, and no transaction is open. Each thread
    has an app context of its own (and so its own database session for a token look-up)."""
    due = [c for c in claims if c.outcome == "sent"]
    if len(due) <= 1:
        for claim in due:
            _send(claim, known[claim.channel])
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def send_one(claim: _Claim) -> None:
        with app.app_context():
            try:
                _send(claim, known[claim.channel])
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(due)), thread_name_prefix="outbox-send") as pool:
        list(pool.map(send_one, due))


def _send(claim: _Claim, channel: Channel) -> None:
    if claim.outcome != "sent":
        return
    try:
        channel.send(claim.prepared)
    except Retry as exc:
        claim.outcome, claim.code = "retry", exc.code
    except GiveUp as exc:
        claim.outcome, claim.code = "dead", exc.code
    except Exception as exc:  # noqa: BLE001 - one broken message must not stop the queue
        log.error("outbox_channel_failed", extra={"channel": claim.channel, "exception": type(exc).__name__})
        claim.outcome, claim.code = "retry", type(exc).__name__


def _record(claims: list[_Claim], known: dict[str, Channel], now: dt.datetime, counts: dict[str, int]) -> None:
    with unit_of_work():
        stmt = select(OutboxMessage).where(OutboxMessage.id.in_([c.id for c in claims]))
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        rows = {m.id: m for m in db.session.scalars(stmt)}
        with db.session.no_autoflush, contextlib.ExitStack() as stack:  # outcomes written once, at COMMIT
            # A channel may prepare for a batch of records (the subscribe channel locks its grants at once).
            for name in sorted({claim.channel for claim in claims}):
                recording = getattr(known[name], "recording", None)
                if recording is not None:
                    batch = [c.prepared for c in claims if c.channel == name and c.prepared is not None]
                    stack.enter_context(recording(batch))
            _record_outcomes(claims, rows, known, now, counts)


def _record_outcomes(
    claims: list[_Claim], rows: dict[uuid.UUID, OutboxMessage], known: dict[str, Channel], now: dt.datetime,
    counts: dict[str, int],
) -> None:
    for claim in claims:
        message = rows.get(claim.id)
        if (message is None or message.attempts != claim.attempts or message.next_attempt_at != claim.lease
                or message.state != "pending"):
            log.error("outbox_lease_lost", extra={"channel": claim.channel})
            continue
        message.last_error = claim.code[:80] if claim.code else None
        if claim.outcome == "sent":
            message.state, message.sent_at = "sent", now
        elif claim.outcome == "dead" or message.attempts >= MAX_ATTEMPTS:
            message.state = "dead"
        else:
            message.state, message.next_attempt_at = "pending", now + backoff(message.attempts)
        if claim.prepared is not None:
            known[claim.channel].record(claim.prepared, claim.outcome, claim.code)
        result = "retry" if message.state == "pending" else message.state
        counts[result] += 1
        log.info("outbox_delivery", extra={"channel": message.channel, "state": message.state,
                                           "attempts": message.attempts, "error": message.last_error})


def deliver_due(
    *, now: dt.datetime, limit: int = 100, batch: int = 20, known: dict[str, Channel] | None = None
) -> dict[str, int]:
    """Send what is due, ``batch`` messages per claim, at most ``limit``; counts by outcome.

    ``now`` is when the run starts; each claim uses the clock as it moves on from
    there, so a long run never hands out leases that have already run out.
    ``known`` replaces the configured channels (tests).
    """
    counts = {"sent": 0, "retry": 0, "dead": 0}
    known = channels() if known is None else known
    offset = now - dt.datetime.now(dt.UTC)
    done = 0
    while done < limit:
        claims = _claim_batch(dt.datetime.now(dt.UTC) + offset, known, min(batch, limit - done))
        if not claims:
            break
        done += len(claims)
        _send_all(claims, known)
        _record(claims, known, dt.datetime.now(dt.UTC) + offset, counts)
    return counts


AUDIT_HEAD_EVERY = 3600.0  # seconds between two log lines of the audit chain head


def run(*, interval: float, stop: threading.Event, known: dict[str, Channel] | None = None) -> None:
    """Deliver until ``stop`` is set, sleeping ``interval`` seconds when idle; a batch in hand is finished.

    Once an hour (and at start) it also logs the audit chain head.
    """
    from app.audit.service import log_chain_head

    last_head = -AUDIT_HEAD_EVERY
    failures = 0
    while not stop.is_set():
        try:
            if time.monotonic() - last_head >= AUDIT_HEAD_EVERY:
                log_chain_head()
                last_head = time.monotonic()
            counts = deliver_due(now=dt.datetime.now(dt.UTC), known=known)
        except Exception as exc:  # noqa: BLE001 - a database outage must not end the service
            failures += 1
            log.error("worker_step_failed", extra={"exception": type(exc).__name__, "failures": failures})
            db.session.rollback()
            db.session.remove()
            stop.wait(min(60.0, interval * 2 ** min(failures, 6)))
            continue
        failures = 0
        if not any(counts.values()):
            stop.wait(interval)
