"""``/admin/roster`` and ``/admin/sandbox``: who may see them, CSRF, a shift added and removed with audit entries,
bad input refused in zh-CN with nothing stored, what the sandbox kept shown to its office's admins."""

from __future__ import annotations

from typing import Any

import pytest
from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.notify.models import DutyShift
from app.notify.service import Outbound
from tests.auth.conftest import csrf_of, login
from tests.factories import create_report, create_staff


@pytest.fixture
def logged_in(app):
    def make(role: str = "lead", **kwargs: Any):
        user = create_staff(role=role, **kwargs)
        db.session.commit()
        client = app.test_client()
        assert login(client, user).status_code == 303
        return client, user

    return make


def add(client, **fields: Any):
    data = {"csrf_token": csrf_of(client, "/admin/roster"), "weekdays": ["0", "1"], "start": "08:30",
            "end": "17:30", "channels": ["email"], **fields}
    return client.post("/admin/roster", data=data)


def test_anonymous_visitors_go_to_login_and_roles_without_the_permission_get_403(app, logged_in):
    anonymous = app.test_client()
    for path in ("/admin/roster", "/admin/sandbox"):
        answer = anonymous.get(path)
        assert answer.status_code == 303
        assert answer.headers["Location"].startswith("/login?next=")
    assert anonymous.post("/admin/roster", data={}).status_code in (303, 400)
    for role in ("prosecutor", "police"):
        client, _ = logged_in(role)
        assert client.get("/admin/roster").status_code == 403
        assert client.get("/admin/sandbox").status_code == 403
    lead, _ = logged_in("lead")
    assert lead.get("/admin/sandbox").status_code == 403  # the sandbox is the admins' (admin.outbox)
    page = lead.get("/admin/roster")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "尚未设置值班" in page.get_data(as_text=True)
    admin, _ = logged_in("admin")
    assert admin.get("/admin/roster").status_code == 200
    assert admin.get("/admin/sandbox").status_code == 200


def test_a_lead_adds_and_removes_a_shift_each_audited(app, logged_in):
    client, lead = logged_in("lead")
    pro = create_staff("zhou-pro", role="prosecutor", display_name="周检察官")
    db.session.commit()
    answer = add(client, user="zhou-pro", channels=["email", "sms"], start="22:00", end="08:00")
    assert answer.status_code == 303
    shift = db.session.scalars(select(DutyShift)).one()
    assert (shift.user_id, shift.weekdays, shift.start_minute, shift.end_minute, shift.channels) == (
        pro.id, "01", 22 * 60, 8 * 60, "email,sms")
    page = client.get("/admin/roster").get_data(as_text=True)
    assert "周检察官（zhou-pro）" in page
    assert "22:00–08:00（次日）" in page
    answer = client.post(f"/admin/roster/{shift.id}/delete",
                         data={"csrf_token": csrf_of(client, "/admin/roster")})
    assert answer.status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(DutyShift)).all() == []
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert actions[-2:] == ["roster.add", "roster.remove"]


def test_a_post_without_a_csrf_token_changes_nothing(app, logged_in):
    client, _ = logged_in("lead")
    create_staff("zhou-pro", role="prosecutor")
    db.session.commit()
    answer = client.post("/admin/roster", data={"user": "zhou-pro", "weekdays": ["0"], "start": "08:00",
                                                "end": "09:00", "channels": ["email"]})
    assert answer.status_code == 400
    assert db.session.scalars(select(DutyShift)).all() == []


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"user": ""}, "user", "请选择值班人员"),
    ({"user": "nobody-here"}, "user", "请选择本院在岗的检察官或部门负责人"),
    ({"weekdays": []}, "weekdays", "请至少选择一天"),
    ({"weekdays": ["7"]}, "weekdays", "请从列表中选择"),
    ({"start": "25:00"}, "start", "请填写时间，如 08:30"),
    ({"end": ""}, "end", "请填写时间，如 08:30"),
    ({"channels": []}, "channels", "请至少选择一种通知方式"),
    ({"channels": ["pigeon"]}, "channels", "请从列表中选择"),
])
def test_bad_input_is_refused_in_chinese_next_to_its_field_and_nothing_is_stored(app, logged_in, fields, field,
                                                                                  message):
    client, _ = logged_in("lead")
    create_staff("zhou-pro", role="prosecutor")
    db.session.commit()
    answer = add(client, **{"user": "zhou-pro", **fields})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert f'<p class="field-error" id="e-{field}">{message}</p>' in page
    assert db.session.scalars(select(DutyShift)).all() == []


