"""A report's way through the office and the police at an office PC (1366x768), in Debian's Chromium: the
prosecutor acknowledges an urgent report, asks the reporter, transfers it with step-up and prints the letter; the
police user sees only that report without the reporter, confirms receipt and records 不予立案; the prosecutor starts
supervision, the police explain, the prosecutor concludes and closes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import update

from app.auth.models import StaffSession, StaffUser
from app.core.actor import Actor, ActorKind
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.review import service as review
from tests.browser.test_staff_login import OFFICE_PC, account, code, desk, fill_password  # noqa: F401 - fixture
from tests.factories import create_report

pytestmark = pytest.mark.browser


def police_unit(code_: str = "pcs-flow", name: str = "城北派出所") -> PoliceUnit:
    unit = PoliceUnit(code=code_, name=name, office_id=1)
    db.session.add(unit)
    db.session.commit()
    return unit


def transferred_report(unit: PoliceUnit, *, share: bool = False) -> tuple[Any, Any]:
    """A report transferred to ``unit`` (for pages that need one), committed."""
    report = create_report(status="reviewing", urgent=True)
    actor = Actor(ActorKind.STAFF, id=None, role="prosecutor", office_id=1)
    record = review.transfer(report, police_unit=unit.code, document_no="X检移〔2026〕3号", contact="刘警官",
                             share_reporter=share, note="请依法核查", actor=actor, version=report.version,
                             now=dt.datetime.now(dt.UTC), deadlines=review.Deadlines(),
                             outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    return report, record


def log_in(page: Any, base: str, username: str, secret: str, step: int = 0) -> None:
    fill_password(page, base, username)
    page.fill("#f-otp", code(secret, step))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()


def submit(page: Any, action: str) -> None:
    page.locator(f"form[data-action={action}] button[type=submit]").click()
    page.wait_for_load_state()


def status(page: Any) -> str:
    return page.locator("[data-field=status]").get_attribute("data-status")


def age_step_up(username: str) -> None:
    """The login's second factor is more than 10 minutes old: the transfer must ask for a new one."""
    user_id = db.session.query(StaffUser.id).filter(StaffUser.username == username).scalar()
    db.session.execute(update(StaffSession).where(StaffSession.user_id == user_id)
                       .values(stepped_up_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)))
    db.session.commit()


