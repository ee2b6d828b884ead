"""Fault tests of the staff channels over loopback: the fake WeCom and the fake Tencent Cloud SMS (both speaking
their real shapes) and a real SMTP server (aiosmtpd, STARTTLS and AUTH). The provider fails (an HTTP 5xx, an answer
that hangs past ``QZBG_NOTIFY_TIMEOUT``, a closed port reopened later on the same port, a "busy" code, WeCom's
42001 on every token), then recovers. The messages are queued through the real path (a new report, the
prosecutor on duty reached on that channel) and delivered by ``deliver_due`` over advancing time: once the
provider is back every message has arrived, none lost, none twice, counted at the provider by what identifies
a message there (WeCom: the card's link, which its duplicate check also keys on; SMS: the tracking number;
e-mail: the Message-ID made from the outbox row's id). A message failing every attempt is a dead letter after
the maximum, listed for the admin, and goes out once retried.

A hang is the one fault where the provider may act on a request we gave up on: WeCom's duplicate check drops
the second one; an SMS or an e-mail may arrive twice (delivery is at least once, never lost).

SMTP has no HTTP status: its "server error" is 421 (service not available), and its busy answer 451 to DATA;
it may also drop the connection mid-DATA, the message's data sent and no answer heard (nothing accepted);
an SMTP 5xx is a permanent refusal that ends the message at once (tests/notify/test_channels.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app.clients.fake_sms import FakeTencentSms
from app.clients.fake_wechat import FakeWeChat
from app.core.actor import Actor
from app.extensions import db
from app.notify import dead_letters
from app.notify.messages import staff_link
from app.notify.models import OutboxMessage
from app.notify.worker import deliver_due
from app.reports.models import Report
from tests.factories import create_report
from tests.notify.conftest import channel_settings, staff_member
from tests.notify.faults import SwitchableFake, SwitchableSms

COUNT = 5
MAX_ATTEMPTS = 4
TIMEOUT = 1  # QZBG_NOTIFY_TIMEOUT here (seconds)
HANG = TIMEOUT + 0.6
MOBILE = "13900000001"
WECOM_SEND = "/cgi-bin/message/send"
ZERO = {"sent": 0, "retry": 0, "dead": 0}


@dataclasses.dataclass
class Provider:
    """One staff channel's provider, the switches of its faults, and what it received (key -> times)."""

    channel: str
    settings: dict[str, Any]
    contact: dict[str, str]
    faults: dict[str, Callable[[], None]]
    mend: Callable[[], None]
    received: Callable[[], Counter[str]]
    key: Callable[[OutboxMessage, Report], str]
    dedupes: bool = False  # the provider drops a message sent again (WeCom's duplicate check)


def _wecom() -> Iterator[Provider]:
    state = FakeWeChat()
    fake = SwitchableFake(state)

    def hang() -> None:
        state.mode, state.hang_seconds, state.hang_paths = "hang", HANG, {WECOM_SEND}

    def mend() -> None:
        fake.on()
        state.mode = "normal"
        if state.wecom_answer == 42001:
            state.wecom_expire_tokens()  # the token every worker holds has expired: the first send refreshes it
        state.wecom_answer = None

    yield Provider(
        "wecom", channel_settings(wecom=state), {"wecom": "DutyWang"},
        {"5xx": lambda: setattr(state, "mode", "error_5xx"), "hang": hang, "refused": fake.off,
         "busy": lambda: setattr(state, "wecom_answer", -1),
         "token": lambda: setattr(state, "wecom_answer", 42001)},
        mend, lambda: Counter(sent["textcard"]["url"] for sent in list(state.wecom_sent)),
        lambda row, report: staff_link("https://qzbg.example.org", report.id), dedupes=True,
    )
    fake.off()


def _sms() -> Iterator[Provider]:
    state = FakeTencentSms()
    fake = SwitchableSms(state)
    state.url = fake.url  # type: ignore[attr-defined]

    def hang() -> None:
        state.mode, state.hang_seconds = "hang", HANG

    def mend() -> None:
        fake.on()
        state.mode, state.failing = "normal", None
        state.number_codes.clear()

    def busy_number() -> None:
        state.number_codes[f"+86{MOBILE}"] = "LimitExceeded.PhoneNumberThirtySecondLimit"

    yield Provider(
        "sms", channel_settings(sms=state), {"mobile": MOBILE},
        {"5xx": lambda: setattr(state, "mode", "error_5xx"), "hang": hang, "refused": fake.off,
         "busy": busy_number, "busy-request": lambda: setattr(state, "failing", "InternalError.Timeout")},
        mend, lambda: Counter(sent["params"][1] for sent in list(state.sent)),
        lambda row, report: report.tracking_no,
    )
    fake.off()


def _email(smtp: Any) -> Iterator[Provider]:
    box = smtp.mailbox

    def mend() -> None:
        smtp.on()
        box.rcpt_answer = box.data_answer = None
        box.hang_seconds, box.drop_data = 0.0, False

    yield Provider(
        "email", channel_settings(smtp=smtp), {"email": "duty@example.org"},
        {"5xx": lambda: setattr(box, "rcpt_answer", "421 4.3.2 Service not available, closing transmission channel"),
         "hang": lambda: setattr(box, "hang_seconds", HANG), "refused": smtp.off,
         "busy": lambda: setattr(box, "data_answer", "451 4.3.0 Temporary failure, try again later"),
         "drop": lambda: setattr(box, "drop_data", True)},
        mend, lambda: Counter(str(mail["Message-ID"]) for mail in list(box.received)),
        lambda row, report: f"<{row.id}@example.org>",
    )


