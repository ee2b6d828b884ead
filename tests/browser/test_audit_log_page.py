"""An administrator reads the audit log in Chromium at an office PC (1366×768) and a wide screen (1920×1080): names
instead of ids, the person and action lists, a report number, a refused date beside its field, the export
downloaded; each state passes axe-core and the Nu HTML checker, and is photographed."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from app.audit import service as audit
from app.core.actor import Actor
from app.extensions import db
from app.offices.models import PoliceUnit
from tests.browser.conftest import nu_problems
from tests.browser.test_review_flow import log_in
from tests.browser.test_staff_login import account
from tests.factories import create_report, create_staff, create_unit

pytestmark = pytest.mark.browser
WIDE = {"width": 1920, "height": 1080}
OFFICE_PC = {"width": 1366, "height": 768}


def _log(admin_name: str) -> str:
    """A month of an office's work in the log; returns the report's tracking number."""
    from app.auth import service as auth

    admin = auth.find_by_username(admin_name)
    prosecutor = create_staff("wang.jc", role="prosecutor", display_name="王检察官")
    lead = create_staff("zhao.fz", role="lead", display_name="赵主任")
    report = create_report(status="reviewing", commit=False)
    unit = create_unit("school-7", name="实验小学")
    police = PoliceUnit(code="pcs-east", name="城东派出所", office_id=1)
    db.session.add(police)
    db.session.flush()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    steps = [
        (prosecutor, "report.view", "report", report.id), (prosecutor, "report.acknowledge", "report", report.id),
        (lead, "report.assign", "report", report.id), (prosecutor, "report.reveal_reporter", "report", report.id),
        (admin, "unit.update", "unit", unit.code), (admin, "police_unit.update", "police_unit", police.id),
        (admin, "user.change_role", "staff_user", lead.id), (prosecutor, "report.transfer", "report", report.id),
    ]
    for day, (who, action, kind, target) in enumerate(steps):
        audit.record(Actor.staff(who, ip="10.20.30.40", request_id=f"req-{day}"), action,
                     now=start + dt.timedelta(days=day, hours=2), target_type=kind, target_id=target, office_id=1)
    number = str(report.tracking_no)
    db.session.commit()  # and no read after it: the live server's requests must not wait on this session
    return number


def _axe(page: Any) -> list[Any]:
    from axe_playwright_python.sync_playwright import Axe

    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in Axe().run(page).response["violations"]]


@pytest.mark.parametrize("viewport", [OFFICE_PC, WIDE], ids=["1366", "1920"])
def test_an_admin_reads_filters_and_exports_the_audit_log(browser, live_server, screenshots, tmp_path, viewport):
    admin, secret = account(role="admin", display_name="孙管理员")
    number = _log(admin)
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
    page: Any = context.new_page()
    width = viewport["width"]
    states: list[Path] = []

    def check(name: str) -> None:
        assert _axe(page) == [], name
        path = tmp_path / f"audit-{name}.html"
        path.write_text(page.content(), encoding="utf-8")
        states.append(path)
        page.screenshot(path=str(screenshots / f"admin-audit-{name}-{width}.png"), full_page=True)

    try:
        log_in(page, live_server, admin, secret)
        page.goto(f"{live_server}/admin/audit")
        table = page.locator("table.audit-table").inner_text()
        for shown in ("移送公安", "指派承办人", "查看报告人身份", "修改成员单位", "王检察官", "赵主任", number,
                      "实验小学（school-7）", "城东派出所"):
            assert shown in table, shown
        check("all")
        page.select_option("#f-actor", "wang.jc")
        page.select_option("#f-action", "report.view")
        page.fill("#f-report", number.rsplit("-", 1)[1].lstrip("0"))
        page.click(".audit-filters button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("tr[data-audit-seq]").count() == 1
        assert "查看线索" in page.locator("tr[data-audit-seq]").inner_text()
        check("filtered")
        page.goto(f"{live_server}/admin/audit")
        page.fill("#f-report", "abc")
        page.click(".audit-filters button[type=submit]")
        page.wait_for_load_state()
        assert page.locator("[data-error-for=report]").count() == 1
        assert page.locator("tr[data-audit-seq]").count() == 0
        check("errors")
        page.goto(f"{live_server}/admin/audit?action=report.transfer")
        page.click("[data-link=export]")  # an export: its page, then the download link once the runner wrote it
        page.wait_for_url("**/exports/*")
        link = page.locator("[data-field=download]")
        link.wait_for(timeout=60_000)
        check("export")
        with page.expect_download() as download:
            link.click()
        sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
        lines = [[c.value for c in line] for line in sheet.iter_rows(min_row=3)]
        assert [line[5] for line in lines] == ["移送公安"]
        if shutil.which("java"):
            assert nu_problems(states) == []
    finally:
        context.close()
