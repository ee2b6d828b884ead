"""The scheduler: jobs run on a schedule by whichever worker takes their lease (plumbing; the jobs themselves live
with the features they serve, and the notify worker runs the one registry, ``app.notify.jobs.REGISTRY``).

Each job has a name, a schedule (every N minutes, or daily at a time in China
Standard Time) and the dotted path of its function, ``function(now, **values)``, resolved
when the job runs (``values``: the settings the job names in ``Job.settings``, passed by the caller of
``run_due``, never read by the function itself): a missing function is logged as an error for that job only
(``last_status`` ``missing``) and the others still run. A job runs inside one
transaction (``unit_of_work``): it flushes, the runner commits.

Bounded batches: a job whose function is a generator works in batches, one per ``yield``, and the runner commits
after each, so no job holds a transaction (or SQLite's write lock) for the length of a long history. Between
batches the runner stops when the worker is stopping, or when half the job's lease has passed: what is left is
the next run's (every job's items are claimed idempotently, so none is done twice or skipped). A batch that fails
is rolled back; the batches before it stay committed.

Several workers: each job has a row in ``job_runs``; a worker runs a due job only
after taking its lease with one atomic ``UPDATE ... WHERE next_run <= now AND
lease_until < now`` (the same statement on SQLite and PostgreSQL), so one worker
runs each due job; a worker that dies mid-job leaves the lease to run out
(``Job.lease``), and the next worker runs the job again then.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import inspect
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from app.config import Settings
from app.core.db import READ, WRITE, intent, unit_of_work
from app.core.dbtypes import UTCDateTime
from app.extensions import db

log = logging.getLogger("qzbg.jobs")
CST = dt.timezone(dt.timedelta(hours=8))
NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # lease_until of a job nobody holds
# Values a job may take that are made from the settings rather than read off them, by name.
Providers = Mapping[str, Callable[[Settings], Any]]


class JobRun(db.Model):  # type: ignore[name-defined,misc]
    """A scheduled job's last and next run, and the lease of the one worker running it now."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))  # ok | error | missing
    last_error: Mapped[str | None] = mapped_column(String(80))
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_run: Mapped[dt.datetime] = mapped_column(UTCDateTime)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    target: str  # "package.module.function"
    every: dt.timedelta | None = None
    daily_at: dt.time | None = None  # China Standard Time
    lease: dt.timedelta = dt.timedelta(minutes=10)  # longer than a run can take
    # The Settings fields the function takes, as keyword arguments of their names, or values a provider makes of
    # the settings (``run_due(providers=...)``: notify's ``outbound``, what queueing a message needs of them).
    settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.every is None) == (self.daily_at is None):
            raise ValueError(f"job {self.name}: give exactly one of every= or daily_at=")

    def next_after(self, at: dt.datetime) -> dt.datetime:
        """When the job is next due after a run that started at ``at``."""
        if self.every is not None:
            return at + self.every
        assert self.daily_at is not None
        local = at.astimezone(CST)
        candidate = local.replace(hour=self.daily_at.hour, minute=self.daily_at.minute, second=0, microsecond=0)
        if candidate <= local:
            candidate += dt.timedelta(days=1)
        return candidate.astimezone(dt.UTC)

    def first_run(self, now: dt.datetime) -> dt.datetime:
        """Interval jobs run at once on a fresh database; daily ones at their next time."""
        return now if self.every is not None else self.next_after(now)

    @property
    def schedule(self) -> str:
        if self.every is not None:
            minutes = self.every.total_seconds() / 60
            return f"every {minutes:g} min"
        assert self.daily_at is not None
        return f"daily {self.daily_at.strftime('%H:%M')} CST"

    def arguments(self, settings: Settings, providers: Providers) -> dict[str, Any]:
        """The keyword arguments of the function: the named settings' values, or their providers' values."""
        return {name: providers[name](settings) if name in providers else getattr(settings, name)
                for name in self.settings}

    def function(self) -> Callable[..., Any]:
        module, _, name = self.target.rpartition(".")
        found = getattr(importlib.import_module(module), name)
        if not callable(found):
            raise TypeError(f"{self.target} is not callable")
        return found  # type: ignore[no-any-return]


@dataclasses.dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # ok | error | missing
    error: str | None = None


