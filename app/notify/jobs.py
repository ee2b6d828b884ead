"""The scheduled jobs the notify worker runs (and ``flask notify run-once``): the one registry, with the notify
package's own housekeeping. Each job's function lives with the feature it serves (notifications in
``app.notify.events``, the audit chain's head in ``app.audit.service``, the practice reports' purge in
``app.reports.training``); the scheduler that runs them, their leases and their rows is ``app.core.scheduler``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator

from sqlalchemy import delete, select

from app.config import Settings
from app.core import scheduler
from app.core.scheduler import Job, JobRun, Outcome
from app.extensions import db
from app.notify.models import OutboxMessage
from app.notify.service import Outbound

log = logging.getLogger("qzbg.notify.jobs")
KEEP_SENT = dt.timedelta(days=30)
CST = scheduler.CST


PURGE_BATCH = 1000


def purge_sent_batches(now: dt.datetime, *, batch: int = PURGE_BATCH) -> Iterator[int]:
    """Delete messages sent more than 30 days ago (dead letters stay until retried or handled), ``batch`` at a
    time; yields how many each batch deleted."""
    while True:
        old = select(OutboxMessage.id).where(
            OutboxMessage.state == "sent", OutboxMessage.sent_at < now - KEEP_SENT
        ).limit(batch).scalar_subquery()
        done = db.session.execute(
            delete(OutboxMessage).where(OutboxMessage.id.in_(old)).execution_options(synchronize_session=False)
        )
        count = int(done.rowcount or 0)  # type: ignore[attr-defined]
        log.info("outbox_purged", extra={"deleted": count})
        yield count
        if count < batch:
            return


def purge_sent(now: dt.datetime) -> int:
    """Every sent message past its 30 days deleted in the caller's transaction; how many."""
    return sum(purge_sent_batches(now))


def prune_heartbeats(now: dt.datetime) -> int:
    from app.notify.heartbeat import prune

    return prune(now)


MINUTE = dt.timedelta(minutes=1)
# The one list of scheduled jobs. Functions of other packages are named by path, resolved when they run.
REGISTRY: list[Job] = [
    Job("escalation", "app.notify.events.escalation_batches", every=MINUTE,
        settings=("urgent_escalation_minutes", "outbound")),
    Job("overdue_reminders", "app.notify.events.overdue_reminder_batches", every=15 * MINUTE,
        settings=("outbound",)),
    Job("daily_digest", "app.notify.events.run_daily_digest", daily_at=dt.time(8, 30), settings=("outbound",)),
    Job("audit_chain_head", "app.audit.service.log_chain_head_job", every=60 * MINUTE),
    Job("purge_sent_messages", "app.notify.jobs.purge_sent_batches", daily_at=dt.time(3, 10)),
    Job("purge_training_reports", "app.reports.training.purge_training_batches", daily_at=dt.time(3, 20),
        settings=("attachments_dir",)),
    Job("prune_heartbeats", "app.notify.jobs.prune_heartbeats", every=60 * MINUTE),
    Job("planner_statistics", "app.core.sqlite.refresh_statistics", every=60 * MINUTE),
    Job("sweep_exports", "app.exports.service.sweep", every=5 * MINUTE, settings=("exports_dir",)),
]
# ``outbound``: what queueing a message needs of the settings (training mode, channels, the status template).
PROVIDERS: scheduler.Providers = {"outbound": Outbound.of}


def run_due(now: dt.datetime, *, owner: str, settings: Settings, registry: list[Job] | None = None,
            stop: threading.Event | None = None) -> list[Outcome]:
    """The registry's due jobs (``scheduler.run_due``)."""
    return scheduler.run_due(now, owner=owner, settings=settings, registry=REGISTRY if registry is None else registry,
                             providers=PROVIDERS, stop=stop)


def run_job(job: Job, now: dt.datetime, settings: Settings, stop: threading.Event | None = None) -> Outcome:
    return scheduler.run_job(job, now, settings, PROVIDERS, stop)


def status(registry: list[Job] | None = None) -> list[tuple[Job, JobRun | None]]:
    return scheduler.status(REGISTRY if registry is None else registry)
