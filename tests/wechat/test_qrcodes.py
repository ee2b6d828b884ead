"""Unit QR codes: the mini-program code fetched at import and kept, the web-form code, the A4 poster."""

from __future__ import annotations

import io
import json

import pytest
import qrcode
from PIL import Image
from sqlalchemy import select

from app.extensions import db
from app.units.models import Unit, UnitQrCode

UNITS_CSV = "code,name,type\nhosp-001,市妇幼保健院,maternal_child_health\nsch-002,实验小学,school\n"


def wxacode_calls(fake):
    return [c for c in fake.calls if c.path == "/wxa/getwxacodeunlimit"]


@pytest.fixture
def units_file(tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(UNITS_CSV, encoding="utf-8")
    return path


def test_importing_units_fetches_their_mini_program_codes_with_the_unit_code_as_scene(runner, fake, units_file):
    result = runner.invoke(args=["units", "import", str(units_file)])
    assert result.exit_code == 0, result.output
    assert "2 fetched" in result.output
    assert sorted(json.loads(c.body)["scene"] for c in wxacode_calls(fake)) == ["hosp-001", "sch-002"]
    assert {json.loads(c.body)["page"] for c in wxacode_calls(fake)} == {"pages/report/index"}
    again = runner.invoke(args=["units", "import", str(units_file)])
    assert "2 updated" in again.output
    assert "2 already current" in again.output
    assert len(wxacode_calls(fake)) == 2  # kept, not fetched again


def test_the_public_route_serves_the_stored_code_without_calling_wechat(runner, client, fake, units_file):
    runner.invoke(args=["units", "import", str(units_file)])
    before = len(fake.calls)
    first = client.get("/units/hosp-001/wxacode.png")
    assert first.status_code == 200
    assert first.content_type == "image/png"
    assert Image.open(io.BytesIO(first.data)).format == "PNG"
    again = client.get("/units/hosp-001/wxacode.png?download=1")
    assert again.data == first.data
    assert "attachment" in again.headers["Content-Disposition"]
    assert len(fake.calls) == before


def test_wechat_down_at_import_keeps_the_import_and_fetch_codes_retries_later(runner, client, fake, units_file):
    fake.mode = "error_5xx"
    result = runner.invoke(args=["units", "import", str(units_file)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output
    assert "2 failed" in result.output
    assert "flask units fetch-codes" in result.output
    assert db.session.scalars(select(UnitQrCode)).all() == []
    calls = len(fake.calls)
    missing = client.get("/units/hosp-001/wxacode.png")
    assert missing.status_code == 503
    assert int(missing.headers["Retry-After"]) > 0
    assert len(fake.calls) == calls  # the public route never calls WeChat
    poster = client.get("/units/hosp-001/poster").get_data(as_text=True)
    assert "wxacode.png" not in poster
    assert "/units/hosp-001/qrcode.png" in poster
    assert runner.invoke(args=["units", "fetch-codes"]).exit_code == 1  # still down: a cron job sees it
    fake.mode = "normal"
    retried = runner.invoke(args=["units", "fetch-codes"])
    assert retried.exit_code == 0, retried.output
    assert "2 fetched" in retried.output
    assert client.get("/units/hosp-001/wxacode.png").status_code == 200
    assert "/units/hosp-001/wxacode.png" in client.get("/units/hosp-001/poster").get_data(as_text=True)


def test_fetch_codes_refetches_a_code_made_for_another_page(make_app, fake, units_file):
    from tests.wechat.conftest import wechat_settings

    app = make_app(**wechat_settings(fake))
    app.test_cli_runner().invoke(args=["units", "import", str(units_file)])
    moved = make_app(**wechat_settings(fake, wechat_report_page="pages/intake/index"))
    assert moved.test_client().get("/units/hosp-001/wxacode.png").status_code == 503  # stale: not served
    with moved.app_context():  # the CLI runs in the current app context: make it this app's
        result = moved.test_cli_runner().invoke(args=["units", "fetch-codes"])
    assert "2 fetched" in result.output, result.output
    assert json.loads(wxacode_calls(fake)[-1].body)["page"] == "pages/intake/index"
    assert moved.test_client().get("/units/hosp-001/wxacode.png").status_code == 200


def test_web_form_qr_code_encodes_the_form_url_with_the_unit(client, unit):
    response = client.get("/units/hosp-001/qrcode.png")
    assert response.status_code == 200
    expected = io.BytesIO()
    qrcode.make("http://127.0.0.1:5000/report?unit=hosp-001", error_correction=qrcode.constants.ERROR_CORRECT_M,
                box_size=10, border=4).save(expected)
    assert response.data == expected.getvalue()


def test_poster_shows_unit_both_codes_and_the_110_reminder(runner, client, fake, units_file):
    runner.invoke(args=["units", "import", str(units_file)])
    page = client.get("/units/hosp-001/poster").get_data(as_text=True)
    assert "市妇幼保健院" in page
    assert "情况紧急请立即拨打110报警" in page
    assert "/units/hosp-001/wxacode.png" in page
    assert "/units/hosp-001/qrcode.png" in page


def test_scene_of_a_scanned_code_resolves_to_the_unit(client, unit):
    response = client.get("/api/v1/units/scene/hosp-001")
    assert response.json["id"] == unit.id


def test_qr_codes_of_unknown_or_inactive_units_are_404(client, unit):
    assert client.get("/units/nope/wxacode.png").status_code == 404
    unit.active = False
    db.session.commit()
    assert client.get("/units/hosp-001/poster").status_code == 404


def test_without_wechat_the_poster_has_the_web_code_alone_and_no_broken_image(make_app, fake):
    app = make_app()  # no QZBG_WECHAT_APPID: the `make run` default
    db.session.add(Unit(code="hosp-001", name="市妇幼保健院", type="maternal_child_health"))
    db.session.commit()
    client = app.test_client()
    page = client.get("/units/hosp-001/poster").get_data(as_text=True)
    assert "wxacode.png" not in page
    assert "小程序码" not in page
    assert "/units/hosp-001/qrcode.png" in page
    assert client.get("/units/hosp-001/qrcode.png").status_code == 200
    assert client.get("/units/hosp-001/wxacode.png").status_code == 404
    result = app.test_cli_runner().invoke(args=["units", "fetch-codes"])
    assert result.exit_code == 0
    assert "not configured" in result.output
    assert fake.calls == []
