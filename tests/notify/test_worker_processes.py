"""Real ``flask notify worker`` processes against the fake WeChat: killed with SIGKILL mid-batch and started again
it loses nothing; SIGTERM lets the messages in flight finish and gives the rest back; two workers racing send
each message once (counted at the fake); a new message is picked up promptly."""

from __future__ import annotations

import datetime as dt
import secrets
import signal
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.clients.fake_wechat import FakeWeChat
from app.extensions import db
from app.notify.models import OutboxMessage, WorkerHeartbeat
from tests.notify.faults import (
    SEND_PATH,
    SwitchableFake,
    WorkerProcess,
    queue_messages,
    received,
    settings_for,
    states,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def switchable() -> Iterator[SwitchableFake]:
    fake = SwitchableFake(FakeWeChat(appid=f"wx{secrets.token_hex(8)}", secret=secrets.token_hex(16)))
    yield fake
    fake.off()


@pytest.fixture
def app(make_app, switchable):
    return make_app(**settings_for(switchable))


@pytest.fixture
def workers(backend, switchable, tmp_path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def start(workers, backend, switchable, tmp_path, **extra: str) -> WorkerProcess:
    worker = WorkerProcess(worker_env(backend, switchable, **extra), tmp_path / f"worker-{len(workers)}.log")
    workers.append(worker)
    return worker


def beating() -> int:
    db.session.remove()
    return len(list(db.session.scalars(select(WorkerHeartbeat))))


def all_sent(count: int):
    return lambda: states() == {"sent": count}


def test_a_worker_killed_mid_batch_and_started_again_loses_nothing(app, backend, switchable, workers, tmp_path):
    count = 40
    keys = queue_messages(switchable.state, count)
    fake = switchable.state
    fake.mode, fake.hang_seconds, fake.hang_paths = "hang", 0.2, {SEND_PATH}  # slow enough to be caught mid-batch
    # A short lease, so the restarted worker takes over the killed one's claims soon (the default is 5 minutes).
    first = start(workers, backend, switchable, tmp_path, QZBG_NOTIFY_LEASE_SECONDS="3")
    wait_for(lambda: len(fake.sent) >= 8, 60, "the first messages at the fake")
    first.signal(signal.SIGKILL)
    first.wait(10)
    assert len(fake.sent) < count, "the worker finished before it was killed"
    fake.mode = "normal"
    start(workers, backend, switchable, tmp_path, QZBG_NOTIFY_LEASE_SECONDS="3")
    wait_for(all_sent(count), 60, "every message sent")
    got = received(fake)
    assert set(got) == keys  # nothing lost
    # At least once: only the messages in flight when it was killed (one batch at most) may arrive twice.
    assert sum(got.values()) - count <= 20


def test_sigterm_lets_the_messages_in_flight_finish_and_gives_back_the_rest(app, backend, switchable, workers,
                                                                          tmp_path):
    count = 30
    keys = queue_messages(switchable.state, count)
    fake = switchable.state
    fake.mode, fake.hang_seconds, fake.hang_paths = "hang", 0.8, {SEND_PATH}
    worker = start(workers, backend, switchable, tmp_path)
    wait_for(lambda: any(c.path == SEND_PATH for c in list(fake.calls)), 60, "a send in flight")
    worker.signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    db.session.remove()
    rows = list(db.session.scalars(select(OutboxMessage)))
    sent = [m for m in rows if m.state == "sent"]
    waiting = [m for m in rows if m.state == "pending"]
    assert sent, "the messages in flight were not finished"
    assert len(sent) == len(fake.sent)  # each one the fake took is recorded: none left to be sent again
    assert len(sent) + len(waiting) == count
    # The rest were given back unsent: no attempt counted, due again at once, no lease held.
    assert {m.attempts for m in waiting} <= {0}
    assert all(m.next_attempt_at <= dt.datetime.now(dt.UTC) for m in waiting)
    assert all(m.claimed_by is None for m in rows)
    fake.mode = "normal"
    start(workers, backend, switchable, tmp_path)
    wait_for(all_sent(count), 60, "every message sent")
    assert set(received(fake)) == keys
    assert set(received(fake).values()) == {1}


def test_two_workers_racing_send_each_message_exactly_once(app, backend, switchable, workers, tmp_path):
    # The default lease (5 minutes), far longer than a batch takes: the normal path, where no lease runs out.
    # Both workers up (each has beaten) before the messages arrive, so both wake to the same batch and race for it:
    # queued first, a worker that starts slowly on a busy machine may find the other one has sent everything.
    count = 120
    for _ in range(2):
        start(workers, backend, switchable, tmp_path)
    wait_for(lambda: beating() == 2, 60, "both workers beating")
    keys = queue_messages(switchable.state, count)
    db.session.remove()
    wait_for(all_sent(count), 90, "every message sent")
    got = received(switchable.state)
    assert set(got) == keys
    assert set(got.values()) == {1}  # counted at the fake: none twice
    db.session.remove()
    claimed = {m.claimed_by for m in db.session.scalars(select(OutboxMessage))}
    assert claimed == {None}


def test_an_idle_worker_picks_up_a_new_message_without_a_restart(app, backend, switchable, workers, tmp_path):
    start(workers, backend, switchable, tmp_path, QZBG_NOTIFY_POLL_MS="1000")
    queue_messages(switchable.state, 1, first=0)
    wait_for(all_sent(1), 60, "the worker up and the first message sent")
    queue_messages(switchable.state, 1, first=1)
    # How fast is measured by bench/notify_worker.py (pickup latency); here: the idle worker wakes at all.
    wait_for(lambda: len(switchable.state.sent) == 2, 30, "the second message")
