"""The outbox worker: one broken message does not stop the others; nothing is locked while a provider is slow;
leases keep two workers off one message."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notify import service, worker
from app.notify.channels import GiveUp, Retry
from app.notify.models import OutboxMessage
from tests.factories import create_unit


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclasses.dataclass
class FakeChannel:
    """A channel whose send does what the test says; records what it prepared and recorded."""

    on_send: Callable[[Any], None] = lambda prepared: None
    name: str = "test"
    recorded: list[tuple[Any, str]] = dataclasses.field(default_factory=list)

    def prepare(self, message: OutboxMessage) -> Any:
        if message.payload.get("give_up"):
            raise GiveUp("bad_data")
        return dict(message.payload)

    def send(self, prepared: Any) -> None:
        self.on_send(prepared)

    def record(self, prepared: Any, outcome: str, code: str | None) -> None:
        self.recorded.append((prepared.get("n"), outcome))


def deliver(channel: FakeChannel, at: dt.datetime | None = None, **kwargs: Any) -> dict[str, int]:
    return worker.deliver_due(now=at or now(), known={"test": channel}, **kwargs)


@pytest.fixture
def queue(app) -> Callable[..., OutboxMessage]:
    def add(at: dt.datetime | None = None, **payload: Any) -> OutboxMessage:
        message = service.queue("test", "t", now=at or now(), payload=payload)
        db.session.commit()
        return message

    return add


def test_a_channel_crashing_on_one_message_does_not_block_the_next(queue):
    delivered = []

    def flaky(prepared):
        if prepared["n"] == 1:
            raise RuntimeError("bug in a channel")
        delivered.append(prepared["n"])

    queue(now() - dt.timedelta(seconds=5), n=1)
    queue(n=2)
    channel = FakeChannel(flaky)
    assert deliver(channel) == {"sent": 1, "retry": 1, "dead": 0}
    assert delivered == [2]
    broken = db.session.scalars(select(OutboxMessage).where(OutboxMessage.state == "pending")).one()
    assert (broken.attempts, broken.last_error) == (1, "RuntimeError")
    assert sorted(channel.recorded) == [(1, "retry"), (2, "sent")]


def test_a_message_failing_every_time_ends_dead_after_the_last_attempt(queue):
    def down(prepared):
        raise Retry("down")

    queue()
    at = now()
    for _ in range(worker.MAX_ATTEMPTS):
        deliver(FakeChannel(down), at)
        at += dt.timedelta(days=1)
    message = db.session.scalars(select(OutboxMessage)).one()
    assert (message.state, message.attempts) == ("dead", worker.MAX_ATTEMPTS)


def test_a_message_that_can_never_be_prepared_is_dead_at_once(queue):
    queue(give_up=True)
    assert deliver(FakeChannel()) == {"sent": 0, "retry": 0, "dead": 1}
    assert db.session.scalars(select(OutboxMessage)).one().last_error == "bad_data"


def test_retries_back_off_exponentially_with_jitter():
    waits = [worker.backoff(n).total_seconds() for n in range(1, 7)]
    for attempt, wait in enumerate(waits, start=1):
        base = min(3600, 30 * 2 ** (attempt - 1))
        assert 0.8 * base <= wait <= 1.2 * base


def test_no_transaction_is_held_while_a_channel_waits_on_the_network(app, queue):
    started, release = threading.Event(), threading.Event()

    def slow(prepared):
        started.set()
        release.wait(10)

    queue()

    def run():
        with app.app_context():
            deliver(FakeChannel(slow))

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(10)
    began = time.monotonic()
    create_unit("while-sending", name="发送期间写入", type="other")
    db.session.commit()  # on SQLite this would wait for the worker's write lock if it held one
    waited = time.monotonic() - began
    release.set()
    thread.join(10)
    assert waited < 2
    assert db.session.scalars(select(OutboxMessage)).one().state == "sent"


def test_a_claimed_message_is_leased_so_another_worker_skips_it(queue):
    queue()
    known = {"test": FakeChannel()}
    assert len(worker._claim_batch(now(), known, 10)) == 1
    assert worker._claim_batch(now(), known, 10) == []  # leased: not due again until the lease ends


def test_a_worker_whose_lease_was_taken_over_records_nothing(queue):
    queue(n=1)
    channel = FakeChannel()
    known = {"test": channel}
    first = worker._claim_batch(now(), known, 10)
    # The lease ran out and another worker claimed the message meanwhile.
    later = first[0].lease + dt.timedelta(seconds=1)
    assert len(worker._claim_batch(later, known, 10)) == 1
    counts = {"sent": 0, "retry": 0, "dead": 0}
    worker._record(first, known, later, counts)
    assert counts == {"sent": 0, "retry": 0, "dead": 0}
    assert channel.recorded == []
    assert db.session.scalars(select(OutboxMessage)).one().state == "pending"


def test_a_message_whose_worker_died_every_time_ends_dead(queue):
    message = queue()
    message.attempts = worker.MAX_ATTEMPTS  # claimed that often, never an outcome
    db.session.commit()
    assert deliver(FakeChannel()) == {"sent": 0, "retry": 0, "dead": 0}
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage)).one().state == "dead"


def test_many_messages_go_out_in_batches(queue):
    for n in range(45):
        queue(n=n)
    channel = FakeChannel()
    assert deliver(channel, limit=100, batch=20) == {"sent": 45, "retry": 0, "dead": 0}
    assert sorted(n for n, _ in channel.recorded) == list(range(45))


def test_the_worker_loop_stops_when_told_and_finishes_what_it_holds(app, queue):
    queue(n=1)
    stop = threading.Event()
    sent = []

    def send(prepared):
        sent.append(prepared["n"])
        stop.set()  # SIGTERM arrives while this message is being sent

    def run():
        with app.app_context():
            worker.run(interval=0.05, stop=stop, known={"test": FakeChannel(send)})

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert sent == [1]
    assert db.session.scalars(select(OutboxMessage)).one().state == "sent"


def test_a_message_that_breaks_its_channels_prepare_does_not_block_the_queue(queue):
    class Fragile(FakeChannel):
        def prepare(self, message):
            if message.payload.get("n") == 1:
                raise KeyError("template_id")  # a bug, not a GiveUp
            return super().prepare(message)

    queue(now() - dt.timedelta(seconds=5), n=1)
    queue(n=2)
    channel = Fragile()
    assert deliver(channel) == {"sent": 1, "retry": 1, "dead": 0}
    broken = db.session.scalars(select(OutboxMessage).where(OutboxMessage.state == "pending")).one()
    assert (broken.attempts, broken.last_error) == (1, "KeyError")


def test_the_worker_loop_survives_a_failing_step_and_carries_on(app, queue, monkeypatch):
    queue(n=1)
    calls = {"n": 0}
    real = worker.deliver_due
    stop = threading.Event()

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database went away")
        result = real(**kwargs)
        stop.set()
        return result

    monkeypatch.setattr(worker, "deliver_due", flaky)
    worker.run(interval=0.01, stop=stop, known={"test": FakeChannel()})
    assert calls["n"] == 2
    assert db.session.scalars(select(OutboxMessage)).one().state == "sent"


def test_a_batch_is_sent_several_messages_at_a_time(queue):
    barrier = threading.Barrier(2, timeout=10)

    def together(prepared):
        barrier.wait()  # passes only when two sends are in flight at once

    for n in range(2):
        queue(n=n)
    assert deliver(FakeChannel(together)) == {"sent": 2, "retry": 0, "dead": 0}


JOB_HELD, JOB_RELEASE = threading.Event(), threading.Event()


def held_job(now: dt.datetime) -> None:
    """A scheduled job that reads the database, then stays in the middle of its run until the test lets it go."""
    db.session.scalars(select(OutboxMessage.id).limit(1)).all()
    JOB_HELD.set()
    JOB_RELEASE.wait(60)


def test_an_urgent_message_goes_out_while_a_scheduled_job_is_mid_run(app, queue):
    from app.notify import jobs

    JOB_HELD.clear()
    JOB_RELEASE.clear()
    sent = threading.Event()
    channel = FakeChannel(lambda prepared: sent.set())
    job = jobs.Job("test_held_job", f"{__name__}.held_job", every=dt.timedelta(minutes=1))
    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            worker.run(interval=0.05, stop=stop, known={"test": channel}, jobs=[job])
            db.session.remove()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        assert JOB_HELD.wait(30)  # the job has begun and is holding
        queue(n=1, urgent=True)
        assert sent.wait(30)  # delivered while the job is still mid-run
        assert not JOB_RELEASE.is_set()
    finally:
        JOB_RELEASE.set()
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage)).one().state == "sent"


def test_an_urgent_report_s_message_goes_before_a_backlog_of_reminders_queued_earlier(app):
    sent: list[str] = []
    channel = FakeChannel(on_send=lambda prepared: sent.append(prepared["what"]))
    earlier = now() - dt.timedelta(minutes=5)
    for _ in range(30):  # what an overdue-reminder job queued a moment before
        service.queue("test", "police_feedback_overdue", now=earlier, payload={"what": "reminder"})
    service.queue("test", "transfer", now=earlier, payload={"what": "transfer"})
    service.queue("test", "new_report", now=now(), payload={"what": "urgent"}, priority=service.URGENT)
    db.session.commit()
    deliver(channel, limit=1, batch=1)
    deliver(channel, limit=1, batch=1)
    assert sent == ["urgent", "transfer"]  # newest of all, yet first; then what a person waits on; reminders last
    assert service.priority_of("new_report", urgent=True) == service.URGENT
    assert service.priority_of("new_report") == service.priority_of("urgent_escalation") == service.NORMAL
    assert service.priority_of("police_receipt_overdue") == service.priority_of("daily_digest") == service.BULK


def test_enqueue_gives_an_urgent_report_s_messages_the_first_place(make_app, wecom):
    from tests.factories import create_report
    from tests.notify.conftest import channel_settings, staff_member

    make_app(**channel_settings(wecom=wecom))
    staff_member("duty-a", wecom="DutyA")
    db.session.commit()
    urgent, routine = create_report(urgent=True), create_report()
    db.session.expire_all()
    ranks = {(m.report_id, m.priority) for m in db.session.scalars(select(OutboxMessage))
             if m.kind == "new_report" and m.channel == "wecom"}
    assert ranks == {(urgent.id, service.URGENT), (routine.id, service.NORMAL)}