@pytest.fixture
def provider(request: pytest.FixtureRequest, make_app: Any) -> Iterator[Provider]:
    """The channel's provider on loopback, the app pointed at it alone, and a prosecutor on duty reached there."""
    name = request.param
    made = _email(request.getfixturevalue("smtp")) if name == "email" else (_wecom() if name == "wecom" else _sms())
    found = next(made)
    make_app(**{**found.settings, "notify_timeout": TIMEOUT, "notify_max_attempts": MAX_ATTEMPTS})
    staff_member("duty", **found.contact)
    db.session.commit()
    yield found
    next(made, None)


def queue_reports(provider: Provider, count: int) -> set[str]:
    """``count`` new reports, each queueing one message to the prosecutor on duty; the keys the provider will
    know them by."""
    for _ in range(count):
        create_report(commit=False)
        db.session.commit()
    db.session.expire_all()
    rows = db.session.execute(select(OutboxMessage, Report).join(Report, Report.id == OutboxMessage.report_id)
                              .where(OutboxMessage.channel == provider.channel)).all()
    assert len(rows) == count  # one message per report, on this channel
    return {provider.key(row, report) for row, report in rows}


def states(channel: str) -> dict[str, int]:
    db.session.remove()
    rows = db.session.execute(select(OutboxMessage.state, func.count()).where(OutboxMessage.channel == channel)
                              .group_by(OutboxMessage.state)).all()
    return {state: int(count) for state, count in rows}


CASES = [
    ("wecom", "5xx"), ("wecom", "hang"), ("wecom", "refused"), ("wecom", "busy"), ("wecom", "token"),
    ("sms", "5xx"), ("sms", "hang"), ("sms", "refused"), ("sms", "busy"), ("sms", "busy-request"),
    ("email", "5xx"), ("email", "hang"), ("email", "refused"), ("email", "busy"), ("email", "drop"),
]


@pytest.mark.parametrize(("provider", "fault"), CASES, indirect=["provider"])
def test_staff_messages_wait_out_a_provider_fault_and_all_arrive_once_it_is_back(provider, fault):
    keys = queue_reports(provider, COUNT)
    provider.faults[fault]()
    at = dt.datetime.now(dt.UTC)
    for _ in range(2):  # two attempts during the fault: each message backs off and stays pending
        assert deliver_due(now=at) == {"sent": 0, "retry": COUNT, "dead": 0}
        at += dt.timedelta(hours=2)
    assert states(provider.channel) == {"pending": COUNT}
    if fault != "hang":
        assert provider.received() == Counter()
    provider.mend()
    assert deliver_due(now=at)["dead"] == 0
    # A real server on a loaded machine may still drop one connection (aiosmtpd once hung up on one of five
    # TLS sessions right after the mend): that message backs off and goes at its next attempt, never twice.
    for _ in range(2):
        if states(provider.channel) == {"sent": COUNT}:
            break
        at += dt.timedelta(hours=2)
        assert deliver_due(now=at)["dead"] == 0
    assert states(provider.channel) == {"sent": COUNT}
    got = provider.received()
    assert set(got) == keys  # none lost
    if fault == "hang" and not provider.dedupes:
        # The provider acted on requests we stopped waiting for: at least once, never silently dropped.
        assert all(n >= 1 for n in got.values())
    elif provider.channel == "email":
        # SMTP cannot tell us of a message it accepted when the 250 after its data never reaches us (a connection
        # dropped, or on a loaded machine our timeout ran out first): that message is sent again at its next
        # attempt, under its own Message-ID (the counter's key), so the copies are one message to a mail client
        # (app/clients/smtp.py). At least once, and no more copies than the attempts after the mend.
        assert all(1 <= n <= 3 for n in got.values()), got
    else:
        assert set(got.values()) == {1}  # none twice
    assert deliver_due(now=at + dt.timedelta(days=1)) == ZERO


@pytest.mark.parametrize("provider", ["wecom", "sms", "email"], indirect=True)
def test_a_staff_message_failing_every_attempt_is_a_dead_letter_after_the_maximum_and_goes_out_once_retried(
    provider,
):
    [key] = queue_reports(provider, 1)
    provider.faults["5xx"]()
    at = dt.datetime.now(dt.UTC)
    results = []
    for _ in range(MAX_ATTEMPTS + 1):
        results.append(deliver_due(now=at))
        at += dt.timedelta(hours=2)
    retry = {"sent": 0, "retry": 1, "dead": 0}
    assert results == [retry] * (MAX_ATTEMPTS - 1) + [{"sent": 0, "retry": 0, "dead": 1}, ZERO]
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == provider.channel)).one()
    assert (message.state, message.attempts) == ("dead", MAX_ATTEMPTS)
    assert message.dead_at is not None
    assert message.last_error
    assert provider.received() == Counter()
    admin = staff_member("admin-dl", role="admin")
    assert [d.id for d in dead_letters.overview(admin.office_id).dead] == [message.id]
    # The admin's retry button, once the provider is back: it goes out, once.
    provider.mend()
    dead_letters.retry(message.id, actor=Actor.staff(admin), now=at)
    db.session.commit()
    assert deliver_due(now=at) == {"sent": 1, "retry": 0, "dead": 0}
    assert provider.received() == Counter({key: 1})
    assert states(provider.channel) == {"sent": 1}
