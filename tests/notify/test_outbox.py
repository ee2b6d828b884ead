"""The outbox: one broken message does not stop the others; nothing is locked while a provider is slow."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.notify import service
from app.notify.models import OutboxMessage
from app.units.models import Unit


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def channels():
    saved = dict(service.CHANNELS)
    yield service.CHANNELS
    service.CHANNELS.clear()
    service.CHANNELS.update(saved)


def test_a_channel_crashing_on_one_message_does_not_block_the_next(app, channels):
    delivered = []

    def flaky(message, at):
        if message.payload["n"] == 1:
            raise RuntimeError("bug in a channel")
        delivered.append(message.payload["n"])

    service.register_channel("test", flaky)
    earlier = now() - dt.timedelta(seconds=5)
    service.enqueue("test", "t", now=earlier, payload={"n": 1})
    service.enqueue("test", "t", now=now(), payload={"n": 2})
    db.session.commit()
    assert service.deliver_due(now=now()) == {"sent": 1, "retry": 1, "dead": 0}
    assert delivered == [2]
    broken = db.session.scalars(select(OutboxMessage).where(OutboxMessage.state == "pending")).one()
    assert (broken.attempts, broken.last_error) == (1, "RuntimeError")


def test_a_message_failing_every_time_ends_dead_after_the_last_attempt(app, channels):
    def down(message, at):
        raise service.Retry("down")

    service.register_channel("test", down)
    service.enqueue("test", "t", now=now(), payload={})
    db.session.commit()
    at = now()
    for _ in range(service.MAX_ATTEMPTS):
        service.deliver_due(now=at)
        at += dt.timedelta(days=1)
    message = db.session.scalars(select(OutboxMessage)).one()
    assert (message.state, message.attempts) == ("dead", service.MAX_ATTEMPTS)


def test_no_transaction_is_held_while_a_channel_waits_on_the_network(app, channels):
    started, release = threading.Event(), threading.Event()

    def slow(message, at):
        service.release_before_io()
        started.set()
        release.wait(10)

    service.register_channel("test", slow)
    service.enqueue("test", "t", now=now(), payload={})
    db.session.commit()

    def worker():
        with app.app_context():
            service.deliver_due(now=now())

    thread = threading.Thread(target=worker)
    thread.start()
    assert started.wait(10)
    began = time.monotonic()
    db.session.add(Unit(code="while-sending", name="发送期间写入", type="other"))
    db.session.commit()  # on SQLite this would wait for the worker's write lock if it held one
    waited = time.monotonic() - began
    release.set()
    thread.join(10)
    assert waited < 2
    assert db.session.scalars(select(OutboxMessage)).one().state == "sent"


def test_a_claimed_message_is_leased_so_another_worker_skips_it(app, channels):
    service.register_channel("test", lambda message, at: None)
    service.enqueue("test", "t", now=now(), payload={})
    db.session.commit()
    claimed = service._claim(now())
    assert claimed is not None
    assert service._claim(now()) is None  # leased: not due again until the lease ends


def test_a_worker_whose_lease_was_taken_over_records_nothing(app, channels):
    service.register_channel("test", lambda message, at: None)
    service.enqueue("test", "t", now=now(), payload={})
    db.session.commit()
    message_id, attempts, lease = service._claim(now())
    # The lease ran out and another worker claimed the message meanwhile.
    later = lease + dt.timedelta(seconds=1)
    assert service._claim(later) is not None
    assert service._still_ours(message_id, attempts, lease) is False
    db.session.rollback()


def test_a_message_whose_worker_died_every_time_ends_dead(app, channels):
    service.register_channel("test", lambda message, at: None)
    message = service.enqueue("test", "t", now=now(), payload={})
    message.attempts = service.MAX_ATTEMPTS  # claimed that often, never an outcome
    db.session.commit()
    assert service.deliver_due(now=now()) == {"sent": 0, "retry": 0, "dead": 0}
    db.session.expire_all()
    assert db.session.scalars(select(OutboxMessage)).one().state == "dead"
