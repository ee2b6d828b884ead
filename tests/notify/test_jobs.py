"""Scheduled jobs: due ones run once whoever asks, through a lease row each; a missing function fails only its
own job; daily times are China Standard Time; the real jobs purge and prune; the CLI lists them."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest
from sqlalchemy import select

from app.core import scheduler
from app.core.scheduler import JobRun
from app.extensions import db
from app.notify import heartbeat, jobs, service
from app.notify.models import OutboxMessage, WorkerHeartbeat

CALLS: list[str] = []


def record_call(now: dt.datetime) -> None:
    CALLS.append(now.isoformat())


def slow_call(now: dt.datetime) -> None:
    CALLS.append("slow")
    threading.Event().wait(0.3)


def failing_call(now: dt.datetime) -> None:
    raise RuntimeError("boom")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()


EVERY_MINUTE = jobs.Job("test_every_minute", f"{__name__}.record_call", every=dt.timedelta(minutes=1))


def test_a_due_job_runs_once_then_waits_for_its_next_run(app):
    at = now()
    settings = app.config["QZBG"]
    assert [o.status for o in jobs.run_due(at, owner="w1", settings=settings, registry=[EVERY_MINUTE])] == ["ok"]
    assert jobs.run_due(at + dt.timedelta(seconds=30), owner="w2", settings=settings, registry=[EVERY_MINUTE]) == []
    assert len(CALLS) == 1
    row = db.session.get(JobRun, "test_every_minute")
    assert row.last_status == "ok"
    assert row.lease_owner is None
    assert row.next_run == at + dt.timedelta(minutes=1)
    assert len(jobs.run_due(at + dt.timedelta(minutes=1), owner="w2", settings=settings, registry=[EVERY_MINUTE])) == 1
    assert len(CALLS) == 2


def test_a_job_held_by_one_worker_is_not_run_by_another(app):
    job = jobs.Job("test_held", f"{__name__}.record_call", every=dt.timedelta(minutes=1))
    at = now()
    scheduler._ensure_rows([job], at)
    assert scheduler._take(job, at, "w1")
    assert not scheduler._take(job, at, "w2")  # the lease is w1's
    assert jobs.run_due(at, owner="w2", settings=app.config["QZBG"], registry=[job]) == []
    # w1 died holding it: once the lease has run out another worker runs it.
    later = at + job.lease + dt.timedelta(seconds=1)
    assert [o.status for o in jobs.run_due(later, owner="w2", settings=app.config["QZBG"], registry=[job])] == ["ok"]


def test_two_workers_asking_at_once_run_a_job_once(app, make_app):
    job = jobs.Job("test_race", f"{__name__}.slow_call", every=dt.timedelta(minutes=1))
    at = now()
    scheduler._ensure_rows([job], at)
    db.session.commit()
    results: list[int] = []

    def ask(owner: str) -> None:
        with app.app_context():
            results.append(len(jobs.run_due(at, owner=owner, settings=app.config["QZBG"], registry=[job])))
            db.session.remove()

    threads = [threading.Thread(target=ask, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results) == [0, 0, 1]
    assert CALLS == ["slow"]


def test_a_missing_or_failing_job_is_logged_and_the_others_still_run(app, caplog):
    registry = [
        jobs.Job("test_missing", "app.notify.nowhere.run_it", every=dt.timedelta(minutes=1)),
        jobs.Job("test_failing", f"{__name__}.failing_call", every=dt.timedelta(minutes=1)),
        EVERY_MINUTE,
    ]
    with caplog.at_level(logging.ERROR, logger="qzbg.notify.jobs"):
        outcomes = jobs.run_due(now(), owner="w1", settings=app.config["QZBG"], registry=registry)
    assert [(o.name, o.status) for o in outcomes] == [
        ("test_missing", "missing"), ("test_failing", "error"), ("test_every_minute", "ok")]
    assert {r.getMessage() for r in caplog.records} == {"job_missing", "job_failed"}
    assert db.session.get(JobRun, "test_failing").last_error == "RuntimeError"
    assert len(CALLS) == 1


def test_a_daily_job_is_next_due_at_its_time_in_china_standard_time():
    job = jobs.Job("test_daily", f"{__name__}.record_call", daily_at=dt.time(8, 30))
    cst = jobs.CST
    before = dt.datetime(2026, 12, 1, 8, 0, tzinfo=cst)
    assert job.next_after(before) == dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC)
    after = dt.datetime(2026, 12, 1, 8, 30, tzinfo=cst)
    assert job.next_after(after) == dt.datetime(2026, 12, 2, 8, 30, tzinfo=cst)
    assert job.first_run(before) == job.next_after(before)
    with pytest.raises(ValueError, match="exactly one"):
        jobs.Job("bad", "x.y")


def test_the_registry_names_each_job_once_with_the_schedules_of_the_issue():
    by_name = {job.name: job for job in jobs.REGISTRY}
    assert len(by_name) == len(jobs.REGISTRY)
    assert by_name["escalation"].every == dt.timedelta(minutes=1)
    assert by_name["escalation"].target == "app.notify.events.escalation_batches"
    assert by_name["overdue_reminders"].every == dt.timedelta(minutes=15)
    assert by_name["daily_digest"].daily_at == dt.time(8, 30)
    assert by_name["audit_chain_head"].every == dt.timedelta(hours=1)
    assert by_name["purge_training_reports"].target == "app.reports.training.purge_training_batches"
    assert {"purge_sent_messages", "prune_heartbeats"} <= set(by_name)


def test_messages_sent_more_than_30_days_ago_are_purged_and_the_rest_kept(app):
    at = now()
    old, recent, dead = (service.queue("test", "t", now=at, payload={}) for _ in range(3))
    old.state, old.sent_at = "sent", at - dt.timedelta(days=31)
    recent.state, recent.sent_at = "sent", at - dt.timedelta(days=29)
    dead.state, dead.dead_at = "dead", at - dt.timedelta(days=90)
    db.session.commit()
    job = next(j for j in jobs.REGISTRY if j.name == "purge_sent_messages")
    assert jobs.run_job(job, at, app.config["QZBG"]).status == "ok"
    assert {m.id for m in db.session.scalars(select(OutboxMessage))} == {recent.id, dead.id}


def test_heartbeats_of_workers_gone_a_day_are_pruned(app):
    at = now()
    gone, alive = heartbeat.Identity.here(), heartbeat.Identity.here()
    heartbeat.beat(gone, at - dt.timedelta(days=2))
    heartbeat.beat(alive, at)
    job = next(j for j in jobs.REGISTRY if j.name == "prune_heartbeats")
    assert jobs.run_job(job, at, app.config["QZBG"]).status == "ok"
    assert [w.id for w in db.session.scalars(select(WorkerHeartbeat))] == [alive.id]


def test_the_audit_head_job_logs_the_chain_head(app, caplog):
    job = next(j for j in jobs.REGISTRY if j.name == "audit_chain_head")
    with caplog.at_level(logging.INFO, logger="qzbg.audit"):
        assert jobs.run_job(job, now(), app.config["QZBG"]).status == "ok"
    assert "audit.chain_head" in {r.getMessage() for r in caplog.records}


def test_flask_notify_jobs_lists_every_job_with_its_last_and_next_run(app, runner):
    before = runner.invoke(args=["notify", "jobs"])
    assert before.exit_code == 0, before.output
    for job in jobs.REGISTRY:
        assert job.name in before.output
    assert "never run" in before.output
    jobs.run_due(now(), owner="w1", settings=app.config["QZBG"])
    after = runner.invoke(args=["notify", "jobs"])
    lines = {line.split()[0]: line for line in after.output.splitlines() if line.strip()}
    assert "ok" in lines["audit_chain_head"]
    assert "every 60 min" in lines["audit_chain_head"]
    assert "daily 08:30 CST" in lines["daily_digest"]
    assert "no notify worker has beaten for 2 minutes" in after.output


def test_run_once_delivers_and_runs_the_due_jobs(app, runner):
    result = runner.invoke(args=["notify", "run-once"])
    assert result.exit_code == 0, result.output
    assert "sent 0, retry 0, dead 0" in result.output
    assert "job audit_chain_head: ok" in result.output
    assert db.session.get(JobRun, "audit_chain_head").last_status == "ok"
    again = runner.invoke(args=["notify", "run-once"])
    assert "job audit_chain_head" not in again.output  # not due again for an hour


LOOP_STOP = threading.Event()


def stop_the_loop(now: dt.datetime) -> None:
    CALLS.append("loop")
    LOOP_STOP.set()


def test_the_worker_loop_runs_the_due_jobs_and_beats(app):
    from app.notify import worker

    LOOP_STOP.clear()
    job = jobs.Job("test_loop", f"{__name__}.stop_the_loop", every=dt.timedelta(minutes=1))
    thread = threading.Thread(target=lambda: _run_loop(app, worker, job))
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    assert CALLS == ["loop"]
    assert db.session.get(JobRun, "test_loop").last_status == "ok"
    assert db.session.scalars(select(WorkerHeartbeat)).one().pid > 0


def _run_loop(app, worker, job) -> None:
    with app.app_context():
        worker.run(interval=0.05, stop=LOOP_STOP, known={}, jobs=[job])
        db.session.remove()
