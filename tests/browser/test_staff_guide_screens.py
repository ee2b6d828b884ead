"""The screenshots of the staff guide (docs/staff-guide.md), taken at an office PC's 1366x768 in Debian's Chromium.

Each screen is checked before it is taken (a hook of CONTRACT.md or of the page is there), so a guide picture
never shows an error page. The pictures are the viewport only, to stay small. A normal run writes them to
``test-artifacts/screenshots/staff-guide/`` (ignored by git), so ``make test`` leaves the work tree clean; with
``QZBG_STAFF_GUIDE_SCREENS=1`` they replace the guide's own pictures in ``docs/images/staff-guide/``:

    QZBG_STAFF_GUIDE_SCREENS=1 .venv/bin/pytest -q tests/browser/test_staff_guide_screens.py

The pages are the same on both database backends, so the pictures are taken on SQLite only.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from werkzeug.serving import make_server

from app.extensions import db
from app.notify import heartbeat
from app.offices.models import PoliceUnit
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_review_flow import age_step_up, log_in, police_unit, status, submit
from tests.browser.test_staff_login import OFFICE_PC, account, code, fill_password
from tests.factories import create_report

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
GUIDE_IMAGES = ROOT / "docs" / "images" / "staff-guide"


@pytest.fixture
def shots() -> Path:
    """Where this run's pictures go: the guide's own folder on request, else the git-ignored artifacts."""
    folder = GUIDE_IMAGES if os.environ.get("QZBG_STAFF_GUIDE_SCREENS") == "1" else SCREENSHOTS / "staff-guide"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def sqlite_only(backend_name: str) -> None:
    if backend_name != "sqlite":
        pytest.skip("the guide's pictures are taken once, on SQLite")


@pytest.fixture
def office_pc(browser: Any) -> Iterator[Any]:
    """A page at 1366x768, zh-CN, China Standard Time."""
    context = browser.new_context(viewport=OFFICE_PC, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def worker_alive() -> None:
    """A notify worker's heartbeat, so the pages show no 通知服务未运行 banner (that banner has its own tests)."""
    heartbeat.beat(heartbeat.Identity.here(), dt.datetime.now(dt.UTC))
    db.session.commit()


def snap(page: Any, folder: Path, name: str, hook: str) -> None:
    """Check that ``hook`` (a CSS selector) is on the page, then save the viewport as ``name``.png in 256 colours
    (a third of the size; flat page colours and text lose nothing visible)."""
    assert page.locator(hook).count() >= 1, f"{name}: {hook} is not on {page.url}"
    assert page.locator("[data-field=worker_down]").count() == 0
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    assert shot.size == (OFFICE_PC["width"], OFFICE_PC["height"])
    shot.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        folder / f"{name}.png", optimize=True
    )