def _ensure_rows(registry: list[Job], now: dt.datetime) -> dict[str, JobRun]:
    """The registry's rows (made for new jobs; a row made by another worker at the same moment is kept)."""
    names = [job.name for job in registry]
    with intent(READ):
        try:
            rows = {r.name: r for r in db.session.scalars(select(JobRun).where(JobRun.name.in_(names)))}
            for row in rows.values():
                db.session.expunge(row)
        finally:
            db.session.rollback()
    missing = [job for job in registry if job.name not in rows]
    if missing:
        insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
        with unit_of_work():
            for job in missing:
                db.session.execute(insert(JobRun).values(
                    name=job.name, lease_until=NEVER, next_run=job.first_run(now)
                ).on_conflict_do_nothing(index_elements=["name"]))
        return _ensure_rows(registry, now)
    return rows


def _take(job: Job, now: dt.datetime, owner: str) -> bool:
    """The job's lease for this run, or False when it is not due or another worker holds it."""
    with unit_of_work():
        done = db.session.execute(
            update(JobRun)
            .where(JobRun.name == job.name, JobRun.next_run <= now, JobRun.lease_until < now)
            .values(lease_owner=owner[:80], lease_until=now + job.lease, last_started=now)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


def _finish(job: Job, now: dt.datetime, finished: dt.datetime, owner: str, outcome: Outcome) -> None:
    with unit_of_work():
        db.session.execute(
            update(JobRun)
            .where(JobRun.name == job.name, JobRun.lease_owner == owner[:80])
            .values(last_finished=finished, last_status=outcome.status, last_error=outcome.error,
                    next_run=job.next_after(now), lease_owner=None, lease_until=NEVER)
        )


def _next_batch(batches: Generator[Any, Any, Any]) -> bool:
    """One batch of a batched job, in the caller's transaction; False once the job has no more."""
    try:
        next(batches)
    except StopIteration:
        return False
    return True


def run_job(
    job: Job, now: dt.datetime, settings: Settings, providers: Providers | None = None,
    stop: threading.Event | None = None, clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Run one job's function with the settings it names, in one transaction, or a batched job's batches in one
    transaction each until it is done, ``stop`` is set or half its lease has passed (``clock``: seconds);
    what happened, never raised."""
    try:
        function = job.function()
        arguments = job.arguments(settings, providers or {})
    except (ImportError, AttributeError, TypeError) as exc:
        log.error("job_missing", extra={"job": job.name, "target": job.target, "exception": type(exc).__name__})
        return Outcome(job.name, "missing", type(exc).__name__)
    began, budget = clock(), job.lease.total_seconds() / 2
    batches: Generator[Any, Any, Any] | None = None
    done = 0
    try:
        # Write intent, not serial: on SQLite a job reads without the write lock and takes it only for its writes,
        # so deliveries (their own thread, app.notify.worker) are not held up while a job reads a long history.
        with unit_of_work(), intent(WRITE):
            result = function(now, **arguments)
            if inspect.isgenerator(result):
                batches = result
                more = _next_batch(batches)
        while batches is not None and more:
            done += 1
            if (stop is not None and stop.is_set()) or clock() - began >= budget:
                log.info("job_paused", extra={"job": job.name, "batches": done})
                break
            with unit_of_work(), intent(WRITE):
                more = _next_batch(batches)
    except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others or the worker
        log.error("job_failed", extra={"job": job.name, "exception": type(exc).__name__, "batches": done})
        db.session.remove()
        return Outcome(job.name, "error", type(exc).__name__[:80])
    finally:
        if batches is not None:
            batches.close()
    log.info("job_done", extra={"job": job.name})
    return Outcome(job.name, "ok")


def run_due(
    now: dt.datetime, *, owner: str, settings: Settings, registry: list[Job], providers: Providers | None = None,
    stop: threading.Event | None = None,
) -> list[Outcome]:
    """Run every job of ``registry`` that is due at ``now`` and whose lease this worker takes; the outcomes of
    those it ran."""
    if not registry:
        return []
    rows = _ensure_rows(registry, now)
    outcomes = []
    for job in registry:
        if stop is not None and stop.is_set():
            break
        row = rows[job.name]
        if row.next_run > now or row.lease_until >= now or not _take(job, now, owner):
            continue
        began = time.monotonic()
        outcome = run_job(job, now, settings, providers, stop)
        _finish(job, now, now + dt.timedelta(seconds=time.monotonic() - began), owner, outcome)
        outcomes.append(outcome)
    return outcomes


def status(registry: list[Job]) -> list[tuple[Job, JobRun | None]]:
    """Each job with its row (None before any worker has seen it)."""
    with intent(READ):
        try:
            rows = {r.name: r for r in db.session.scalars(select(JobRun))}
            for row in rows.values():
                db.session.expunge(row)
        finally:
            db.session.rollback()
    return [(job, rows.get(job.name)) for job in registry]
