"""Every staff page passes axe-core (in Chromium) and the Nu HTML checker, logged in as the roles that see it."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, nu_problems
from tests.browser.test_staff_login import account, code, desk, fill_password  # noqa: F401 - fixture
from tests.factories import create_report

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _waiting_account() -> str:
    """An account made by an administrator, waiting for its owner's setup link; returns the link's token."""
    from app.auth import setup_links
    from app.core.actor import Actor
    from app.crypto.vault import get_vault
    from app.extensions import db
    from app.offices import queries as offices

    _, token = setup_links.create_account(
        setup_links.NewUser(username="waiting.user", role="prosecutor", office=offices.default_office(),
                            display_name="待设置的同事"), actor=Actor.system(), now=dt.datetime.now(dt.UTC),
        vault=get_vault())
    db.session.commit()
    return token


def _pages(page: Any, base: str) -> Any:
    """Yield (name) after each page is loaded: login, enrolment, recovery codes, then every staff page."""
    from app.extensions import db
    from app.notify import service as notify

    report = create_report(urgent=True)
    dead = notify.queue("wechat_subscribe", "status_changed", now=report.submitted_at, payload={},
                        report_id=report.id)
    dead.state, dead.attempts, dead.last_error, dead.dead_at = "dead", 6, "wechat:-1", report.submitted_at
    db.session.commit()
    page.goto(f"{base}/login")
    yield "login"
    fill_password(page, base, "nobody-at-all", "wrong password 123")
    yield "login-error"
    admin, _ = account(role="admin", enrolled=False)
    fill_password(page, base, admin)
    yield "enrol"
    secret = page.locator("[data-field=totp_secret]").inner_text().strip()
    page.fill("#f-otp", code(secret))
    page.click("button[type=submit]")
    page.wait_for_load_state()
    yield "recovery-codes"
    _notification_rows()
    setup_token = _waiting_account()
    for path in ("/admin/users", "/admin/police-units", "/admin/audit", "/admin/outbox", "/account/sessions",
                 "/account/password", "/admin/users/new", f"/admin/users/{admin}", "/admin/users/waiting.user",
                 "/admin/police-units/new", "/admin/districts", "/admin/institutions",
                 f"/admin/users/{admin}/role", "/admin/roster", "/admin/sandbox", f"/setup/{setup_token}"):
        page.goto(base + path)
        yield path
    page.goto(base + "/admin/roster")
    page.select_option("#f-user", "")
    page.click("form.entry-form button[type=submit]")  # no one chosen: the form comes back with its errors
    page.wait_for_load_state()
    assert page.locator("#e-user").count() == 1
    from tests.browser.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "admin-roster-errors.png"), full_page=True)
    yield "roster-errors"
    yield from _unit_pages(page, base)
    page.click("text=退出登录")
    page.wait_for_load_state()
    prosecutor, secret = account(role="prosecutor")
    fill_password(page, base, prosecutor)
    yield "otp"
    page.fill("#f-otp", code(secret))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()
    yield "inbox"
    page.goto(f"{base}/account/step-up?next=/review/")
    yield "step-up"
    # The report detail (with every action form of a reviewing report; the reporter masked, then revealed), its
    # transfer letter, phone entry.
    from tests.browser.test_review_flow import police_unit, transferred_report

    unit = police_unit("pcs-checks")
    reviewing, (moved, letter) = create_report(status="reviewing", urgent=True), transferred_report(unit, share=True)
    create_report(now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=30))  # past its acknowledgement: overdue
    practice = create_report(status="reviewing", training=True)
    paths = (f"/review/reports/{reviewing.id}", f"/review/reports/{reviewing.id}/reporter",
             f"/review/reports/{moved.id}",
             f"/review/reports/{moved.id}/transfers/{letter.id}/letter", "/review/reports/new",
             "/review/stats", "/review/stats/meeting", "/review/overdue",
             "/review/?training=1", f"/review/reports/{practice.id}",
             "/review/reports/00000000-0000-0000-0000-000000000000", "/admin/users")  # 404 and 403, staff layout
    case = _filed_case(reviewing)
    paths += ("/review/unreported", "/review/cases", "/review/cases/import", f"/review/cases/{case}",
              "/review/supervision", "/review/unreported/case-school/recommendation")
    db.session.commit()  # reading the ids began a transaction: end it before the pages are asked for
    for path in paths:
        page.goto(base + path)
        yield path
    page.goto(f"{base}/review/stats.xlsx")  # an export: its page while it is written (or already), then ready
    page.wait_for_url("**/exports/*")
    yield "export-page"
    page.locator('[data-field="download"]').wait_for(timeout=60_000)
    yield "export-ready"
    page.goto(f"{base}/review/cases/{case}")
    page.check("input[name=decision][value=excused]")
    page.click("form.entry-form button[type=submit]")  # excused without a reason: the form comes back
    page.wait_for_load_state()
    assert page.locator("[data-error-for=reason]").count() == 1
    yield "case-finding-errors"
    page.click("text=退出登录")
    page.wait_for_load_state()
    liaison, _ = account(role="unit_liaison")
    fill_password(page, base, liaison)
    yield "/unit/"


def _filed_case(report: Any) -> str:
    """A filed case naming two units: one reported the child (the report ``report`` is re-pointed at it), one
    did not; returns the case's id."""
    from sqlalchemy import select

    from app.cases import service as cases
    from app.cases.models import FiledCase
    from app.core.actor import Actor
    from app.core.imports import Row
    from app.crypto.vault import get_vault
    from app.extensions import db
    from tests.factories import create_unit, valid_id_number

    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # filing dates are China dates
    born = today.replace(year=today.year - 9)
    child = valid_id_number(born, serial="777")
    reported = create_unit("case-hosp", name="倒查医院", type="hospital")
    create_unit("case-school", name="倒查小学", type="school")
    report.unit_id, report.victim_id_bidx = reported.id, get_vault().blind_index("victim.id_number", child)
    rows = [Row(2, {"case_no": "公(2026)倒查1号", "filed_at": today.isoformat(), "victim_id_no": child,
                    "victim_name": "小明", "units": "case-hosp;case-school", "category": "abuse_injury"})]
    cases.import_rows(rows, office_id=1, actor=Actor.system(), now=dt.datetime.now(dt.UTC), vault=get_vault())
    return str(db.session.scalars(select(FiledCase.id)).one())


