"""Deliver the outbox: claim a batch, prepare it, send without a transaction, record the outcomes.

Per batch there are two short transactions: one claims up to ``batch`` due
messages (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never
take one message; each claim counts an attempt and sets a lease of
``QZBG_NOTIFY_LEASE_SECONDS``) and prepares them; the other records every outcome,
each only while this worker still holds that message's lease.

Delivery is at least once: a worker that dies between a send and its record
leaves the message to be sent again when the lease runs out, and a provider that
acted on a request we gave up on (a timeout) gets it again. A temporary failure
backs off exponentially with jitter (``QZBG_NOTIFY_RETRY_SECONDS`` doubling, at most
an hour); after ``QZBG_NOTIFY_MAX_ATTEMPTS`` attempts the message is dead (a dead
letter, listed on ``/admin/outbox`` with a retry button).

``run`` is the service loop (``flask notify worker``): it beats a heartbeat, delivers,
and when idle waits for PostgreSQL's ``NOTIFY`` on an outbox insert (or polls every
``QZBG_NOTIFY_POLL_MS`` on SQLite). The scheduled jobs that are due (``app.notify.jobs``)
run beside it in a thread of their own, so a long job (escalation over a long
history) never holds an urgent message back. On SIGTERM it finishes the message in
flight and gives back the rest of its batch unsent, with their attempts uncounted;
a job in flight finishes, and no other starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import current_app
from sqlalchemy import literal_column, select

from app.core.db import READ, intent, unit_of_work
from app.extensions import db
from app.notify import heartbeat
from app.notify.channels import Channel, GiveUp, Retry
from app.notify.models import OutboxMessage
from app.notify.registry import channels

log = logging.getLogger("qzbg.notify")
MAX_ATTEMPTS = 6  # QZBG_NOTIFY_MAX_ATTEMPTS's default
LEASE = dt.timedelta(minutes=5)  # QZBG_NOTIFY_LEASE_SECONDS's default
LISTEN_CHANNEL = "qzbg_outbox"  # migrations/versions/0008: a NOTIFY after every outbox insert
HEARTBEAT_EVERY = 10.0  # seconds between two heartbeats of a worker
JOBS_EVERY = 5.0  # seconds between two looks at the scheduled jobs
LISTEN_WAIT = 1.0  # seconds a LISTENing idle worker waits at most before it looks anyway


def _settings() -> Any:
    return current_app.config["QZBG"]


def max_attempts() -> int:
    return int(_settings().notify_max_attempts)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=_settings().notify_lease_seconds)


@dataclasses.dataclass
class _Claim:
    id: uuid.UUID
    channel: str
    attempts: int
    lease: dt.datetime
    prepared: Any = None
    outcome: str = "sent"
    code: str | None = None


def backoff(attempts: int, first: float = 30.0) -> dt.timedelta:
    """Exponential back-off with jitter: about ``first`` seconds (30 s), then 1, 2, 4 ... minutes, at most an hour."""
    base = min(3600.0, first * 2 ** (attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


# Spelled as the partial index ix_outbox_pending_priority is (a literal: SQLite matches a partial index's WHERE
# only to the same term, not to a bound parameter).
PENDING = OutboxMessage.state == literal_column("'pending'")


def _claim_batch(now: dt.datetime, known: dict[str, Channel], batch: int, owner: str | None = None) -> list[_Claim]:
    """Lease up to ``batch`` due messages and prepare them, in one transaction."""
    claims: list[_Claim] = []
    most, held = max_attempts(), lease()
    with unit_of_work():
        stmt = (
            select(OutboxMessage)
            .where(PENDING, OutboxMessage.next_attempt_at <= now, OutboxMessage.channel.in_(list(known)))
            .order_by(OutboxMessage.priority, OutboxMessage.next_attempt_at)
            .limit(batch)
        )
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        messages = list(db.session.scalars(stmt))
        recipients = _recipients(messages)  # held here: the session's identity map keeps them only while used
        for message in messages:
            if message.attempts >= most:
                # Used up its attempts without an outcome (its worker died each time).
                message.state, message.last_error = "dead", message.last_error or "no_outcome"
                message.dead_at = now
                log.warning("outbox_dead", extra={"channel": message.channel, "attempts": message.attempts,
                                                  "error": message.last_error})
                continue
            message.attempts += 1
            message.next_attempt_at = now + held  # no other worker takes it while this one sends
            message.claimed_by = owner
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


def _send_all(claims: list[_Claim], known: dict[str, Channel], stop: threading.Event | None = None) -> None:
    """Send a batch's messages a few at a time: sending is network I/O, and no transaction is open. Each thread
    has an app context of its own (and so its own database session for a token look-up). Once ``stop`` is set,
    the messages not yet begun are given back (outcome ``release``) and those in flight are finished."""
    due = [c for c in claims if c.outcome == "sent"]
    if len(due) <= 1:
        for claim in due:
            _send(claim, known[claim.channel], stop)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def send_one(claim: _Claim) -> None:
        with app.app_context():
            try:
                _send(claim, known[claim.channel], stop)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(due)), thread_name_prefix="outbox-send") as pool:
        list(pool.map(send_one, due))


def _send(claim: _Claim, channel: Channel, stop: threading.Event | None = None) -> None:
    if claim.outcome != "sent":
        return
    if stop is not None and stop.is_set():
        claim.outcome = "release"
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
    most, first = max_attempts(), float(_settings().notify_retry_seconds)
    for claim in claims:
        message = rows.get(claim.id)
        if (message is None or message.attempts != claim.attempts or message.next_attempt_at != claim.lease
                or message.state != "pending"):
            log.error("outbox_lease_lost", extra={"channel": claim.channel})
            continue
        message.claimed_by = None
        if claim.outcome == "release":  # never sent (the worker is stopping): due again at once, attempt uncounted
            message.attempts -= 1
            message.next_attempt_at = now
            continue
        message.last_error = claim.code[:80] if claim.code else None
        if claim.outcome == "sent":
            message.state, message.sent_at = "sent", now
        elif claim.outcome == "dead" or message.attempts >= most:
            message.state, message.dead_at = "dead", now
            log.warning("outbox_dead", extra={"channel": message.channel, "attempts": message.attempts,
                                              "error": message.last_error})
        else:
            message.state, message.next_attempt_at = "pending", now + backoff(message.attempts, first)
        if claim.prepared is not None:
            known[claim.channel].record(claim.prepared, claim.outcome, claim.code)
        result = "retry" if message.state == "pending" else message.state
        counts[result] += 1
        log.info("outbox_delivery", extra={"channel": message.channel, "state": message.state,
                                           "attempts": message.attempts, "error": message.last_error})


def deliver_due(
    *, now: dt.datetime, limit: int = 100, batch: int = 100, known: dict[str, Channel] | None = None,
    stop: threading.Event | None = None, owner: str | None = None,
) -> dict[str, int]:
    """Send what is due, ``batch`` messages per claim, at most ``limit``; counts by outcome.

    ``now`` is when the run starts; each claim uses the clock as it moves on from
    there, so a long run never hands out leases that have already run out.
    ``known`` replaces the configured channels (tests). Once ``stop`` is set no
    further batch is claimed, and the rest of the batch in hand is given back unsent.
    """
    counts = {"sent": 0, "retry": 0, "dead": 0}
    known = channels(_settings()) if known is None else known
    offset = now - dt.datetime.now(dt.UTC)
    done = 0
    while done < limit and not (stop is not None and stop.is_set()):
        claims = _claim_batch(dt.datetime.now(dt.UTC) + offset, known, min(batch, limit - done), owner)
        if not claims:
            break
        done += len(claims)
        _send_all(claims, known, stop)
        _record(claims, known, dt.datetime.now(dt.UTC) + offset, counts)
    return counts


def due_exists(now: dt.datetime, known: dict[str, Channel]) -> bool:
    """Whether any message is due: a plain read, so an idle worker's polls never take SQLite's write lock."""
    with intent(READ):
        try:
            found = db.session.scalar(
                select(OutboxMessage.id)
                .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now,
                       OutboxMessage.channel.in_(list(known)))
                .limit(1)
            )
        finally:
            db.session.rollback()
    return found is not None


class Waker:
    """How an idle worker waits: on PostgreSQL for the outbox's NOTIFY (a connection of its own, LISTENing), at
    most ``max(interval, LISTEN_WAIT)`` seconds (retries falling due are not notified); elsewhere, or while that
    connection is down, a plain ``interval`` sleep."""

    def __init__(self, interval: float, stop: threading.Event) -> None:
        self.interval, self.stop = interval, stop
        self.conn: Any = None
        self.retry_at = 0.0
        url = db.engine.url
        self.dsn = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                    if url.get_backend_name() == "postgresql" else None)

    def _listen(self) -> Any:
        if self.conn is None and self.dsn and time.monotonic() >= self.retry_at:
            import psycopg

            try:
                self.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
                self.conn.execute(f"LISTEN {LISTEN_CHANNEL}")
            except psycopg.Error as exc:
                log.warning("worker_listen_failed", extra={"exception": type(exc).__name__})
                self.close()
                self.retry_at = time.monotonic() + 30
        return self.conn

    def wait(self, interval: float | None = None) -> None:
        """Until a NOTIFY, ``stop``, or ``interval`` seconds."""
        limit = self.interval if interval is None else interval
        conn = self._listen()
        if conn is None:
            self.stop.wait(limit)
            return
        limit = max(limit, LISTEN_WAIT)
        deadline = time.monotonic() + limit
        try:
            while not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                if any(True for _ in conn.notifies(timeout=min(left, 0.2), stop_after=1)):
                    # Several inserts may have notified: take them all now, one claim serves them.
                    for _ in conn.notifies(timeout=0, stop_after=1000):
                        pass
                    return
        except Exception as exc:  # noqa: BLE001 - the connection broke: poll until it is back
            log.warning("worker_listen_lost", extra={"exception": type(exc).__name__})
            self.close()

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
        self.conn = None


JOBS_JOIN = 60.0  # seconds a stopping worker waits for the job in flight before it leaves it to its lease
# More loops the worker runs beside delivery and the scheduled jobs, each in a thread of its own: functions
# ``loop(app, stop, owner)`` other packages add with ``add_loop`` (the export runner: app/exports/runner.py).
LOOPS = "qzbg.worker_loops"


def add_loop(app: Any, loop: Callable[[Any, threading.Event, str], None]) -> None:
    app.extensions.setdefault(LOOPS, []).append(loop)


def _run_jobs(app: Any, stop: threading.Event, owner: str, registry: list[Any] | None) -> None:
    """The scheduled jobs' loop (a thread of ``run``): the due ones every ``JOBS_EVERY`` seconds, in an app context
    and database session of its own; a failing look backs off and never ends the loop."""
    from app.notify import jobs as scheduled

    failures = 0
    with app.app_context():
        while not stop.is_set():
            try:
                scheduled.run_due(dt.datetime.now(dt.UTC), owner=owner, settings=_settings(), registry=registry,
                                  stop=stop)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the jobs' loop
                failures += 1
                log.error("jobs_step_failed", extra={"exception": type(exc).__name__, "failures": failures})
                db.session.rollback()
            finally:
                db.session.remove()
            stop.wait(JOBS_EVERY * 2 ** min(failures, 4))


def run(
    *, interval: float | None = None, stop: threading.Event, known: dict[str, Channel] | None = None,
    jobs: list[Any] | None = None, identity: heartbeat.Identity | None = None,
) -> None:
    """Deliver until ``stop`` is set, waiting up to ``interval`` seconds (default ``QZBG_NOTIFY_POLL_MS``) when
    idle; the message in flight is finished. Beats a heartbeat every ``HEARTBEAT_EVERY`` seconds; the due
    scheduled jobs (``jobs``: the registry by default) run every ``JOBS_EVERY`` seconds in a thread beside it."""
    interval = float(_settings().notify_poll_seconds) if interval is None else interval
    identity = identity or heartbeat.Identity.here()
    known = channels(_settings()) if known is None else known
    waker = Waker(interval, stop)
    last_beat = -math.inf
    failures = 0
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduled = threading.Thread(target=_run_jobs, args=(app, stop, identity.id, jobs), name="scheduled-jobs",
                                 daemon=True)
    others = [threading.Thread(target=loop, args=(app, stop, identity.id), name=getattr(loop, "__name__", "loop"),
                               daemon=True) for loop in app.extensions.get(LOOPS, ())]
    log.info("worker_started", extra={"worker": identity.id, "channels": sorted(known),
                                      "wake": "listen" if waker.dsn else "poll", "interval": interval})
    scheduled.start()
    for thread in others:
        thread.start()
    try:
        while not stop.is_set():
            try:
                if time.monotonic() - last_beat >= HEARTBEAT_EVERY:
                    heartbeat.beat(identity, dt.datetime.now(dt.UTC))
                    last_beat = time.monotonic()
                counts = {"sent": 0, "retry": 0, "dead": 0}
                at = dt.datetime.now(dt.UTC)
                if not stop.is_set() and due_exists(at, known):
                    counts = deliver_due(now=at, known=known, stop=stop, owner=identity.id)
            except Exception as exc:  # noqa: BLE001 - a database outage must not end the service
                failures += 1
                log.error("worker_step_failed", extra={"exception": type(exc).__name__, "failures": failures})
                db.session.rollback()
                db.session.remove()
                stop.wait(min(60.0, interval * 2 ** min(failures, 6)))
                continue
            failures = 0
            if not any(counts.values()):
                waker.wait()
    finally:
        waker.close()
        scheduled.join(JOBS_JOIN)
        for thread in others:
            thread.join(JOBS_JOIN)
        log.info("worker_stopped", extra={"worker": identity.id, "job_in_flight": scheduled.is_alive()})
