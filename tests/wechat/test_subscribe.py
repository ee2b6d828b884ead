"""Subscribe messages: grants recorded, a reporter-visible status change queues one, the worker sends it."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from app.extensions import db
from app.notify.models import OutboxMessage
from app.notify.subscribe import LIMITS, template_data
from app.notify.worker import deliver_due
from app.reporters import subscriptions
from app.reports import service as reports
from app.reports.models import Report
from tests.factories import PROSECUTOR, report_body
from tests.wechat.conftest import TEMPLATE

# The subscribe channel's rows (a new report also queues rows for the office's staff).
SUBSCRIBE_ROWS = select(OutboxMessage).where(OutboxMessage.channel == "wechat_subscribe")


def login(client, fake, name="carol"):
    fake.used_codes.discard(f"dev-{name}")
    body = client.post("/api/v1/auth/wechat", json={"code": f"dev-{name}"}).json
    return {"Authorization": f"Bearer {body['token']}"}, body["reporter"]["id"]


def submit(client, headers):
    response = client.post("/api/v1/reports", json=report_body(), headers=headers)
    assert response.status_code == 201, response.json
    return db.session.get(Report, uuid.UUID(response.json["id"]))


def now():
    return dt.datetime.now(dt.UTC)


def acknowledged_with_grant(client, fake, *, at_wechat: bool = True):
    """A reporter who granted one status message (and WeChat knows it, unless not ``at_wechat``),
    and their report just acknowledged: one message queued. Returns (report, reporter id)."""
    headers, reporter_id = login(client, fake)
    client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
    if at_wechat:
        fake.grant("o-dev-carol", TEMPLATE)
    report = submit(client, headers)
    reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=now())
    db.session.commit()
    return report, reporter_id


def test_grants_are_counted_per_template(client, fake):
    headers, _ = login(client, fake)
    first = client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
    assert first.status_code == 200
    assert first.json == {"granted": {TEMPLATE: 1}}
    again = client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
    assert again.json == {"granted": {TEMPLATE: 2}}


def test_unknown_template_or_bad_body_is_refused(client, fake):
    headers, _ = login(client, fake)
    unknown = client.post("/api/v1/subscriptions", json={"template_ids": ["OTHER"]}, headers=headers)
    assert unknown.status_code == 422
    assert list(unknown.json["error"]["fields"]) == ["template_ids"]
    assert client.post("/api/v1/subscriptions", json={"template_ids": []}, headers=headers).status_code == 422
    assert client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}).status_code == 401


def test_status_change_with_a_grant_sends_one_message_and_uses_the_grant(client, fake):
    headers, reporter_id = login(client, fake)
    client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE]}, headers=headers)
    fake.grant("o-dev-carol", TEMPLATE)
    report = submit(client, headers)
    reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=now())
    db.session.commit()
    queued = db.session.scalars(SUBSCRIBE_ROWS).one()
    assert queued.channel == "wechat_subscribe"
    assert "o-dev" not in json.dumps(queued.payload)
    assert deliver_due(now=now()) == {"sent": 1, "retry": 0, "dead": 0}
    [sent] = fake.sent
    assert sent["touser"] == "o-dev-carol"
    assert sent["template_id"] == TEMPLATE
    assert sent["page"] == f"pages/report/detail?id={report.id}"
    assert sent["data"]["character_string1"]["value"] == report.tracking_no
    assert sent["data"]["phrase2"]["value"] == "已受理"
    assert subscriptions.remaining(uuid.UUID(reporter_id), TEMPLATE) == 0


def test_a_change_the_reporter_cannot_see_sends_nothing(client, fake):
    headers, _ = login(client, fake)
    client.post("/api/v1/subscriptions", json={"template_ids": [TEMPLATE, TEMPLATE]}, headers=headers)
    report = submit(client, headers)
    for action in ("acknowledge", "transfer", "record_feedback"):
        reports.change_status(report, action, actor=PROSECUTOR, now=now())
    db.session.commit()
    statuses = [m.payload["status"] for m in db.session.scalars(SUBSCRIBE_ROWS)]
    assert sorted(statuses) == ["received", "transferred"]  # police feedback stays "transferred" for the reporter


def test_without_a_grant_nothing_is_queued(client, fake):
    headers, _ = login(client, fake)
    report = submit(client, headers)
    reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=now())
    db.session.commit()
    assert db.session.scalars(SUBSCRIBE_ROWS).all() == []


def test_refused_subscription_ends_the_message_without_retry(client, fake):
    _report, reporter_id = acknowledged_with_grant(client, fake, at_wechat=False)  # WeChat answers 43101
    assert deliver_due(now=now()) == {"sent": 0, "retry": 0, "dead": 1}
    message = db.session.scalars(SUBSCRIBE_ROWS).one()
    assert (message.state, message.last_error, message.attempts) == ("dead", "43101", 1)
    assert subscriptions.remaining(uuid.UUID(reporter_id), TEMPLATE) == 0
    later = now() + dt.timedelta(hours=2)
    assert deliver_due(now=later) == {"sent": 0, "retry": 0, "dead": 0}
    assert len([c for c in fake.calls if c.path == "/cgi-bin/message/subscribe/send"]) == 1


def test_wechat_down_at_delivery_is_retried_later(client, fake):
    acknowledged_with_grant(client, fake)
    fake.mode = "error_5xx"
    assert deliver_due(now=now()) == {"sent": 0, "retry": 1, "dead": 0}
    message = db.session.scalars(SUBSCRIBE_ROWS).one()
    assert message.state == "pending"
    assert message.next_attempt_at > now()
    fake.mode = "normal"
    assert deliver_due(now=now() + dt.timedelta(minutes=5)) == {"sent": 1, "retry": 0, "dead": 0}


def test_template_values_fit_wechats_limits_for_every_status():
    at = dt.datetime(2026, 11, 26, 4, 0, tzinfo=dt.UTC)
    for status in ("submitted", "received", "transferred", "closed"):
        data = template_data("QZBG-2026-000073", status, at)
        for key, value in data.items():
            assert len(value) <= LIMITS[key.rstrip("0123456789")]
    assert template_data("QZBG-2026-000073", "received", at)["time3"] == "2026-11-26 12:00"


def test_notify_run_once_cli_delivers_due_messages(client, fake, runner):
    acknowledged_with_grant(client, fake)
    result = runner.invoke(args=["notify", "run-once"])
    assert result.exit_code == 0, result.output
    assert "sent 1" in result.output
    assert len(fake.sent) == 1