def test_a_report_goes_from_the_prosecutor_to_the_police_and_back_to_closed(desk, browser, live_server,  # noqa: F811
                                                                            screenshots):
    unit = police_unit()
    report = create_report(urgent=True)
    other = create_report()
    prosecutor, p_secret = account(role="prosecutor", display_name="王检察官")
    officer, o_secret = account(role="police", police_unit=db.session.get(PoliceUnit, unit.id),
                                display_name="李警官")
    report_id, other_id = str(report.id), str(other.id)
    db.session.commit()  # reading the ids began a transaction (on SQLite, holding the write lock): end it
    base, detail = live_server, f"{live_server}/review/reports/{report_id}"

    log_in(desk, base, prosecutor, p_secret)
    row = desk.locator(f"[data-report-id='{report_id}']")
    assert "紧急" in row.inner_text()
    row.locator("a").first.click()
    desk.wait_for_load_state()
    assert status(desk) == "new"
    submit(desk, "acknowledge")
    assert status(desk) == "reviewing"
    desk.fill("#a-ask_reporter-question", "请补充孩子就读的学校和班级")
    submit(desk, "ask_reporter")
    assert "请补充孩子就读的学校和班级" in desk.content()

    age_step_up(prosecutor)
    desk.select_option("#a-transfer-police_unit", "pcs-flow")
    desk.fill("#a-transfer-document_no", "X检移〔2026〕15号")
    desk.fill("#a-transfer-contact", "刘警官 0731-1234567")
    desk.fill("#a-transfer-note", "报告人称伤情严重，请尽快核查")
    submit(desk, "transfer")
    assert "/account/step-up" in desk.url
    assert "移送公安" in desk.locator("[data-field=held_action]").inner_text()
    desk.screenshot(path=str(screenshots / "review-step-up-held.png"), full_page=True)
    desk.fill("#f-otp", code(p_secret, 1))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    # Step-up keeps the action: after the code the transfer is carried out with the values posted before it.
    assert desk.url == detail
    assert status(desk) == "transferred"
    assert "已移送城北派出所" in desk.locator("[data-field=done]").inner_text()
    desk.screenshot(path=str(screenshots / "review-detail.png"), full_page=True)
    desk.locator("a[data-link=letter]").first.click()
    desk.wait_for_load_state()
    assert "X检移〔2026〕15号" in desk.locator("[data-field=document_no]").inner_text()
    assert desk.locator("[data-field=reporter_withheld]").count() == 1
    desk.screenshot(path=str(screenshots / "review-letter.png"), full_page=True)
    desk.emulate_media(media="print")
    assert desk.locator(".toolbar").is_hidden()
    desk.set_viewport_size({"width": 642, "height": 994})  # A4's printable width, for the picture
    desk.screenshot(path=str(screenshots / "review-letter-print.png"), full_page=True)
    pdf = desk.pdf(path=str(screenshots / "review-letter.pdf"), format="A4", prefer_css_page_size=True)
    # A short case's letter is one A4 page, its seal and signature block and receipt slip included.
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1
    desk.emulate_media(media="screen")

    context = browser.new_context(viewport=OFFICE_PC, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    police = context.new_page()
    log_in(police, base, officer, o_secret)
    listed = police.locator("[data-report-id]")
    assert all(listed.nth(i).get_attribute("data-report-id") == report_id for i in range(listed.count()))
    assert police.goto(f"{base}/review/reports/{other_id}").status == 404
    police.goto(detail)
    text = police.content()
    assert "王医生" not in text
    assert "13800000000" not in text
    assert "请补充孩子就读的学校和班级" not in text
    submit(police, "police_acknowledge")
    police.select_option("#a-record_feedback-outcome", "not_filed")
    police.fill("#a-record_feedback-note", "经初查，证据不足")
    submit(police, "record_feedback")
    assert status(police) == "police_responded"
    police.screenshot(path=str(screenshots / "review-police-view.png"), full_page=True)

    desk.goto(detail)
    desk.fill("#a-supervise-note", "请说明不予立案的理由")
    submit(desk, "supervise")
    assert status(desk) == "supervising"
    police.reload()
    police.fill("#a-police_explain-note", "伤情鉴定为轻微伤，不构成犯罪")
    submit(police, "police_explain")
    desk.reload()
    assert "伤情鉴定为轻微伤" in desk.content()
    desk.select_option("#a-conclude_supervision-result", "accept_reasons")
    submit(desk, "conclude_supervision")
    desk.select_option("#a-close-reason", "after_transfer")
    submit(desk, "close")
    assert status(desk) == "closed"
    context.close()


def test_a_prosecutor_sees_the_reporter_masked_and_reveals_it_with_a_new_code(desk, live_server,  # noqa: F811
                                                                              screenshots):
    report = create_report()
    prosecutor, secret = account(role="prosecutor", display_name="王检察官")
    report_id = str(report.id)
    db.session.commit()
    detail = f"{live_server}/review/reports/{report_id}"
    log_in(desk, live_server, prosecutor, secret)
    desk.goto(detail)
    reporter = desk.locator("[data-section=reporter]")
    assert reporter.locator("[data-field='reporter.name']").inner_text() == "王某"
    assert reporter.locator("[data-field='reporter.phone']").inner_text() == "138****0000"
    assert "王医生" not in desk.content()
    age_step_up(prosecutor)
    desk.get_by_role("link", name="查看报告人身份（需再次验证）").click()
    desk.wait_for_load_state()
    assert "/account/step-up" in desk.url
    desk.fill("#f-otp", code(secret, 1))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url == f"{detail}/reporter"
    assert reporter.locator("[data-field='reporter.name']").inner_text() == "王医生"
    assert reporter.locator("[data-field='reporter.phone']").inner_text() == "13800000000"
    assert status(desk) == "new"
    desk.screenshot(path=str(screenshots / "review-reporter-revealed.png"), full_page=True)
    desk.get_by_role("link", name="隐藏报告人身份").click()
    desk.wait_for_load_state()
    assert desk.url == detail
    assert "王医生" not in desk.content()
