"""The trainer of a training deployment in Chromium, at an office PC (1366×768) and a wide screen (1920×1080): the
training page, the printable sheet of trainee accounts with their QR codes, a reset watched on its progress page
(with JavaScript, and without), the login page saying why the session ended, and the same printed credentials
logging in again. Every one of these pages passes axe-core and the Nu HTML checker."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask

from app.demo import reset, snapshot
from tests.browser.conftest import nu_problems
from tests.demo.conftest import demo_lines

pytestmark = pytest.mark.browser
OFFICE_PC = {"width": 1366, "height": 768}
WIDE = {"width": 1920, "height": 1080}


@pytest.fixture
def app(make_app: Any) -> Iterator[Flask]:
    """A training deployment (served by ``live_server``), seeded with a few reports."""
    application = make_app(training=True)
    yield application
    settings = application.config["QZBG"]
    for leftover in (snapshot.path(settings), reset.status_path(settings)):
        leftover.unlink(missing_ok=True)


@pytest.fixture
def accounts(app: Flask) -> dict[str, tuple[str, str, str]]:
    from app.notify import heartbeat

    result = app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "12"])
    assert result.exit_code == 0, result.output
    heartbeat.beat(heartbeat.Identity.here(), dt.datetime.now(dt.UTC))  # no 通知服务未运行 banner (its own tests)
    return demo_lines(result.output)


def open_page(browser: Any, viewport: dict[str, int], *, javascript: bool = True) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  java_script_enabled=javascript)
    context.set_default_timeout(20_000)
    return context.new_page()


def log_in(page: Any, base: str, username: str, accounts: dict[str, tuple[str, str, str]], *, step: int = 0,
           next_url: str | None = None) -> None:
    """The printed credentials, typed as a trainee types them (the code from the authenticator)."""
    password, secret, _role = accounts[username]
    page.goto(f"{base}/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.press("#f-password", "Enter")
    page.wait_for_load_state()
    page.fill("#f-otp", pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * step)))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()


@pytest.mark.parametrize("viewport", [OFFICE_PC, WIDE], ids=["1366", "1920"])
def test_the_trainer_prints_the_accounts_resets_the_data_and_logs_in_again(browser, live_server, accounts, screenshots,
                                                                          viewport):
    page, width = open_page(browser, viewport), viewport["width"]
    try:
        log_in(page, live_server, "demo.trainer", accounts)
        assert page.url == f"{live_server}/training/"
        page.screenshot(path=str(screenshots / f"training-home-{width}.png"), full_page=True)
        page.click("a[href='/training/accounts']")
        page.wait_for_load_state()
        assert page.locator("[data-username] svg").count() == 9  # every account but the liaison's has a code
        assert page.locator("[data-username='demo.liaison'] svg").count() == 0
        assert page.locator("[data-username='demo.prosecutor'] [data-field=password]").inner_text() == \
            accounts["demo.prosecutor"][0]
        page.screenshot(path=str(screenshots / f"training-accounts-{width}.png"), full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=str(screenshots / f"training-accounts-print-{width}.png"), full_page=True)
        page.emulate_media(media="screen")
        page.goto(f"{live_server}/training/")
        page.click("form[data-action=reset] button[type=submit]")
        # progress.js follows the job; once every session has ended it lands on the login page.
        page.wait_for_url(re.compile(r".*/login\?next=.*"), timeout=120_000)
        ended = page.locator("[data-field=session_ended]")
        assert "培训数据已重置" in ended.inner_text()
        page.screenshot(path=str(screenshots / f"training-login-session-ended-{width}.png"), full_page=True)
        job = re.search(r"next=%2Ftraining%2Freset%2F([0-9a-f]{16})|next=/training/reset/([0-9a-f]{16})", page.url)
        assert job, page.url
        job_id = job[1] or job[2]
        log_in(page, live_server, "demo.trainer", accounts, step=1, next_url=f"/training/reset/{job_id}")
        assert page.url == f"{live_server}/training/reset/{job_id}"
        assert "培训数据已重置" in page.locator("[data-field=reset_done]").inner_text()
        page.screenshot(path=str(screenshots / f"training-reset-done-{width}.png"), full_page=True)
    finally:
        page.context.close()


def test_the_reset_is_followed_to_its_end_without_javascript(browser, live_server, accounts):
    page = open_page(browser, OFFICE_PC, javascript=False)
    try:
        log_in(page, live_server, "demo.trainer", accounts)
        page.click("form[data-action=reset] button[type=submit]")
        page.wait_for_url(re.compile(r".*/login\?next=.*"), timeout=120_000)  # the page refreshed itself
        assert "培训数据已重置" in page.locator("[data-field=session_ended]").inner_text()
    finally:
        page.context.close()


def _checked_pages(page: Any, base: str, accounts: dict[str, tuple[str, str, str]], app: Flask,
                   screenshots: Path) -> Iterator[str]:
    """Yield a name after each page to check is loaded."""
    log_in(page, base, "demo.trainer", accounts)
    yield "training"
    page.goto(f"{base}/training/accounts")
    yield "training-accounts"
    settings = app.config["QZBG"]
    lock = reset._lock(settings)  # a reset of another worker process, halfway
    try:
        tracker = reset._Tracker(settings, "0123456789abcdef", dt.datetime.now(dt.UTC))
        tracker("restore", 40, 100)
        tracker.write()
        page.goto(f"{base}/training/reset/0123456789abcdef")
        for viewport in (OFFICE_PC, WIDE):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(screenshots / f"training-reset-running-{viewport['width']}.png"), full_page=True)
        page.set_viewport_size(OFFICE_PC)
        yield "training-reset-running"
        # Away from the running page before the reset ends: its script would reload it as the next page is asked
        # for, and one of the two navigations would be aborted.
        page.goto("about:blank")
    finally:
        reset._unlock(lock)
    page.goto(f"{base}/training/reset/0123456789abcdef")
    yield "training-reset-failed"
    page.goto(f"{base}/training/")
    page.click("form[data-action=reset] button[type=submit]")
    page.wait_for_url(re.compile(r".*/login\?next=.*"), timeout=120_000)
    yield "login-session-ended"
    log_in(page, base, "demo.trainer", accounts, step=1, next_url="/training/")
    yield "training-after-reset"


@pytest.mark.skipif(shutil.which("java") is None, reason="java is missing: the Nu HTML checker needs a JRE")
def test_the_training_pages_have_no_axe_violations_and_are_valid_html(browser, live_server, accounts, app,
                                                                      screenshots, tmp_path):
    from axe_playwright_python.sync_playwright import Axe

    page, axe, found, files = open_page(browser, OFFICE_PC), Axe(), {}, []
    try:
        for name in _checked_pages(page, live_server, accounts, app, screenshots):
            violations = axe.run(page).response["violations"]
            if violations:
                found[name] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
            path = tmp_path / f"{name}.html"
            path.write_text(page.content(), encoding="utf-8")
            files.append(str(path))
    finally:
        page.context.close()
    assert found == {}
    assert nu_problems(files) == []
