"""The web status page's answer form carries photos (issue 16): a reporter picks a photo in the file field, sends the
answer, and the page lists the file under the answer; phone, laptop and wide screens."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.extensions import db
from app.reports.models import Attachment
from tests.browser.test_page_checks import STATUS_CODE, seeded  # noqa: F401

pytestmark = pytest.mark.browser


def test_an_answer_on_the_status_page_carries_a_photo(page: Any, live_server: str, seeded: dict[str, str],  # noqa: F811
                                                      screenshots: Path, tmp_path: Path) -> None:
    photo = tmp_path / "伤情.jpg"
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (170, 40, 40)).save(out, "JPEG")
    photo.write_bytes(out.getvalue())
    question = seeded["open_question"]

    page.goto(f"{live_server}/report/status")
    page.fill("#f-tracking_no", seeded["asked_tracking_no"])
    page.fill("#f-status_code", STATUS_CODE)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.fill(f"#f-text-{question}", "实验小学三年级二班，照片见附件")
    page.set_input_files(f"#f-files-{question}", str(photo))
    page.locator(f"#f-files-{question}").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "status-answer-with-photo-phone.png"), full_page=True)
    page.click("form[data-answer-form] button[type=submit]")
    page.wait_for_load_state()

    assert page.locator("[data-field=answer_thanks]").count() == 1
    answered = page.locator(f"li[data-question-id='{question}']")
    assert answered.locator("[data-field=answer_attachments]").inner_text() == "随回复提交的附件 1 个"
    for width, height in ((1366, 768), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(screenshots / f"status-answer-with-photo-{width}x{height}.png"), full_page=True)
    db.session.rollback()
    assert db.session.query(Attachment).filter(Attachment.question_id.is_not(None)).count() == 1
