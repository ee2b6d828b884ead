"""An administrator gives a new colleague an account in Chromium, at an office PC (1366×768) and a wide screen
(1920×1080): the form, a refused user name beside its field, the setup link shown once, the list."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.offices.models import PoliceUnit
from tests.browser.test_review_flow import log_in
from tests.browser.test_staff_login import account

pytestmark = pytest.mark.browser
WIDE = {"width": 1920, "height": 1080}
OFFICE_PC = {"width": 1366, "height": 768}


@pytest.mark.parametrize("viewport", [OFFICE_PC, WIDE], ids=["1366", "1920"])
def test_an_admin_creates_an_account_and_hands_over_the_setup_link(browser, live_server, screenshots, viewport):
    db.session.add(PoliceUnit(code="pcs-west", name="城西派出所", office_id=1))
    admin, secret = account(role="admin", display_name="管理员")
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page: Any = context.new_page()
    width = viewport["width"]
    try:
        log_in(page, live_server, admin, secret)
        page.goto(f"{live_server}/admin/users")
        page.click("[data-link=new_user]")
        page.wait_for_load_state()
        page.fill("#f-username", "x")
        page.select_option("#f-role", "police")
        page.click("form[action$='/admin/users/new'] button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("[data-error-for=username]").count() == 1
        assert page.locator("[data-error-for=police_unit]").count() == 1
        page.screenshot(path=str(screenshots / f"admin-user-new-errors-{width}.png"), full_page=True)
        page.fill("#f-username", "xu.jg")
        page.fill("#f-display_name", "徐警官")
        page.select_option("#f-police_unit", "pcs-west")
        page.fill("#f-mobile", "13900000002")
        page.click("form[action$='/admin/users/new'] button[type=submit]")
        page.wait_for_load_state()
        assert page.url.endswith("/admin/users/xu.jg")
        link = page.locator("[data-field=setup_link]").inner_text()
        assert "/setup/" in link
        page.screenshot(path=str(screenshots / f"admin-user-detail-{width}.png"), full_page=True)
        page.goto(f"{live_server}/admin/users")
        assert "城西派出所" in page.locator("[data-username='xu.jg']").inner_text()
        page.screenshot(path=str(screenshots / f"admin-users-{width}.png"), full_page=True)
    finally:
        context.close()
