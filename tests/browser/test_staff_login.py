"""A new prosecutor, a locked account and a police user at an office PC (1366x768), in Debian's Chromium."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from app.extensions import db
from tests.factories import STAFF_PASSWORD, create_staff

pytestmark = pytest.mark.browser
OFFICE_PC = {"width": 1366, "height": 768}


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=OFFICE_PC, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def account(**kwargs: Any) -> tuple[str, str | None]:
    user = create_staff(**kwargs)
    name, secret = user.username, user.unseal("totp_secret_data") if user.totp_secret_data else None
    db.session.commit()
    return name, secret


def code(secret: str, step: int = 0) -> str:
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * step))


def fill_password(page: Any, base: str, username: str, password: str = STAFF_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.press("#f-password", "Enter")  # the keyboard alone is enough
    page.wait_for_load_state()


def test_a_new_prosecutor_enrols_saves_codes_logs_out_and_in_again(desk, live_server, screenshots):
    username, _ = account(role="prosecutor", enrolled=False, display_name="王检察官")
    fill_password(desk, live_server, username)
    assert desk.url.endswith("/login/enrol")
    secret = desk.locator("[data-field=totp_secret]").inner_text().strip()
    desk.screenshot(path=str(screenshots / "staff-enrol.png"), full_page=True)
    desk.fill("#f-otp", code(secret))
    desk.click("button[type=submit]")
    desk.wait_for_load_state()
    codes = desk.locator("[data-field=recovery_codes] li").all_inner_texts()
    assert len(codes) == 10
    desk.screenshot(path=str(screenshots / "staff-recovery-codes.png"), full_page=True)
    desk.click("text=我已保存，继续")
    desk.wait_for_load_state()
    assert desk.url.endswith("/review/")
    assert "王检察官" in desk.locator("[data-field=staff_user]").inner_text()
    desk.screenshot(path=str(screenshots / "staff-inbox-empty.png"), full_page=True)
    desk.click("text=退出登录")
    desk.wait_for_load_state()
    assert desk.url.endswith("/login")
    fill_password(desk, live_server, username)
    assert desk.url.endswith("/login/otp")
    desk.fill("#f-otp", code(secret, 1))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url.endswith("/review/")


def test_a_locked_account_is_told_nothing_more_than_a_wrong_password(desk, live_server, screenshots):
    username, _ = account(role="prosecutor")
    for _ in range(5):
        fill_password(desk, live_server, username, "wrong password 123")
    fill_password(desk, live_server, username)
    message = desk.locator("[data-field=login_error]").inner_text()
    assert "锁定" in message
    assert desk.url.endswith("/login")
    desk.screenshot(path=str(screenshots / "staff-locked.png"), full_page=True)


def test_a_police_user_logs_in_and_sees_only_their_list(desk, live_server, screenshots):
    username, secret = account(role="police", display_name="李警官")
    fill_password(desk, live_server, username)
    desk.fill("#f-otp", code(secret))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    assert desk.url.endswith("/review/")
    nav = desk.locator(".staff-nav").inner_text()
    assert "审计日志" not in nav
    desk.screenshot(path=str(screenshots / "staff-police-inbox.png"), full_page=True)
