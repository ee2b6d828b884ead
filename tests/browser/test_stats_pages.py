"""The statistics page and the joint-meeting view in Debian's Chromium: their data-stat numbers equal counts made
in the database for a seeded office with practice reports that count nowhere; the workbook the page's button
downloads opens with openpyxl and holds the page's numbers; screenshots kept (the page at 1366x768, the meeting
view at 1920x1080 and as A4 landscape print)."""

from __future__ import annotations

from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser.test_staff_login import code, desk, fill_password  # noqa: F401 - fixture
from tests.stats.seed import PERIOD, add_practice_reports, db_counts, seed

pytestmark = pytest.mark.browser


def _log_in(page: Any, base: str, username: str, secret: str) -> None:
    fill_password(page, base, username)
    page.fill("#f-otp", code(secret))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()


def _shown(page: Any) -> dict[str, int]:
    cells = page.locator("[data-stat]")
    return {cells.nth(i).get_attribute("data-stat"): int(cells.nth(i).inner_text().strip())
            for i in range(cells.count())}


def test_the_stats_page_and_the_meeting_view_show_the_databases_counts(app, desk, live_server,  # noqa: F811
                                                                       screenshots):
    from app.extensions import db

    seeded = seed()
    add_practice_reports(seeded)
    expected = db_counts()
    assert db_counts(training=True)["received"] == expected["received"] + 3  # they are there, and left out
    username, secret = seeded.prosecutor.username, seeded.prosecutor.unseal("totp_secret_data")
    db.session.commit()  # the test's own reads end here: on SQLite its transaction would hold the write lock
    _log_in(desk, live_server, username, secret)
    desk.goto(f"{live_server}/review/stats?{PERIOD}")
    assert desk.locator("h1").inner_text().startswith("强制报告统计")
    assert _shown(desk) == expected
    assert desk.locator("svg.chart").count() >= 5
    desk.screenshot(path=str(screenshots / "stats-page.png"), full_page=True)
    desk.click("text=导出统计 Excel")  # an export: its page, whose bar moves until the download link shows
    desk.wait_for_url("**/exports/*")
    link = desk.locator('[data-field="download"]')
    link.wait_for(timeout=60_000)
    desk.screenshot(path=str(screenshots / "stats-export-ready.png"), full_page=True)
    with desk.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".xlsx")
    download.value.save_as(screenshots / "stats.xlsx")  # kept beside the screenshots
    book = load_workbook(screenshots / "stats.xlsx", read_only=True)
    summary = {row[1]: row[2] for row in book["概况"].iter_rows(min_row=3, values_only=True) if row[1]}
    assert {name: summary[name] for name in expected} == expected

    desk.set_viewport_size({"width": 1920, "height": 1080})
    desk.goto(f"{live_server}/review/stats/meeting?{PERIOD}")
    assert _shown(desk) == expected
    big = desk.locator('[data-stat="received"]').evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert big >= 48  # large type for a projector
    desk.screenshot(path=str(screenshots / "stats-meeting.png"), full_page=False)
    desk.emulate_media(media="print")
    desk.screenshot(path=str(screenshots / "stats-meeting-print.png"), full_page=True)
