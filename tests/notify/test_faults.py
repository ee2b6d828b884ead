"""Fault tests over loopback against the fake WeChat (mini-program subscribe messages): the provider answers
500, hangs past the timeout, refuses connections, answers -1 or 42001, then recovers. Every message is delivered
once it is back, none lost, none twice in the normal path; a message dead-letters after the maximum."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.clients.fake_wechat import FakeWeChat
from app.extensions import db
from app.notify import dead_letters
from app.notify.models import OutboxMessage
from app.notify.worker import deliver_due
from tests.notify.faults import SEND_PATH, SwitchableFake, queue_messages, received, settings_for, states

COUNT = 6


@pytest.fixture
def switchable() -> Iterator[SwitchableFake]:
    fake = SwitchableFake(FakeWeChat(appid=f"wx{secrets.token_hex(8)}", secret=secrets.token_hex(16)))
    yield fake
    fake.off()


@pytest.fixture
def app(make_app, switchable):
    return make_app(**settings_for(switchable))


def break_it(fake: SwitchableFake, fault: str) -> None:
    if fault == "refused":
        fake.off()
    elif fault == "hang":
        fake.state.mode, fake.state.hang_seconds, fake.state.hang_paths = "hang", 1.6, {SEND_PATH}
    else:
        fake.state.mode = fault


def mend(fake: SwitchableFake) -> None:
    fake.on()
    fake.state.mode = "normal"


@pytest.mark.parametrize("fault", ["error_5xx", "hang", "refused", "busy"])
def test_messages_wait_out_a_provider_fault_and_all_arrive_once_it_is_back(app, switchable, fault):
    keys = queue_messages(switchable.state, COUNT)
    break_it(switchable, fault)
    at = dt.datetime.now(dt.UTC)
    for _ in range(2):  # two attempts during the fault: each message backs off and stays pending
        assert deliver_due(now=at) == {"sent": 0, "retry": COUNT, "dead": 0}
        at += dt.timedelta(hours=2)
    if fault != "hang":
        assert received(switchable.state) == {}
    mend(switchable)
    assert deliver_due(now=at) == {"sent": COUNT, "retry": 0, "dead": 0}
    assert states() == {"sent": COUNT}
    got = received(switchable.state)
    assert set(got) == keys  # none lost
    if fault == "hang":
        # The fake acted on the requests we stopped waiting for: at least once, never silently dropped.
        assert all(n >= 1 for n in got.values())
    else:
        assert set(got.values()) == {1}  # none twice
    assert deliver_due(now=at + dt.timedelta(days=1)) == {"sent": 0, "retry": 0, "dead": 0}


def test_an_expired_access_token_42001_is_refreshed_once_and_the_messages_go_out(app, switchable):
    keys = queue_messages(switchable.state, COUNT)
    assert deliver_due(now=dt.datetime.now(dt.UTC), limit=1) == {"sent": 1, "retry": 0, "dead": 0}  # a token held
    fetches = switchable.state.token_fetches
    switchable.state.expire_tokens()
    assert deliver_due(now=dt.datetime.now(dt.UTC)) == {"sent": COUNT - 1, "retry": 0, "dead": 0}
    assert switchable.state.token_fetches == fetches + 1
    assert set(received(switchable.state)) == keys
    assert set(received(switchable.state).values()) == {1}


def test_a_message_failing_every_attempt_becomes_a_dead_letter_listed_for_the_admin(make_app, switchable):
    make_app(**settings_for(switchable, notify_max_attempts=3))
    queue_messages(switchable.state, 1)
    switchable.state.mode = "error_5xx"
    at = dt.datetime.now(dt.UTC)
    results = []
    for _ in range(4):
        results.append(deliver_due(now=at))
        at += dt.timedelta(hours=2)
    assert results == [{"sent": 0, "retry": 1, "dead": 0}, {"sent": 0, "retry": 1, "dead": 0},
                       {"sent": 0, "retry": 0, "dead": 1}, {"sent": 0, "retry": 0, "dead": 0}]
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wechat_subscribe")).one()
    assert (message.state, message.attempts, message.last_error) == ("dead", 3, "wechat:None")
    assert message.dead_at is not None
    assert [d.id for d in dead_letters.overview(1).dead if d.channel == "wechat_subscribe"] == [message.id]
    # Once retried from the admin page (attempts reset), it goes out when the provider is back.
    switchable.state.mode = "normal"
    message.state, message.attempts, message.next_attempt_at = "pending", 0, at
    db.session.commit()
    assert deliver_due(now=at) == {"sent": 1, "retry": 0, "dead": 0}
