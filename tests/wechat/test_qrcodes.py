"""Unit QR codes: the mini-program code fetched once and kept, the web-form code, the A4 poster."""

from __future__ import annotations

import io
import json

import qrcode
from PIL import Image

from app.extensions import db
from app.units.models import Unit


def test_unit_wxacode_is_fetched_once_with_the_unit_code_as_scene(client, fake, unit):
    first = client.get("/units/hosp-001/wxacode.png")
    assert first.status_code == 200
    assert first.content_type == "image/png"
    assert Image.open(io.BytesIO(first.data)).format == "PNG"
    again = client.get("/units/hosp-001/wxacode.png?download=1")
    assert again.data == first.data
    assert "attachment" in again.headers["Content-Disposition"]
    calls = [c for c in fake.calls if c.path == "/wxa/getwxacodeunlimit"]
    assert len(calls) == 1
    body = json.loads(calls[0].body)
    assert body["scene"] == "hosp-001"
    assert body["page"] == "pages/report/index"


def test_web_form_qr_code_encodes_the_form_url_with_the_unit(client, unit):
    response = client.get("/units/hosp-001/qrcode.png")
    assert response.status_code == 200
    expected = io.BytesIO()
    qrcode.make("http://127.0.0.1:5000/report?unit=hosp-001", error_correction=qrcode.constants.ERROR_CORRECT_M,
                box_size=10, border=4).save(expected)
    assert response.data == expected.getvalue()


def test_poster_shows_unit_both_codes_and_the_110_reminder(client, unit):
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


def test_wechat_down_while_fetching_a_code_is_503_not_500(client, fake, unit):
    fake.mode = "error_5xx"
    response = client.get("/units/hosp-001/wxacode.png")
    assert response.status_code == 503
    assert db.session.get(Unit, unit.id) is not None
