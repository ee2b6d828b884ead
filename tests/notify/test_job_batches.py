"""Scheduled jobs work in bounded batches: the runner commits each batch, stops between batches when the worker
stops or half the lease has passed (the rest is the next run's, never done twice), and keeps the batches before one
that fails. The real jobs' batched forms page through a backlog and send each step once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.core import scheduler
from app.core.db import READ, intent, unit_of_work
from app.extensions import db
from app.notify import events, jobs, service
from app.notify.models import NotifyStep, OutboxMessage
from app.notify.service import Outbound
from tests.factories import create_report, create_staff

DEADLINE = 60.0  # seconds a test waits for the job thread to reach a point before it fails with a diagnosis
REACHED = threading.Event()
RELEASE = threading.Event()


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def three_batches(now: dt.datetime) -> Iterator[int]:
    """Queues one message per batch; waits before the second batch's write until the test releases it."""
    for number in range(3):
        if number == 1:
            REACHED.set()
            assert RELEASE.wait(DEADLINE), "the test never released the held batch"
        service.queue("test", f"batch-{number}", now=now, payload={})
        db.session.flush()
        yield 1


def fails_in_the_second_batch(now: dt.datetime) -> Iterator[int]:
    service.queue("test", "batch-0", now=now, payload={})
    yield 1
    service.queue("test", "batch-1", now=now, payload={})
    db.session.flush()
    raise RuntimeError("the second batch fails")


def escalation_in_twos(now: dt.datetime, *, urgent_escalation_minutes: int, outbound: Outbound) -> Iterator[int]:
    yield from events.escalation_batches(now, urgent_escalation_minutes=urgent_escalation_minutes,
                                         outbound=outbound, batch=2)


def committed(stmt: Any) -> list[Any]:
    """What ``stmt`` reads of the committed rows now, in a read transaction ended at once (on SQLite the test's
    own session would otherwise hold the write lock the job waits for)."""
    with intent(READ):
        db.session.rollback()
        try:
            return list(db.session.scalars(stmt))
        finally:
            db.session.rollback()


def queued_kinds() -> list[str]:
    return sorted(committed(select(OutboxMessage.kind)))


def escalation_steps() -> int:
    return len(committed(select(NotifyStep.key).where(NotifyStep.key.startswith("escalation:"))))


def test_each_batch_is_committed_while_the_job_is_still_running(app: Flask) -> None:
    REACHED.clear()
    RELEASE.clear()
    job = scheduler.Job("test_three_batches", f"{__name__}.three_batches", every=dt.timedelta(minutes=1))
    outcome: list[scheduler.Outcome] = []

    def run() -> None:
        with app.app_context():
            outcome.append(jobs.run_job(job, now(), app.config["QZBG"]))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert REACHED.wait(DEADLINE), "the job never reached its second batch"
        assert queued_kinds() == ["batch-0"]  # the first batch is in the database while the job holds the second
    finally:
        RELEASE.set()
        thread.join(DEADLINE)
    assert not thread.is_alive(), "the job did not finish once released"
    assert [o.status for o in outcome] == ["ok"]
    assert queued_kinds() == ["batch-0", "batch-1", "batch-2"]


def test_a_stopping_worker_leaves_a_batched_job_after_the_batch_in_hand(app: Flask) -> None:
    RELEASE.set()
    stop = threading.Event()
    stop.set()
    job = scheduler.Job("test_three_batches", f"{__name__}.three_batches", every=dt.timedelta(minutes=1))
    assert jobs.run_job(job, now(), app.config["QZBG"], stop=stop).status == "ok"
    assert queued_kinds() == ["batch-0"]


def test_a_failing_batch_is_rolled_back_and_the_batches_before_it_stay(app: Flask) -> None:
    job = scheduler.Job("test_fails", f"{__name__}.fails_in_the_second_batch", every=dt.timedelta(minutes=1))
    outcome = jobs.run_job(job, now(), app.config["QZBG"])
    assert (outcome.status, outcome.error) == ("error", "RuntimeError")
    assert queued_kinds() == ["batch-0"]


def test_escalation_pages_through_the_backlog_and_a_run_cut_short_is_finished_by_the_next(app: Flask) -> None:
    start = now() - dt.timedelta(hours=3)
    for minute in range(5):
        create_report(urgent=True, now=start + dt.timedelta(minutes=minute))
    db.session.commit()
    settings = app.config["QZBG"]
    at = start + dt.timedelta(minutes=40)
    # A lease of nothing: half of it has passed after the first batch, so this run does two reports and stops.
    short = scheduler.Job("test_escalation", f"{__name__}.escalation_in_twos", every=dt.timedelta(minutes=1),
                          lease=dt.timedelta(0), settings=("urgent_escalation_minutes", "outbound"))
    assert jobs.run_job(short, at, settings).status == "ok"
    assert escalation_steps() == 2
    full = scheduler.Job("test_escalation", f"{__name__}.escalation_in_twos", every=dt.timedelta(minutes=1),
                         settings=("urgent_escalation_minutes", "outbound"))
    assert jobs.run_job(full, at, settings).status == "ok"
    assert escalation_steps() == 5  # the three left, none of the first two again
    assert jobs.run_job(full, at, settings).status == "ok"
    assert escalation_steps() == 5


def test_overdue_reminders_page_through_each_deadline_kind_and_remind_once(app: Flask) -> None:
    from app.core.actor import Actor
    from app.offices import queries as offices
    from app.offices.models import PoliceUnit
    from app.review import service as review

    outbound = Outbound.of(app.config["QZBG"])
    db.session.add(PoliceUnit(code="pu-1", name="某派出所", office_id=offices.default_office().id))
    prosecutor = Actor.staff(create_staff("pro-x"))
    for _ in range(3):
        report = create_report(status="reviewing")
        review.transfer(report, police_unit="pu-1", document_no="检移〔2026〕1号", contact=None, share_reporter=False,
                        note=None, actor=prosecutor, version=report.version, now=now(),
                        deadlines=review.Deadlines(), outbound=outbound)
        db.session.commit()
    later = now() + dt.timedelta(days=4)  # past the receipt (24 h) and feedback (72 h) deadlines
    with unit_of_work():
        assert list(events.overdue_reminder_batches(later, outbound=outbound, batch=2)) == [2, 1, 2, 1]
    with unit_of_work():
        assert list(events.overdue_reminder_batches(later, outbound=outbound, batch=2)) == [0, 0, 0, 0]


def test_sent_messages_are_purged_a_batch_at_a_time(app: Flask) -> None:
    at = now()
    for _ in range(5):
        message = service.queue("test", "old", now=at, payload={})
        message.state, message.sent_at = "sent", at - dt.timedelta(days=31)
    db.session.commit()
    with unit_of_work():
        assert list(jobs.purge_sent_batches(at, batch=2)) == [2, 2, 1]
    assert queued_kinds() == []
