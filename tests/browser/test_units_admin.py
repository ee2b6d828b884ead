"""An administrator imports member units in Debian's Chromium: a file with bad rows shows every one of them and
imports nothing; the corrected file imports; a unit liaison then sees only their own unit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.units.models import Unit
from tests.browser.test_staff_login import account, code, desk, fill_password  # noqa: F401 - fixture
from tests.factories import create_report, create_staff
from tests.units.conftest import xlsx

pytestmark = pytest.mark.browser

ROWS = [
    ["hosp-1", "市第一人民医院", "hospital", "430102", "人民路1号", "是", "王联络", "13812345678"],
    ["sch-1", "实验小学", "school"],
]


def _upload(page: Any, rows: list[list[Any]]) -> None:
    page.set_input_files("#f-file", files=[{"name": "成员单位.xlsx", "mimeType": "application/octet-stream",
                                            "buffer": xlsx(rows)}])
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_load_state()


def _unit_codes() -> set[str]:
    db.session.expire_all()
    codes = set(db.session.scalars(select(Unit.code)))
    db.session.commit()
    return codes


def test_an_import_with_bad_rows_lists_them_imports_nothing_and_the_fixed_file_imports(desk, live_server,  # noqa: F811
                                                                                       screenshots):
    username, secret = account(role="admin")
    fill_password(desk, live_server, username)
    desk.fill("#f-otp", code(secret))
    desk.press("#f-otp", "Enter")
    desk.wait_for_load_state()
    desk.click("nav >> text=成员单位")
    desk.wait_for_load_state()
    desk.click("text=批量导入")
    desk.wait_for_load_state()
    with desk.expect_download() as download:
        desk.click("[data-link=template]")
    assert download.value.suggested_filename.endswith(".xlsx")
    _upload(desk, [ROWS[0], ["bad code", "某单位", "hospital"], ["x-2", None, "prison"], ROWS[1]])
    bad = desk.locator("[data-bad-row]")
    assert sorted(set(bad.evaluate_all("rows => rows.map(r => r.dataset.badRow)"))) == ["3", "4"]
    assert "未导入任何单位" in desk.locator("[data-field=import_error]").inner_text()
    assert "单位代码须为" in desk.locator("[data-bad-row='3']").inner_text()
    assert "此项必填" in desk.locator("#import-problems").inner_text()
    desk.screenshot(path=str(screenshots / "units-import-bad-rows.png"), full_page=True)
    assert _unit_codes() == set()
    _upload(desk, ROWS)
    assert "导入完成：新建 2 个单位" in desk.locator("[data-field=import_result]").inner_text()
    assert _unit_codes() == {"hosp-1", "sch-1"}
    desk.screenshot(path=str(screenshots / "units-list.png"), full_page=True)
    desk.click("text=市第一人民医院")
    desk.wait_for_load_state()
    assert "王联络" in desk.locator("[data-field=liaison_name]").inner_text()
    desk.screenshot(path=str(screenshots / "units-detail.png"), full_page=True)
    desk.goto(f"{live_server}/admin/units/posters")
    assert desk.locator(".poster").count() == 2
    pdf = desk.pdf(format="A4", print_background=True)  # the print stylesheet: one poster per A4 page
    (screenshots / "units-posters.pdf").write_bytes(pdf)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2
    desk.emulate_media(media="print")
    desk.screenshot(path=str(screenshots / "units-posters-print.png"), full_page=True)


def test_a_unit_liaison_sees_their_units_statuses_and_poster_only(desk, live_server, screenshots):  # noqa: F811
    from tests.factories import create_unit

    mine, other = create_unit("hosp-a", name="甲医院"), create_unit("hosp-b", name="乙医院")
    own = create_report(unit=mine, status="transferred")
    theirs = create_report(unit=other)
    user = create_staff(role="unit_liaison", unit=mine, display_name="甲医院联络人")
    username = user.username
    db.session.commit()
    fill_password(desk, live_server, username)
    assert desk.url.endswith("/unit/")
    rows = desk.locator("[data-tracking-no]")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.trackingNo)") == [own.tracking_no]
    assert desk.locator("[data-field=status]").inner_text() == "已移送公安机关"
    assert theirs.tracking_no not in desk.content()
    desk.screenshot(path=str(screenshots / "unit-liaison-home.png"), full_page=True)
    desk.click("[data-link=poster]")
    desk.wait_for_load_state()
    assert "甲医院" in desk.locator(".poster .unit").inner_text()
