"""A person on a phone reports through the web form, meets a field error, fixes it, and checks the status."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image

CST = dt.timezone(dt.timedelta(hours=8))
TRACKING_NO = re.compile(r"^QZBG-\d{4}-\d{6}$")
STATUS_CODE = re.compile(r"^[2-9A-HJKMNP-Z]{10}$")

pytestmark = pytest.mark.browser


def photo_jpeg() -> bytes:
    """A small real JPEG, as a phone camera would hand over (only smaller)."""
    image = Image.new("RGB", (320, 240), (230, 200, 180))
    for x in range(120, 200):
        for y in range(80, 160):
            image.putpixel((x, y), (150, 60, 90))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def expect_visible(locator: Any) -> Any:
    locator.wait_for(state="visible")
    assert locator.is_visible()
    return locator


def test_a_person_reports_on_a_phone_fixes_a_wrong_phone_number_and_checks_the_status(
    app: Flask, live_server: str, page: Any, screenshots: Path
) -> None:
    app.config["QZBG"] = app.config["QZBG"].replace(office_phone="0571-87000000")
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{live_server}/report")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    expect_visible(page.get_by_text("情况紧急请立即拨打110报警"))
    page.screenshot(path=str(screenshots / "report-form-empty.png"), full_page=True)

    situation = page.get_by_role("region", name="发现的情形")
    situation.get_by_label(re.compile("身体存在多处损伤")).check()
    reporter = page.get_by_role("region", name="报告人")
    reporter.get_by_label(re.compile(r"^姓名")).fill("王医生")
    reporter.get_by_label("联系电话").fill("1380000")  # a digit short: a typo
    reporter.get_by_label("职务/身份").fill("急诊科医生")
    victim = page.get_by_role("region", name="被侵害未成年人")
    victim.get_by_label(re.compile(r"^姓名")).fill("小花")
    victim.get_by_label("女", exact=True).check()
    victim.get_by_label("年龄（周岁）").fill("9")
    incident = page.get_by_role("region", name="发现经过")
    discovered = (dt.datetime.now(CST) - dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    incident.get_by_label("发现时间").fill(discovered)
    incident.get_by_label("地点").fill("市妇幼保健院急诊科")
    incident.get_by_label("情况描述").fill("接诊时发现患儿手臂和背部有多处新旧不一的淤伤，家长对受伤经过的解释前后矛盾。")
    photo = {"name": "伤情照片.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
    page.get_by_label("照片、视频、录音或病历").set_input_files(photo)
    # 是否已报警 is left unanswered: it has no default, so the form asks for it.
    police = page.get_by_role("region", name="报警情况")
    assert not police.get_by_label("是", exact=True).is_checked()
    assert not police.get_by_label("否", exact=True).is_checked()
    page.get_by_role("button", name="提交报告").click()

    # Every error at once, each beside its field; what was typed is still there.
    page.wait_for_load_state()
    summary = expect_visible(page.locator("#form-errors"))
    # Focus is on the summary, so a screen reader reads it and a keyboard starts there.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'form-errors'")
    assert "报告人联系电话" in summary.inner_text()
    assert "是否已报警" in summary.inner_text()
    phone_field = page.locator(".field", has=page.locator('input[name="reporter.phone"]'))
    error = expect_visible(phone_field.locator('[data-error-for="reporter.phone"]'))
    assert "手机号码" in error.inner_text()
    expect_visible(page.locator('fieldset#f-police\\.notified [data-error-for="police.notified"]'))
    assert sorted(page.locator("[data-error-for]").evaluate_all("els => els.map(e => e.dataset.errorFor)")) == [
        "police.notified", "reporter.phone",
    ]
    assert page.get_by_role("region", name="报告人").get_by_label("联系电话").input_value() == "1380000"
    assert page.get_by_role("region", name="报告人").get_by_label(re.compile(r"^姓名")).input_value() == "王医生"
    assert page.get_by_role("region", name="被侵害未成年人").get_by_label("女", exact=True).is_checked()
    assert page.get_by_role("region", name="发现经过").get_by_label("发现时间").input_value() == discovered
    # The photo was kept (sealed, for this form) and is listed with a box to leave it out.
    files = page.get_by_role("region", name="附件")
    expect_visible(files.get_by_text("伤情照片.jpg", exact=True))
    assert not files.get_by_label("删除“伤情照片.jpg”").is_checked()
    page.screenshot(path=str(screenshots / "report-form-field-error.png"), full_page=True)
    files.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "report-form-staged-file.png"))

    # A summary link takes the keyboard to its field.
    summary.get_by_role("link", name=re.compile("报告人联系电话")).click()
    page.wait_for_function("document.activeElement && document.activeElement.name === 'reporter.phone'")
    page.get_by_role("region", name="报告人").get_by_label("联系电话").fill("13800000000")
    page.get_by_role("region", name="报警情况").get_by_label("否", exact=True).check()
    page.get_by_role("button", name="提交报告").click()  # the photo is not chosen again

    page.wait_for_url(re.compile(r"/report/receipt/[A-Za-z0-9_-]+$"))
    tracking_no = page.locator('[data-field="tracking_no"]').inner_text().strip()
    status_code = page.locator('[data-field="status_code"]').inner_text().strip()
    assert TRACKING_NO.match(tracking_no), tracking_no
    assert STATUS_CODE.match(status_code), status_code
    expect_visible(page.get_by_text("情况紧急请立即拨打110报警"))
    expect_visible(page.get_by_role("heading", name="接下来会怎样"))
    assert page.get_by_role("link", name="0571-87000000").get_attribute("href") == "tel:0571-87000000"
    page.screenshot(path=str(screenshots / "report-receipt.png"), full_page=True)

    page.get_by_role("link", name="查询办理进度").first.click()
    page.get_by_label("查询号").fill(tracking_no)
    page.get_by_label("查询码").fill(status_code)
    page.get_by_role("button", name="查询").click()

    expect_visible(page.locator('[data-field="status"]'))
    assert page.locator('[data-field="status"]').inner_text().strip() == "已提交"
    assert page.locator('[data-field="tracking_no"]').inner_text().strip() == tracking_no
    expect_visible(page.get_by_text("附件 1 个"))  # the photo chosen before the error went with the report
    page.screenshot(path=str(screenshots / "report-status.png"), full_page=True)
    # Only the 422 of the refused post; nothing the Content-Security-Policy blocked.
    assert [e for e in console_errors if "422" not in e] == []


def test_a_wrong_status_code_is_told_on_the_lookup_page(live_server: str, page: Any, screenshots: Path) -> None:
    page.goto(f"{live_server}/report/status")
    page.get_by_label("查询号").fill("QZBG-2026-000001")
    page.get_by_label("查询码").fill("ABCDEFGHJK")

    with page.expect_response(re.compile(r"/report/status$")) as answer:
        page.get_by_role("button", name="查询").click()

    assert answer.value.status == 404
    expect_visible(page.get_by_text("查询号或查询码不正确"))
    page.screenshot(path=str(screenshots / "report-status-wrong-code.png"), full_page=True)


def test_a_session_that_expired_while_typing_keeps_the_input_and_the_report_goes_through(
    live_server: str, page: Any, screenshots: Path
) -> None:
    page.goto(f"{live_server}/report")
    page.get_by_role("region", name="发现的情形").get_by_label(re.compile("被遗弃")).check()
    reporter = page.get_by_role("region", name="报告人")
    reporter.get_by_label(re.compile(r"^姓名")).fill("李老师")
    reporter.get_by_label("联系电话").fill("13900000000")
    page.get_by_role("region", name="被侵害未成年人").get_by_label("男", exact=True).check()
    incident = page.get_by_role("region", name="发现经过")
    incident.get_by_label("发现时间").fill((dt.datetime.now(CST) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    incident.get_by_label("情况描述").fill("学生连续多日独自在校门口等到深夜，说家里没有大人。")
    page.get_by_role("region", name="报警情况").get_by_label("是", exact=True).check()
    page.context.clear_cookies()  # WeChat's browser dropped the session

    with page.expect_response(re.compile(r"/report$")) as answer:
        page.get_by_role("button", name="提交报告").click()

    assert answer.value.status == 400
    summary = expect_visible(page.locator("#form-errors"))
    assert "页面已过期" in summary.inner_text()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'form-errors'")
    assert page.get_by_role("region", name="报告人").get_by_label(re.compile(r"^姓名")).input_value() == "李老师"
    assert page.get_by_role("region", name="报警情况").get_by_label("是", exact=True).is_checked()
    page.screenshot(path=str(screenshots / "report-form-session-expired.png"), full_page=True)

    page.get_by_role("button", name="提交报告").click()

    page.wait_for_url(re.compile(r"/report/receipt/[A-Za-z0-9_-]+$"))
    assert STATUS_CODE.match(page.locator('[data-field="status_code"]').inner_text().strip())