def _unit_pages(page: Any, base: str) -> Any:
    """The member unit pages of an administrator (with a liaison on the unit), their error states, the poster
    sheet."""
    import datetime as dt

    from app.core.actor import Actor
    from app.crypto.vault import get_vault
    from app.extensions import db
    from app.units import service
    from tests.factories import create_unit
    from tests.units.conftest import xlsx

    unit = create_unit("checks-1", name="检查用医院", type="hospital")
    liaison = service.add_liaison(unit, {"name": "王联络", "phone": "13812345678"}, actor=Actor.system(),
                                  now=dt.datetime.now(dt.UTC), vault=get_vault())
    unit_id, liaison_id = unit.id, liaison.id
    db.session.commit()
    for path in ("/admin/units", "/admin/units/new", f"/admin/units/{unit_id}", f"/admin/units/{unit_id}/edit",
                 f"/admin/units/{unit_id}/liaisons/new", f"/admin/units/{unit_id}/liaisons/{liaison_id}",
                 "/admin/units/import", "/admin/units/posters"):
        page.goto(base + path)
        yield path
    page.goto(base + "/admin/units/new")
    page.fill("#f-code", "含 空格")
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_load_state()
    yield "unit-form-errors"
    page.goto(base + "/admin/units/import")
    page.set_input_files("#f-file", files=[{"name": "units.xlsx", "mimeType": "application/octet-stream",
                                            "buffer": xlsx([["bad code", None, "prison"]])}])
    page.click("main form[method=post] button[type=submit]")
    page.wait_for_load_state()
    yield "unit-import-errors"


def _notification_rows() -> None:
    """A shift on the roster, a message nobody could receive, one the sandbox kept: every part of those pages."""
    import datetime as dt

    from app.extensions import db
    from app.notify.models import DutyShift, SandboxMessage
    from tests.factories import create_staff

    pro = create_staff("roster-pro", role="prosecutor", display_name="值班检察官")
    db.session.add(DutyShift(office_id=pro.office_id, user_id=pro.id, weekdays="01234", start_minute=22 * 60,
                             end_minute=8 * 60, channels="email,sms"))
    db.session.add(SandboxMessage(office_id=pro.office_id, kind="new_report", would_be="wecom",
                                  recipient="roster-pro", title="新线索待签收 QZBG-2026-000001",
                                  body="线索编号：QZBG-2026-000001\n事项：新线索待签收",
                                  created_at=dt.datetime.now(dt.UTC)))
    db.session.commit()


def test_every_staff_page_has_no_axe_violations_and_is_valid_html(desk, live_server, tmp_path):  # noqa: F811
    """One walk through the pages: axe-core on each as it is shown, then the Nu checker on all of them at once
    (skipped, after axe, where there is no JRE)."""
    from axe_playwright_python.sync_playwright import Axe

    axe, found, files = Axe(), {}, []
    for name in _pages(desk, live_server):
        violations = axe.run(desk).response["violations"]
        if violations:
            found[name] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
        if name == "/review/unreported" or name.startswith("/review/cases/") and name.count("/") == 3:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = "review-unreported" if name == "/review/unreported" else "review-case"
            desk.screenshot(path=str(SCREENSHOTS / f"{shot}-{desk.viewport_size['width']}.png"), full_page=True)
        path = tmp_path / (name.strip("/").replace("/", "-") + ".html")
        path.write_text(desk.content(), encoding="utf-8")
        files.append(str(path))
    assert found == {}
    if shutil.which("java") is None:
        pytest.skip("java is missing: the Nu HTML checker needs a JRE (axe-core passed)")
    assert nu_problems(files) == []

