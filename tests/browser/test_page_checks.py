"""Every public page passes two outside checkers: axe-core in Chromium (accessibility) and the Nu HTML checker
(vnu.jar, the W3C validator's engine) on the served HTML."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest

from app.core.actor import Actor
from app.extensions import db
from app.reports import answers, service
from app.review import service as review
from tests.browser.conftest import nu_problems
from tests.factories import create_report, create_staff, create_unit

pytestmark = pytest.mark.browser
STATUS_CODE = "ABCDEFGH23"


@pytest.fixture
def seeded(app) -> dict[str, str]:
    """A unit with a poster, a report whose 查询码 we know, and one with a question answered and one open."""
    unit = create_unit("hosp-check")
    report = create_report(unit=unit, commit=False)
    report.status_code_hash = service._hasher.hash(STATUS_CODE)
    asked = create_report(status="reviewing", commit=False)
    asked.status_code_hash = service._hasher.hash(STATUS_CODE)
    prosecutor = Actor.staff(create_staff(role="prosecutor", username="page.check"))
    at = dt.datetime.now(dt.UTC)
    done = review.ask_reporter(asked, "孩子现在和谁一起住？", actor=prosecutor, version=asked.version, now=at)
    answers.record_answer(asked, done.id, "和外婆住。\n外婆的电话我不知道。", actor=Actor.public(), now=at)
    open_question = review.ask_reporter(asked, "请补充孩子就读的学校和年级", actor=prosecutor, version=asked.version,
                                        now=at)
    values = {"unit": unit.code, "tracking_no": report.tracking_no, "asked_tracking_no": asked.tracking_no,
              "open_question": str(open_question.id)}
    db.session.commit()  # read before: a refresh after it would open a transaction the server then waits on
    return values


def _pages(base: str, seeded: dict[str, str]) -> dict[str, str]:
    return {
        "form": f"{base}/report",
        "form-unit": f"{base}/report?unit={seeded['unit']}",
        "form-training": f"{base}/report?training=1",
        "status-lookup": f"{base}/report/status",
        "poster": f"{base}/units/{seeded['unit']}/poster",
        "not-found": f"{base}/no-such-page",
    }


def _visited(page: Any, live_server: str, seeded: dict[str, str]) -> dict[str, str]:
    """Visit every page, the ones behind a form too; name -> the HTML the browser got."""
    html: dict[str, str] = {}
    for name, url in _pages(live_server, seeded).items():
        page.goto(url)
        html[name] = page.content()
        yield name
    page.goto(f"{live_server}/report")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    html["form-errors"] = page.content()
    yield "form-errors"
    page.goto(f"{live_server}/report/status")
    page.fill("#f-tracking_no", "QZBG-2026-999999")
    page.fill("#f-status_code", "WRONGCODE2")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    yield "status-wrong"
    page.goto(f"{live_server}/report/status")
    page.fill("#f-tracking_no", seeded["tracking_no"])
    page.fill("#f-status_code", STATUS_CODE)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert seeded["tracking_no"] in page.content()
    yield "status-view"
    page.goto(f"{live_server}/report/status")
    page.fill("#f-tracking_no", seeded["asked_tracking_no"])
    page.fill("#f-status_code", STATUS_CODE)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("form[data-answer-form]").count() == 1
    yield "status-questions"
    answer = f"#f-text-{seeded['open_question']}"
    page.fill(answer, "   ")  # filled, so the browser sends it; blank to the server
    page.click("form[data-answer-form] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[data-error-for=text]").count() == 1
    yield "status-answer-error"
    page.fill(answer, "实验小学三年级二班")
    page.click("form[data-answer-form] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[data-field=answer_thanks]").count() == 1
    yield "status-answered"


def test_every_public_page_has_no_axe_violations_and_is_valid_html(page, live_server, seeded, tmp_path):
    """One walk through the pages: axe-core on each as it is shown, then the Nu checker on all of them at once
    (skipped, after axe, where there is no JRE)."""
    from axe_playwright_python.sync_playwright import Axe

    axe, found, files = Axe(), {}, []
    for name in _visited(page, live_server, seeded):
        violations = axe.run(page).response["violations"]
        if violations:
            found[name] = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in violations]
        path = tmp_path / f"{name}.html"
        path.write_text(page.content(), encoding="utf-8")
        files.append(str(path))
    assert found == {}
    if shutil.which("java") is None:
        pytest.skip("java is missing: the Nu HTML checker needs a JRE (axe-core passed)")
    assert nu_problems(files) == []