def test_the_staff_guide_pictures_show_a_report_from_login_to_the_police(
    sqlite_only, office_pc, live_server, shots
):
    page, base = office_pc, live_server
    worker_alive()
    unit = police_unit("pcs-guide", "城北派出所")
    now = dt.datetime.now(dt.UTC)
    report = create_report(urgent=True)
    create_report(status="reviewing")
    create_report(status="transferred")
    create_report(now=now - dt.timedelta(hours=30))  # past its 24-hour acknowledgement: overdue
    create_report(status="closed", now=now - dt.timedelta(days=3))
    prosecutor, secret = account(role="prosecutor", display_name="王检察官")
    report_id = str(report.id)
    db.session.commit()  # reading the ids began a transaction (on SQLite, holding the write lock): end it

    page.goto(f"{base}/login")
    page.fill("#f-username", prosecutor)
    snap(page, shots, "01-login", "form input[name=password]")
    page.fill("#f-password", "correct horse battery staple 7")
    page.press("#f-password", "Enter")
    page.wait_for_load_state()
    snap(page, shots, "02-otp", "form input[name=otp]")
    page.fill("#f-otp", code(secret))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()
    assert page.url.endswith("/review/")
    snap(page, shots, "03-inbox", f"[data-report-id='{report_id}']")

    page.locator(f"[data-report-id='{report_id}'] a").first.click()
    page.wait_for_load_state()
    assert status(page) == "new"
    snap(page, shots, "04-report", "form[data-action=acknowledge]")
    submit(page, "acknowledge")
    assert status(page) == "reviewing"
    snap(page, shots, "05-acknowledged", "[data-field=done]")

    age_step_up(prosecutor)  # the login's code is older than QZBG_STEP_UP_MINUTES: the transfer asks again
    form = page.locator("form[data-action=transfer]")
    form.scroll_into_view_if_needed()
    page.select_option("#a-transfer-police_unit", "pcs-guide")
    page.fill("#a-transfer-document_no", "X检移〔2026〕15号")
    page.fill("#a-transfer-contact", "刘警官 0731-1234567")
    page.fill("#a-transfer-note", "报告人称伤情严重，请尽快核查")
    page.evaluate("window.scrollBy(0, -120)")
    snap(page, shots, "06-transfer-form", "form[data-action=transfer]")
    submit(page, "transfer")
    assert "/account/step-up" in page.url
    snap(page, shots, "07-step-up", "[data-field=held_action]")
    page.fill("#f-otp", code(secret, 1))
    page.press("#f-otp", "Enter")
    page.wait_for_load_state()
    assert page.url == f"{base}/review/reports/{report_id}"
    assert status(page) == "transferred"  # carried out as posted: nothing typed again
    snap(page, shots, "08-transferred", "[data-field=done]")

    page.goto(f"{base}/review/overdue")
    snap(page, shots, "09-overdue", "[data-overdue]")
    page.goto(f"{base}/review/stats")
    snap(page, shots, "10-stats", "[data-stat=received]")
    page.click("text=导出统计 Excel")  # the export page: its bar, then the download link
    page.wait_for_url("**/exports/*")
    page.locator("[data-field=download]").wait_for(timeout=60_000)
    worker_alive()  # the export waited on the runner: the heartbeat stays fresh for the picture
    page.reload()
    snap(page, shots, "17-export", "[data-field=download]")

    officer, o_secret = account(role="police", police_unit=db.session.get(PoliceUnit, unit.id),
                                display_name="李警官")
    page.click("text=退出登录")
    page.wait_for_load_state()
    log_in(page, base, officer, o_secret)
    snap(page, shots, "11-police-inbox", f"[data-report-id='{report_id}']")
    page.goto(f"{base}/review/reports/{report_id}")
    page.locator("form[data-action=police_acknowledge]").scroll_into_view_if_needed()
    snap(page, shots, "12-police-report", "form[data-action=police_acknowledge]")


def test_the_staff_guide_picture_of_a_training_deployment_shows_its_banner(sqlite_only, make_app, office_pc,
                                                                            shots):
    training = make_app(training=True)
    server = make_server("127.0.0.1", 0, training, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="training-server", daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with training.app_context():
            worker_alive()
            create_report(urgent=True)
            create_report(status="reviewing", training=True)
            prosecutor, secret = account(role="prosecutor", display_name="培训学员")
        fill_password(office_pc, base, prosecutor)
        office_pc.fill("#f-otp", code(secret))
        office_pc.press("#f-otp", "Enter")
        office_pc.wait_for_load_state()
        assert "培训演示环境" in office_pc.content()
        snap(office_pc, shots, "13-training", "[data-report-id]")
        office_pc.goto(f"{base}/review/?training=1")
        snap(office_pc, shots, "14-training-queue", "[data-field=training_queue]")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_staff_guide_picture_of_the_trainers_page(sqlite_only, make_app, office_pc, shots):
    from app.demo import reset, snapshot
    from tests.demo.conftest import demo_lines

    training = make_app(training=True)
    server = make_server("127.0.0.1", 0, training, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="training-server", daemon=True)
    thread.start()
    settings = training.config["QZBG"]
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        with training.app_context():
            seeded = training.test_cli_runner().invoke(args=["demo", "seed", "--reports", "12"])
            assert seeded.exit_code == 0, seeded.output
            worker_alive()
        password, secret, _role = demo_lines(seeded.output)["demo.trainer"]
        fill_password(office_pc, base, "demo.trainer", password)
        office_pc.fill("#f-otp", code(secret))
        office_pc.press("#f-otp", "Enter")
        office_pc.wait_for_load_state()
        snap(office_pc, shots, "16-training", "form[data-action=reset]")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        for leftover in (snapshot.path(settings), reset.status_path(settings)):
            leftover.unlink(missing_ok=True)
