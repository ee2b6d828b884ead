"""Step-up keeps the action, in Chromium at an office PC, with ``QZBG_STEP_UP_MINUTES=0`` so that every sensitive
action asks for a fresh code: a transfer posted without one goes to the step-up page, which names it; a wrong code
keeps it waiting; the right code carries it out with the values posted and lands on the report with a sentence
saying what was done. An administrator's role change goes the same way."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.auth.models import StaffUser
from app.extensions import db
from app.offices.models import PoliceUnit
from tests.browser.test_review_flow import log_in, status, submit
from tests.browser.test_staff_login import account, code, desk  # noqa: F401 - fixture
from tests.factories import create_report

pytestmark = pytest.mark.browser


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app(step_up_minutes=0)


def next_code_may_repeat(username: str) -> None:
    """A code is accepted once: let the next step-up take the current one, as after the authenticator turns over."""
    step = int(dt.datetime.now(dt.UTC).timestamp()) // 30
    db.session.execute(update(StaffUser).where(StaffUser.username == username).values(totp_last_step=step - 2))
    db.session.commit()


def test_with_no_window_a_transfer_asks_for_a_code_and_is_carried_out_after_it(desk, live_server,  # noqa: F811
                                                                           screenshots):
    db.session.add(PoliceUnit(code="pcs-east", name="城东派出所", office_id=1))
    report = create_report(urgent=True, status="reviewing")
    prosecutor, secret = account(role="prosecutor", display_name="赵检察官")
    detail = f"{live_server}/review/reports/{report.id}"
    db.session.commit()

    log_in(desk, live_server, prosecutor, secret)
    desk.goto(detail)
    desk.select_option("#a-transfer-police_unit", "pcs-east")
    desk.fill("#a-transfer-document_no", "X检移〔2026〕21号")
    desk.fill("#a-transfer-contact", "陈警官 0731-7654321")
    submit(desk, "transfer")
    assert "/account/step-up" in desk.url
    assert "移送公安" in desk.locator("[data-field=held_action]").inner_text()

    desk.fill("#f-otp", "000000" if code(secret, 1) != "000000" else "111111")
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert "/account/step-up" in desk.url
    assert "移送公安" in desk.locator("[data-field=held_action]").inner_text()
    assert status_in_database(report.id) == "reviewing"

    next_code_may_repeat(prosecutor)
    desk.fill("#f-otp", code(secret))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url == detail
    assert status(desk) == "transferred"
    assert "已移送城东派出所" in desk.locator("[data-field=done]").inner_text()
    desk.screenshot(path=str(screenshots / "step-up-transfer-done.png"), full_page=True)


def test_with_no_window_an_admins_role_change_is_carried_out_after_the_code(desk, live_server):  # noqa: F811
    admin, secret = account(role="admin", display_name="管理员")
    target, _ = account(role="prosecutor", display_name="孙检察官")
    log_in(desk, live_server, admin, secret)
    desk.goto(f"{live_server}/admin/users/{target}/role")
    assert "/account/step-up" in desk.url  # opening the form asks too, and the code is spent on it
    next_code_may_repeat(admin)
    desk.fill("#f-otp", code(secret))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url == f"{live_server}/admin/users/{target}/role"
    desk.select_option("#f-role", "lead")
    desk.get_by_role("button", name="保存").click()
    desk.wait_for_load_state()
    assert "/account/step-up" in desk.url
    assert "更改账号角色" in desk.locator("[data-field=held_action]").inner_text()
    next_code_may_repeat(admin)
    desk.fill("#f-otp", code(secret))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url == f"{live_server}/admin/users"
    db.session.expire_all()
    assert db.session.query(StaffUser.role).filter(StaffUser.username == target).scalar() == "lead"


def status_in_database(report_id: Any) -> str:
    from app.reports.models import Report

    db.session.expire_all()
    value = db.session.query(Report.status).filter(Report.id == report_id).scalar()
    db.session.commit()
    return str(value)
