"""/admin/outbox: dead letters without personal data, a retry per message and for all (audited, CSRF); the
banner on every staff page and /readyz's detail when no notify worker has beaten for 2 minutes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.notify import heartbeat, service
from app.notify.models import OutboxMessage
from tests.auth.conftest import csrf_of, post
from tests.factories import create_office, create_report

MARKER = "标记张小明13800001111"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dead_message(report=None, *, error: str = "wechat:-1", channel: str = "wechat_subscribe") -> OutboxMessage:
    message = service.queue(channel, "status_changed", now=now(), payload={"template_id": "T", "status": "received",
                                                                          "at": now().isoformat()},
                            report_id=report.id if report is not None else None)
    message.state, message.attempts, message.last_error, message.dead_at = "dead", 6, error, now()
    db.session.commit()
    return message


def test_the_outbox_page_lists_dead_letters_counts_and_the_oldest_pending_without_personal_data(logged_in):
    report = create_report(victim={"name": MARKER, "address": MARKER, "guardian_phone": "13912345678"},
                           incident={"description": MARKER})
    dead = dead_message(report)
    waiting = service.queue("wechat_subscribe", "status_changed", now=now() - dt.timedelta(minutes=7), payload={})
    db.session.commit()
    client, _ = logged_in("admin")
    page = client.get("/admin/outbox")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert f'data-outbox-message="{dead.id}"' in text
    assert report.tracking_no in text
    assert "wechat:-1" in text
    assert 'data-field="outbox_pending">1<' in text
    assert 'data-field="outbox_oldest_pending">7 分钟<' in text
    assert 'data-outbox-channel="wechat_subscribe"' in text
    assert waiting.id is not None
    assert MARKER not in text
    assert "13912345678" not in text


def test_retrying_a_dead_letter_puts_it_back_with_its_attempts_reset_and_audits_it(logged_in):
    dead = dead_message(create_report())
    client, admin = logged_in("admin")
    answer = post(client, f"/admin/outbox/{dead.id}/retry", {}, form_page="/admin/outbox")
    assert answer.status_code == 303
    db.session.expire_all()
    again = db.session.get(OutboxMessage, dead.id)
    assert (again.state, again.attempts, again.dead_at) == ("pending", 0, None)
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry")).one()
    assert (entry.actor_id, entry.target_id) == (admin.id, str(dead.id))
    # Twice: it is no longer dead, so the second is refused and changes nothing.
    assert post(client, f"/admin/outbox/{dead.id}/retry", {}, form_page="/admin/outbox").status_code == 404
    assert post(client, "/admin/outbox/not-a-uuid/retry", {}, form_page="/admin/outbox").status_code == 404


def test_retry_all_revives_the_offices_dead_letters_only(logged_in):
    mine = [dead_message(create_report()) for _ in range(3)]
    north = create_office()
    theirs_report = create_report(commit=False)
    theirs_report.office_id = north.id
    db.session.commit()
    theirs = dead_message(theirs_report)
    client, _ = logged_in("admin")
    assert f'data-outbox-message="{theirs.id}"' not in client.get("/admin/outbox").get_data(as_text=True)
    assert post(client, "/admin/outbox/retry-all", {}, form_page="/admin/outbox").status_code == 303
    db.session.expire_all()
    assert {db.session.get(OutboxMessage, m.id).state for m in mine} == {"pending"}
    assert db.session.get(OutboxMessage, theirs.id).state == "dead"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry_all")).one()
    assert entry.target_id == "3"


def test_a_retry_without_the_csrf_token_or_the_permission_is_refused(logged_in):
    dead = dead_message()
    admin, _ = logged_in("admin")
    assert admin.post(f"/admin/outbox/{dead.id}/retry", data={}).status_code == 400
    prosecutor, _ = logged_in("prosecutor")
    assert prosecutor.get("/admin/outbox").status_code == 403
    token = csrf_of(prosecutor, "/review/")
    assert prosecutor.post(f"/admin/outbox/{dead.id}/retry", data={"csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(OutboxMessage, dead.id).state == "dead"


def test_every_staff_page_shows_the_banner_when_no_worker_has_beaten_for_two_minutes(app, logged_in):
    client, _ = logged_in("prosecutor")
    banner = 'data-field="worker_down"'
    assert banner in client.get("/review/").get_data(as_text=True)  # no worker ever
    assert "通知服务未运行" in client.get("/review/").get_data(as_text=True)
    identity = heartbeat.Identity.here()
    heartbeat.beat(identity, now() - dt.timedelta(minutes=3))
    heartbeat.forget()
    assert banner in client.get("/review/").get_data(as_text=True)  # beaten, but 3 minutes ago
    assert client.get("/readyz").json["notify_worker"] == "down"
    heartbeat.beat(identity, now())
    heartbeat.forget()
    assert banner not in client.get("/review/").get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["notify_worker"] == "ok"
    assert "detail" not in ready.json


def test_readyz_says_the_worker_is_down_and_stays_200(app, client):
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["notify_worker"] == "down"
    assert "2 minutes" in ready.json["detail"]


def test_the_banner_check_is_one_query_remembered_for_a_few_seconds(app, logged_in):
    from sqlalchemy import event

    client, _ = logged_in("prosecutor")
    heartbeat.forget()
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "notify_workers" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            client.get("/review/")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 1


def test_a_recipient_with_no_working_channel_stays_listed_without_a_retry_that_could_never_send(logged_in):
    unreachable = dead_message(create_report(), error="no_channel", channel="none")
    client, _ = logged_in("admin")
    text = client.get("/admin/outbox").get_data(as_text=True)
    row = text.split(f'data-outbox-message="{unreachable.id}"', 1)[1].split("</tr>", 1)[0]
    assert "no_channel" in row
    assert 'data-action="retry"' not in row
    assert post(client, f"/admin/outbox/{unreachable.id}/retry", {}, form_page="/admin/outbox").status_code == 404
    assert post(client, "/admin/outbox/retry-all", {}, form_page="/admin/outbox").status_code == 303
    db.session.expire_all()
    assert db.session.get(OutboxMessage, unreachable.id).state == "dead"
