"""Hostile strings in every form and query string, on both backends: a clear 4xx, never a 500.

NUL (which PostgreSQL cannot store: a 500 on ``POST /report/status`` before), huge unicode, control
and bidi characters, invalid UTF-8. The HTML pages refuse a NUL at the door (400, zh-CN); the JSON API
reads inputs only through schemas that clean control characters. A tracking number not shaped
``QZBG-YYYY-NNNNNN`` never reaches a query.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import event

from app.extensions import db

CJK = re.compile(r"[\u4e00-\u9fff]")
HUGE = "𠀀" * 20_000 + "报"
HOSTILE = {
    "nul": "QZBG-2026-000001\x00",
    "nul-alone": "\x00",
    "huge-unicode": HUGE,
    "controls": "\x01\x08\x1b[31m\x7f\x85",
    "bidi-and-invisible": "\u202eQZBG\u200b-2026\ufeff",
    "fullwidth-digits": "QZBG-２０２６-０００００１",
    "sql": "QZBG-2026-000001' OR '1'='1",
}
HAS_NUL = {"nul", "nul-alone"}
HTML_QUERY_ROUTES = ["/report?unit={v}", "/report/status?x={v}", "/units/hosp-001/poster?download={v}",
                     "/units/hosp-001/qrcode.png?download={v}", "/report/receipt/" + "B" * 24 + "?x={v}",
                     "/report?{v}=1"]
API_QUERY_ROUTES = ["/api/v1/units?q={v}", "/api/v1/units?type={v}", "/api/v1/reports?cursor={v}",
                    "/api/v1/reports?limit={v}", "/api/v1/categories?{v}=1"]
FORM_FIELDS = ["reporter.name", "reporter.phone", "victim.name", "victim.gender", "victim.age", "unit_id",
               "categories", "incident.description", "incident.discovered_at", "police.notified", "nonexistent"]


def csrf(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    hidden = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))
    return hidden


def assert_refused_in_chinese(response, status: int = 400) -> None:
    assert response.status_code == status, response.status_code
    assert CJK.search(response.get_data(as_text=True))


def assert_no_500(response, where: str) -> None:
    assert response.status_code < 500, (where, response.status_code)
    if response.status_code >= 400 and response.mimetype == "application/json":
        assert CJK.search(response.json["error"]["message"]), where


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_tracking_number_is_a_4xx_on_the_status_lookup(client, name):
    form = {**csrf(client, "/report/status"), "tracking_no": HOSTILE[name], "status_code": "ABCDEFGHJK"}
    response = client.post("/report/status", data=form)
    if name in HAS_NUL:
        assert_refused_in_chinese(response, 400)
        assert "无效字符" in response.get_data(as_text=True)
    else:
        assert_refused_in_chinese(response, 404)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_status_code_is_a_4xx_on_the_status_lookup(client, name):
    form = {**csrf(client, "/report/status"), "tracking_no": "QZBG-2026-000001", "status_code": HOSTILE[name]}
    assert_refused_in_chinese(client.post("/report/status", data=form), 400 if name in HAS_NUL else 404)


def test_a_malformed_tracking_number_never_reaches_a_query(app, client):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    token = csrf(client, "/report/status")
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for value in ("QZBG-2026-00000１", "QZBG-2026-000001' OR '1'='1", "qzbg-２０２６", "QZBG-2026-12345"):
            form = {**token, "tracking_no": value, "status_code": "ABCDEFGHJK"}
            assert client.post("/report/status", data=form).status_code == 404
        assert not [s for s in statements if "tracking_no" in s]
        form = {**token, "tracking_no": "qzbg-2026-000001", "status_code": "ABCDEFGHJK"}  # well formed
        assert client.post("/report/status", data=form).status_code == 404
        assert [s for s in statements if "tracking_no" in s]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("field", FORM_FIELDS)
def test_a_hostile_value_in_any_field_of_the_report_form_is_a_4xx_and_nothing_is_stored(client, field):
    from app.reports.models import Report

    token = csrf(client, "/report")
    for name, value in HOSTILE.items():
        response = client.post("/report", data={**token, field: value}, content_type="multipart/form-data")
        assert response.status_code == (400 if name in HAS_NUL else 422), name
        assert CJK.search(response.get_data(as_text=True)), name
    assert db.session.query(Report).count() == 0


def test_a_nul_in_a_form_field_name_or_an_upload_file_name_is_refused(client):
    import io

    token = csrf(client, "/report")
    assert_refused_in_chinese(client.post("/report", data={**token, "victim.\x00name": "x"}), 400)
    upload = {**token, "files": (io.BytesIO(b"\x89PNG\r\n\x1a\n"), "photo\x00.png", "image/png")}
    assert_refused_in_chinese(client.post("/report", data=upload, content_type="multipart/form-data"), 400)


@pytest.mark.parametrize("route", HTML_QUERY_ROUTES)
def test_a_hostile_query_string_on_a_page_is_a_clear_answer(client, unit, route):
    for name, value in HOSTILE.items():
        response = client.get(route.format(v=quote(value)))
        if name in HAS_NUL:
            assert_refused_in_chinese(response, 400)
        else:
            assert_no_500(response, f"{route} {name}")
        response.close()


@pytest.mark.parametrize("route", API_QUERY_ROUTES)
def test_a_hostile_query_string_on_the_api_is_cleaned_or_refused_never_a_500(client, unit, reporter, route):
    for name, value in HOSTILE.items():
        assert_no_500(client.get(route.format(v=quote(value)), headers=reporter.headers), f"{route} {name}")


@pytest.mark.parametrize("path", ["/report?unit=%ff%fe", "/report/status?x=%c0%80", "/api/v1/units?q=%ed%a0%80"])
def test_invalid_utf8_in_a_query_string_is_never_a_500(client, path):
    assert_no_500(client.get(path), path)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_string_in_every_text_of_a_json_report_is_cleaned_or_refused(client, reporter, name):
    from tests.factories import report_body

    body = report_body(
        reporter={"name": HOSTILE[name], "position": HOSTILE[name]},
        victim={"name": HOSTILE[name], "address": HOSTILE[name]},
        incident={"location": HOSTILE[name], "description": HOSTILE[name]},
        suspect={"relation": HOSTILE[name]}, police={"station": HOSTILE[name]},
    )
    response = client.post("/api/v1/reports", json=body, headers=reporter.headers)
    assert response.status_code in (201, 422), response.status_code
    assert_no_500(response, "/api/v1/reports")
