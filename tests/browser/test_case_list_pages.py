"""The inbox as a case list in Debian's Chromium, for a lead and for a police user: axe-core finds nothing, the Nu
HTML checker finds nothing, the urgent badge and the short cells stay on one line at 1366 wide (their boxes
measured), sorting and a bulk 签收 work with the mouse, the export downloads a workbook; screenshots at 1366x768
and 1920x1080 for people to look at."""

from __future__ import annotations

import datetime as dt
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import nu_problems
from tests.browser.test_review_flow import log_in, police_unit
from tests.browser.test_staff_login import account, desk  # noqa: F401 - fixture
from tests.factories import create_report, create_unit

pytestmark = pytest.mark.browser
WIDE = {"width": 1920, "height": 1080}


def _office() -> list[Any]:
    """A working day's list: urgent and overdue reports, long unit names, districts with names, an assignee."""
    from app.extensions import db
    from app.offices.models import OfficeDistrict

    db.session.add_all([OfficeDistrict(code="430181", name="浏阳市", office_id=1),
                        OfficeDistrict(code="430182", name="宁乡市", office_id=1)])
    units = [create_unit(name="浏阳市集里街道中心幼儿园（含附属托育部）", type="kindergarten", district_code="430181"),
             create_unit(name="宁乡市人民医院", type="hospital", district_code="430182"),
             create_unit(name="浏阳市第一中学", type="school", district_code="430181")]
    now = dt.datetime.now(dt.UTC)
    made = []
    for i in range(12):
        made.append(create_report(
            unit=units[i % 3] if i % 4 else None, urgent=i % 3 == 0, now=now - dt.timedelta(hours=i * 5 + 0.3),
            status=("new", "reviewing", "new", "transferred")[i % 4],
            categories=["abuse_injury", "sexual_assault_pregnancy_14_plus"] if i % 5 == 0 else ["abandonment"],
            commit=False))
    db.session.commit()
    return made


def _one_line(page: Any, selector: str) -> None:
    """The content of every element of ``selector`` is one line high: the box of what it holds (a cell's box is
    its row's) no taller than its line height and a little."""
    heights = page.locator(selector).evaluate_all("""els => els.map(e => {
        const range = document.createRange();
        range.selectNodeContents(e);
        return [range.getBoundingClientRect().height, parseFloat(getComputedStyle(e).lineHeight)];
    })""")
    assert heights, selector
    for height, line in heights:
        assert height < line * 1.5, (selector, height, line)


def _axe(page: Any) -> list[Any]:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]


def _nu(pages: dict[str, str], folder: Path) -> list[Any]:
    if shutil.which("java") is None:
        return []
    files = []
    for name, content in pages.items():
        path = folder / f"{name}.html"
        path.write_text(content, encoding="utf-8")
        files.append(str(path))
    return nu_problems(files)


def test_a_leads_case_list_sorts_acknowledges_in_bulk_exports_and_never_wraps_at_1366(app, desk, live_server,  # noqa: F811
                                                                                     screenshots, tmp_path):
    from app.extensions import db
    from app.reports.models import Report

    made = _office()
    fresh = [r.id for r in made if r.status == "new"][:2]
    db.session.commit()  # the test's own reads end here: on SQLite its transaction would hold the write lock
    lead, secret = account(role="lead", display_name="赵科长")
    account(role="prosecutor", display_name="王检察官")
    log_in(desk, live_server, lead, secret)
    desk.goto(f"{live_server}/review/")
    assert desk.locator("[data-report-id]").count() == 12
    # At 1366 wide: the badges, numbers, times, statuses and timers each keep to one line, and nothing overflows.
    _one_line(desk, "span.urgent")
    _one_line(desk, "td.nowrap")
    assert desk.evaluate("document.documentElement.scrollWidth") <= 1366
    desk.screenshot(path=str(screenshots / "inbox-lead-1366.png"), full_page=True)
    found, html = {"lead": _axe(desk)}, {"inbox-lead": desk.content()}

    desk.click("th a[data-sort=deadline]")
    desk.wait_for_load_state()
    assert "sort=deadline" in desk.url
    assert desk.locator("th[aria-sort=ascending]").count() == 1
    html["inbox-lead-sorted"] = desk.content()

    for report_id in fresh:
        desk.check(f"input[name=report][value^='{report_id}:']")
    desk.click("button[value=acknowledge]")
    desk.wait_for_load_state()
    done = desk.locator("[data-field=done]").inner_text()
    assert done.startswith("已签收：2 条")
    db.session.expire_all()
    assert {db.session.get(Report, report_id).status for report_id in fresh} == {"reviewing"}
    db.session.commit()
    desk.screenshot(path=str(screenshots / "inbox-lead-bulk-done.png"), full_page=True)
    found["lead-bulk"] = _axe(desk)
    html["inbox-lead-bulk"] = desk.content()

    desk.click("[data-field=export]")  # an export: its page, then the download link once the runner wrote it
    desk.wait_for_url("**/exports/*")
    link = desk.locator("[data-field=download]")
    link.wait_for(timeout=60_000)
    with desk.expect_download() as download:
        link.click()
    saved = tmp_path / "list.xlsx"
    download.value.save_as(saved)
    sheet = load_workbook(io.BytesIO(saved.read_bytes()), read_only=True)["线索列表"]
    assert len([row for row in sheet.iter_rows(min_row=4, values_only=True) if row[0]]) == 12

    desk.set_viewport_size(WIDE)
    desk.goto(f"{live_server}/review/")
    _one_line(desk, "span.urgent")
    desk.screenshot(path=str(screenshots / "inbox-lead-1920.png"), full_page=False)
    assert found == {"lead": [], "lead-bulk": []}
    assert _nu(html, tmp_path) == []


def test_a_police_users_list_shows_their_tabs_receipt_and_contact_at_1366_and_1920(app, desk, live_server,  # noqa: F811
                                                                                   screenshots, tmp_path):
    from app.extensions import db
    from app.offices.models import PoliceUnit
    from tests.browser.test_review_flow import transferred_report

    unit = police_unit("pcs-list", "城关派出所")
    for _ in range(3):
        transferred_report(unit)
    officer, secret = account(role="police", police_unit=db.session.get(PoliceUnit, unit.id), display_name="李警官")
    log_in(desk, live_server, officer, secret)
    desk.goto(f"{live_server}/review/")
    assert desk.locator("[data-report-id]").count() == 3
    assert desk.locator("[data-police-tab-count=receipt]").inner_text() == "3"
    assert desk.locator("[data-field=contact]").first.inner_text() == "刘警官"
    assert desk.locator("#f-category").count() == 0
    _one_line(desk, "span.urgent")
    _one_line(desk, "td.nowrap")
    desk.screenshot(path=str(screenshots / "inbox-police-1366.png"), full_page=True)
    found, html = {"police": _axe(desk)}, {"inbox-police": desk.content()}
    desk.click("text=待签收")
    desk.wait_for_load_state()
    assert desk.locator("[data-report-id]").count() == 3
    desk.set_viewport_size(WIDE)
    desk.goto(f"{live_server}/review/")
    desk.screenshot(path=str(screenshots / "inbox-police-1920.png"), full_page=False)
    assert found == {"police": []}
    assert _nu(html, tmp_path) == []
