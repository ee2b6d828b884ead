"""Deadlines: configurable hours (``QZBG_DEADLINE_*``), what counts as past due for each kind, and ``/review/overdue``
listing them by kind, scoped to the office."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app

from app.config import ConfigError, Settings
from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.review import queries
from app.review import service as review
from tests.auth.conftest import login
from tests.factories import create_office, create_report, create_staff

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _now_is_now() -> None:
    """NOW is the test's own start: deadlines and timers are relative to the real clock, and a long run would
    otherwise age a module-level moment by minutes."""
    global NOW  # noqa: PLW0603 - one moment per test, read by the helpers
    NOW = dt.datetime.now(dt.UTC)


def ago(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def _env(tmp_path, **extra: str) -> dict[str, str]:
    return {"QZBG_INSTANCE_PATH": str(tmp_path), "QZBG_SECRET_KEY": "s" * 40,
            "QZBG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **extra}


def test_deadlines_are_read_from_the_environment_in_hours(tmp_path):
    settings = Settings.from_env(_env(tmp_path, QZBG_DEADLINE_ACK_URGENT="2", QZBG_DEADLINE_ACK="12",
                                      QZBG_DEADLINE_POLICE_RECEIPT="6", QZBG_DEADLINE_POLICE_FEEDBACK="48",
                                      QZBG_DEADLINE_SUPERVISION_ANSWER="96"))
    assert (settings.deadline_ack_urgent, settings.deadline_ack) == (2, 12)
    assert review.deadlines_from(settings) == review.Deadlines(
        police_receipt=dt.timedelta(hours=6), police_feedback=dt.timedelta(hours=48),
        supervision_answer=dt.timedelta(hours=96))
    defaults = Settings.from_env(_env(tmp_path))
    assert review.deadlines_from(defaults) == review.Deadlines()
    with pytest.raises(ConfigError):
        Settings.from_env(_env(tmp_path, QZBG_DEADLINE_ACK="0"))


def test_a_submitted_report_is_due_for_acknowledgement_after_the_configured_hours(make_app):
    make_app(deadline_ack_urgent=2, deadline_ack=12)
    urgent = create_report(urgent=True, now=NOW)
    plain = create_report(now=NOW)
    assert urgent.acknowledge_due_at == NOW + dt.timedelta(hours=2)
    assert plain.acknowledge_due_at == NOW + dt.timedelta(hours=12)


@pytest.fixture
def world(app):
    unit = PoliceUnit(code="pcs-9", name="城南派出所", office_id=1)
    db.session.add(unit)
    db.session.flush()
    prosecutor = create_staff(role="prosecutor")
    police = create_staff(role="police", police_unit=unit)
    db.session.commit()
    return Actor.staff(prosecutor), Actor.staff(police), prosecutor


def _transferred(actor: Actor, at: dt.datetime):
    report = create_report(status="reviewing", now=at - dt.timedelta(minutes=5))
    review.transfer(report, police_unit="pcs-9", document_no="X检〔2026〕9号", contact=None, share_reporter=False,
                    note=None, actor=actor, version=report.version, now=at, deadlines=review.Deadlines(),
                    outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    return report


def test_each_kind_of_past_due_is_found_and_nothing_else(world):
    p, police, _ = world
    late_ack = create_report(now=ago(30))
    create_report(now=ago(23))  # still within 24 h
    create_report(urgent=True, now=ago(0.5))  # within its hour
    late_urgent = create_report(urgent=True, now=ago(2))
    create_report(status="closed", now=ago(100))  # closed: nothing is due
    no_receipt = _transferred(p, ago(25))
    no_feedback = _transferred(p, ago(80))
    review.police_acknowledge(no_feedback, actor=police, version=no_feedback.version, now=ago(79))
    on_time = _transferred(p, ago(2))
    unanswered = _transferred(p, ago(24 * 10))
    review.police_acknowledge(unanswered, actor=police, version=unanswered.version, now=ago(24 * 10 - 1))
    review.record_feedback(unanswered, outcome="not_filed", case_no=None, decided_at=None, note=None, actor=police,
                           version=unanswered.version, now=ago(24 * 9),
                           outbound=Outbound.of(current_app.config["QZBG"]))
    review.supervise(unanswered, "请说明理由", actor=p, version=unanswered.version, now=ago(24 * 8),
                     deadlines=review.Deadlines())
    db.session.commit()
    found = queries.overdue(p, now=NOW)
    assert {kind: [item.report.tracking_no for item in items] for kind, items in found.items()} == {
        "acknowledge": [late_ack.tracking_no, late_urgent.tracking_no],
        "police_receipt": [no_receipt.tracking_no],
        "police_feedback": [no_feedback.tracking_no],
        "supervision_answer": [unanswered.tracking_no],
    }
    assert on_time.tracking_no not in str(found)
    assert queries.status_counts(p, now=NOW, vault=get_vault())["overdue"] == 5


def test_the_overdue_page_lists_by_kind_with_the_time_past_due(world, app):
    p, _, prosecutor = world
    late = create_report(now=ago(24 + 50))
    _transferred(p, ago(30))
    north = create_office()
    db.session.commit()
    theirs = create_report(district_code="430299", now=ago(100))
    assert theirs.office_id == north.id
    client = app.test_client()
    assert login(client, prosecutor).status_code == 303
    page = client.get("/review/overdue")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(rf'data-tracking-no="{late.tracking_no}" data-overdue="acknowledge"', text)
    assert 'data-overdue-count="acknowledge">1<' in text
    assert 'data-overdue-count="police_receipt">1<' in text
    assert "已超期 2 天" in text
    assert theirs.tracking_no not in text


def test_the_overdue_page_needs_a_login_and_the_inbox_permission(app):
    liaison = create_staff(role="unit_liaison")
    db.session.commit()
    client = app.test_client()
    first = client.get("/review/overdue")
    assert first.status_code == 303
    assert first.headers["Location"].startswith("/login")
    assert login(client, liaison).status_code == 303
    assert client.get("/review/overdue").status_code == 403


NAV = re.compile(r'<nav class="staff-nav"[^>]*>(.*?)</nav>', re.S)


@pytest.mark.parametrize("role", ["prosecutor", "lead", "police"])
def test_the_staff_navigation_links_the_overdue_page_for_every_role_with_the_inbox(app, role):
    police_unit = None
    if role == "police":
        police_unit = PoliceUnit(code="pcs-nav", name="城南派出所", office_id=1)
        db.session.add(police_unit)
    user = create_staff(role=role, police_unit=police_unit)
    db.session.commit()
    client = app.test_client()
    assert login(client, user).status_code == 303
    on_overdue = NAV.search(client.get("/review/overdue").get_data(as_text=True)).group(1)
    assert '<a href="/review/overdue" aria-current="page">超期</a>' in on_overdue
    assert '<a href="/review/">线索</a>' in on_overdue  # the inbox is not also the current page
    on_inbox = NAV.search(client.get("/review/").get_data(as_text=True)).group(1)
    assert '<a href="/review/" aria-current="page">线索</a>' in on_inbox
    assert '<a href="/review/overdue">超期</a>' in on_inbox


def test_roles_without_the_inbox_have_no_overdue_link(app):
    admin = create_staff(role="admin")
    db.session.commit()
    client = app.test_client()
    assert login(client, admin).status_code == 303
    page = client.get("/admin/users").get_data(as_text=True)
    assert "/review/overdue" not in page
    assert 'href="/admin/users" aria-current="page"' in page


def test_the_action_views_take_the_police_deadlines_from_the_settings(make_app):
    import datetime as dt

    from sqlalchemy import select

    from app.reports.records import Transfer
    from tests.factories import create_report
    from tests.review.detail_helpers import act, make_cast

    app = make_app(deadline_police_feedback=48, deadline_supervision_answer=100)
    crew = make_cast(app)
    report = create_report(status="reviewing")
    answer = act(crew.prosecutor, report, "transfer", police_unit="pcs-north", document_no="X检移〔2026〕3号",
                 share_reporter="0")
    assert answer.status_code == 303
    record = db.session.scalars(select(Transfer).where(Transfer.report_id == report.id)).one()
    assert record.feedback_due_at - record.created_at == dt.timedelta(hours=48)
    assert record.receipt_due_at - record.created_at == dt.timedelta(hours=24)
    assert act(crew.police, report, "record_feedback", outcome="not_filed").status_code == 303
    assert act(crew.prosecutor, report, "supervise", note="请说明理由").status_code == 303
    db.session.expire_all()
    record = db.session.get(Transfer, record.id)
    assert record.supervision_answer_due_at - record.supervision_requested_at == dt.timedelta(hours=100)


def test_the_overdue_page_says_whom_to_chase(world, app):
    p, _, prosecutor = world
    assigned = create_report(now=ago(30))
    assigned.assignee_id = prosecutor.id
    create_report(now=ago(30))  # nobody's yet
    late_police = _transferred(p, ago(30))
    db.session.commit()
    found = queries.overdue(p, now=NOW)
    by_report = {item.report.id: item for items in found.values() for item in items}
    assert by_report[assigned.id].assignee == prosecutor.display_name
    assert by_report[late_police.id].police_unit == "城南派出所"
    client = app.test_client()
    assert login(client, prosecutor).status_code == 303
    text = client.get("/review/overdue").get_data(as_text=True)
    row = text.split(f'data-tracking-no="{late_police.tracking_no}" data-overdue="police_receipt"')[1].split("</tr>")[0]
    assert '<td data-field="police_unit">城南派出所</td>' in row
    row = text.split(f'data-tracking-no="{assigned.tracking_no}"')[1].split("</tr>")[0]
    assert f'<td data-field="assignee">{prosecutor.display_name}</td>' in row
    assert '<td data-field="assignee">未指派</td>' in text