def test_a_police_user_or_another_offices_prosecutor_cannot_be_put_on_duty(app, logged_in):
    from tests.factories import create_office

    client, _ = logged_in("lead")
    create_staff("cop-pu", role="police")
    create_staff("far-pro", role="prosecutor", office=create_office())
    db.session.commit()
    for username in ("cop-pu", "far-pro"):
        assert add(client, user=username).status_code == 422
    assert db.session.scalars(select(DutyShift)).all() == []


def test_the_roster_page_lists_recipients_nobody_could_reach(app, logged_in):
    client, _ = logged_in("lead")  # no contact fields, no channel configured
    report = create_report()
    page = client.get("/admin/roster").get_data(as_text=True)
    assert 'data-unreachable-kind="new_report"' in page
    assert report.tracking_no in page
    assert "该人员没有可用的通知渠道" in page


def test_the_roster_page_names_staff_no_configured_channel_reaches_before_any_message(make_app, wecom):
    from tests.auth.conftest import login
    from tests.notify.conftest import channel_settings, staff_member

    app = make_app(**channel_settings(wecom=wecom))  # WeCom only
    lead = staff_member("lead-wx", role="lead", wecom="LeadWx")
    staff_member("pro-mail", email="pro@example.org")  # e-mail is not configured here
    staff_member("pro-none")
    staff_member("cop-none", role="police")
    staff_member("gone", wecom=None).active = False
    db.session.commit()
    client = app.test_client()
    assert login(client, lead).status_code == 303
    page = client.get("/admin/roster").get_data(as_text=True)
    listed = page.split('data-field="no_channel_staff"', 1)[1].split("</ul>", 1)[0]
    assert [u for u in ("lead-wx", "pro-mail", "pro-none", "cop-none", "gone")
            if f'data-username="{u}"' in listed] == ["pro-mail", "pro-none", "cop-none"]


def test_the_sandbox_page_shows_what_the_sandbox_kept_for_the_admins_office_only(app, logged_in):
    import datetime as dt

    from app.notify import service, worker
    from app.notify.models import OutboxMessage, SandboxMessage
    from tests.factories import create_office

    client, _ = logged_in("admin")
    pro = create_staff("sandbox-pro", role="prosecutor")
    pro.wecom_userid, pro.email = "SandboxPro", "pro@example.org"
    other = create_office("west", "西区人民检察院", ("430599",))
    db.session.add(SandboxMessage(office_id=other.id, kind="new_report", would_be="wecom", recipient="west-pro",
                                  title="新线索待签收 QZBG-2026-999999", body="other office"))
    report = create_report()
    db.session.execute(OutboxMessage.__table__.delete())
    report.training = True  # a practice report: its messages go to the sandbox in any deployment
    now = dt.datetime.now(dt.UTC)
    service.enqueue(service.Kind.NEW_REPORT, report=report, now=now, outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    assert worker.deliver_due(now=now)["sent"] >= 1

    page = client.get("/admin/sandbox")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-sandbox-kind="new_report"' in text
    assert f"新线索待签收 {report.tracking_no}" in text
    assert "sandbox-pro" in text  # who would have heard of it
    assert "企业微信" in text  # and on which channel
    assert f"/review/reports/{report.id}" in text  # the text as it would have gone out, with its link
    assert "QZBG-2026-999999" not in text  # another office's records stay there
    assert "west-pro" not in text
