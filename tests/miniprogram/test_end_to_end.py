"""The mini-program against the real backend: jest renders its pages with miniprogram-simulate and bridges
``wx.request`` / ``wx.uploadFile`` to the app on HTTP (with the fake WeChat behind it), while the office acts
through the review services (miniprogram/tests/e2e/flow.e2e.js names each case). Afterwards the database holds
exactly what the client meant to send."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.reports.models import Attachment, Report
from app.reports.records import Question
from tests.miniprogram.conftest import run_jest
from tests.wechat.conftest import TEMPLATE


def photo(path: Path, colour: tuple[int, int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    path.write_bytes(out.getvalue())
    return str(path)


@pytest.mark.slow
def test_the_mini_program_works_against_the_real_backend(live_url, office_url, fake, unit, tmp_path):
    photos = [photo(tmp_path / f"photo-{n}.jpg", (40 * n, 60, 90)) for n in range(1, 4)]
    unit_code = unit.code
    db.session.rollback()
    result = run_jest(
        "--config", "jest.e2e.config.js",
        env={"QZBG_E2E_API": live_url, "QZBG_E2E_OFFICE": office_url, "QZBG_E2E_PHOTOS": ",".join(photos),
             "QZBG_E2E_TEMPLATE": TEMPLATE, "QZBG_E2E_SCENE": unit_code},
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-8000:]

    db.session.rollback()
    # the flow, the restored draft, the double tap, the dropped connection, the renewal: one each; three before the 429
    assert db.session.scalar(select(func.count()).select_from(Report)) == 8
    answered = db.session.scalars(select(Question).where(Question.answered_at.is_not(None))).all()
    assert len(answered) == 1
    photos_of_answered = db.session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.report_id == answered[0].report_id)
    )
    assert photos_of_answered == 3  # two with the report, one with the answer
    with_answer = db.session.scalar(
        select(func.count()).select_from(Attachment).where(Attachment.question_id == answered[0].id)
    )
    assert with_answer == 1
    assert [m["template_id"] for m in fake.sent] == [TEMPLATE]
