"""Web form polish (issue 6, B.20): focus on the error summary, what happens next and whom to call, unit codes in
any case, and an expired session that shows the form again instead of an error page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from app.config import ConfigError, Settings
from app.errors import NotFoundError
from app.extensions import db
from app.reports import service
from app.units import queries as units
from app.units.models import Unit
from tests.reports.test_web import (
    filled,
    image_bytes,
    open_form,
    parse,
    post_form,
    receipt_codes,
    stored_reports,
)

OFFICE_PHONE = "0571-87000000"


# --- focus moves to the error summary -----------------------------------------------------------------------------


def test_a_refused_form_puts_focus_on_its_error_summary_without_inline_script(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)

    refused = post_form(client, filled(hidden, **{"reporter.phone": "1"}))

    doc = parse(refused.text)
    summary = doc.find("div", id="form-errors")
    assert summary.attrs["tabindex"] == "-1"
    assert "autofocus" in summary.attrs
    assert summary.find("a", href="#f-reporter.phone")
    scripts = doc.find_all("script")
    assert [s.attrs.get("src") for s in scripts] == ["/static/form.js"]
    assert all(not s.text() for s in scripts)  # no inline script: the CSP allows only 'self'
    policy = refused.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy  # scripts from our own origin only
    assert "'unsafe-inline'" not in policy


def test_the_focus_script_is_served_from_our_own_origin(client: FlaskClient) -> None:
    script = client.get("/static/form.js")

    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert "form-errors" in script.text
    script.close()


def test_a_form_without_errors_has_no_summary_to_focus(client: FlaskClient) -> None:
    doc, _hidden = open_form(client)

    assert doc.find_all("div", id="form-errors") == []


# --- what happens next, and whom to call ---------------------------------------------------------------------------


def _receipt(client: FlaskClient, **changes: Any) -> Any:
    _doc, hidden = open_form(client)
    location = post_form(client, filled(hidden, **changes)).headers["Location"]
    return client.get(location)


def _status_page(client: FlaskClient, tracking_no: str, status_code: str) -> Any:
    token = parse(client.get("/report/status").text).find("input", name="csrf_token").attrs["value"]
    return client.post("/report/status", data={"csrf_token": token, "tracking_no": tracking_no,
                                               "status_code": status_code})


def test_the_receipt_and_the_status_page_say_what_happens_next_and_give_the_office_phone(app: Flask) -> None:
    app.config["QZBG"] = app.config["QZBG"].replace(office_phone=OFFICE_PHONE)
    client = app.test_client()
    receipt = _receipt(client)
    doc = parse(receipt.text)
    tracking_no = doc.find(data_field="tracking_no").text()
    status_code = doc.find(data_field="status_code").text()

    status = _status_page(client, tracking_no, status_code)

    for page in (receipt, status):
        page_doc = parse(page.text)
        steps = page_doc.find("section", **{"class": "card next-steps"})
        assert "接下来会怎样" in steps.text()
        assert "24小时内签收" in steps.text()
        phone = steps.find(data_field="office_phone")
        assert phone.find("a", href=f"tel:{OFFICE_PHONE}").text() == OFFICE_PHONE


def test_an_urgent_report_is_told_it_is_acknowledged_within_the_hour(client: FlaskClient) -> None:
    receipt = _receipt(client, urgent="1")

    assert "1小时内签收" in parse(receipt.text).find("section", **{"class": "card next-steps"}).text()


def test_without_an_office_phone_the_line_is_left_out(client: FlaskClient) -> None:
    receipt = _receipt(client)

    doc = parse(receipt.text)
    assert doc.find("section", **{"class": "card next-steps"})
    assert doc.find_all(data_field="office_phone") == []
    assert [a for a in doc.find_all("a") if a.attrs.get("href", "").startswith("tel:") and a.attrs["href"] != "tel:110"
            ] == []


@pytest.mark.parametrize("value", ["0571-87000000", "12309", "+86 571 8700 0000", "(0571) 87000000"])
def test_the_office_phone_setting_takes_a_phone_number(tmp_path: Path, value: str) -> None:
    settings = Settings.from_env({"QZBG_SECRET_KEY": "k" * 40, "QZBG_OFFICE_PHONE": value}, instance_path=tmp_path)

    assert settings.office_phone == value


@pytest.mark.parametrize("value", ["call us", "javascript:alert(1)", "0571<b>", "1" * 40])
def test_the_office_phone_setting_refuses_anything_but_a_phone_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="QZBG_OFFICE_PHONE"):
        Settings.from_env({"QZBG_SECRET_KEY": "k" * 40, "QZBG_OFFICE_PHONE": value}, instance_path=tmp_path)


def test_the_office_phone_defaults_to_none_shown(tmp_path: Path) -> None:
    assert Settings.from_env({"QZBG_SECRET_KEY": "k" * 40}, instance_path=tmp_path).office_phone == ""


# --- unit codes in any case ----------------------------------------------------------------------------------------


def test_a_unit_code_in_another_case_preselects_the_unit(client: FlaskClient, unit: Unit) -> None:
    doc, _hidden = open_form(client, "?unit=HOSP-001")

    option = doc.find("select", name="unit_id").find("option", value=str(unit.id))
    assert "selected" in option.attrs


def test_the_units_search_finds_a_code_typed_in_capitals(client: FlaskClient, unit: Unit) -> None:
    found = client.get("/api/v1/units", query_string={"q": "HOSP-001"}).json["items"]

    assert [u["id"] for u in found] == [unit.id]
    assert [u.id for u in units.search("Hosp-001", None)] == [unit.id]


def test_the_exact_code_wins_over_one_that_differs_only_in_case(app: Flask, unit: Unit) -> None:
    upper = Unit(code="HOSP-001", name="另一家医院", type="hospital", district_code="330102")
    db.session.add(upper)
    db.session.commit()

    assert units.by_code("hosp-001").id == unit.id
    assert units.by_code("HOSP-001").id == upper.id
    with pytest.raises(NotFoundError):
        units.by_code("Hosp-001")  # two units fit: neither is guessed


@pytest.mark.parametrize("code", ["hosp 001", "hosp-001\x00", "", "h" * 33, "hosp-001%"])
def test_a_code_outside_the_scene_alphabet_is_not_found(unit: Unit, code: str) -> None:
    with pytest.raises(NotFoundError):
        units.by_code(code)


# --- a CSRF failure shows the form again -----------------------------------------------------------------------------


def test_a_bad_csrf_token_shows_the_form_again_with_the_input_kept_and_a_new_token(client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    data = filled(hidden, csrf_token="not-a-real-token", categories=["abuse_injury", "abandonment"], urgent="1")

    response = post_form(client, data)

    assert response.status_code == 400
    doc = parse(response.text)
    assert "页面已过期" in doc.find("div", id="form-errors").text()
    assert doc.find("input", name="reporter.name").attrs["value"] == "王医生"
    assert doc.find("textarea", name="incident.description").text().startswith("接诊时发现患儿")
    assert "checked" in doc.find("input", name="victim.gender", value="female").attrs
    assert "checked" in doc.find("input", name="urgent").attrs
    checked = {n.attrs["value"] for n in doc.find_all("input", name="categories") if "checked" in n.attrs}
    assert checked == {"abuse_injury", "abandonment"}
    assert doc.find("input", name="form_key").attrs["value"] == hidden["form_key"]
    token = doc.find("input", name="csrf_token").attrs["value"]
    assert token
    assert stored_reports() == []

    stored = post_form(client, filled(hidden, csrf_token=token))

    assert stored.status_code == 303
    [report] = stored_reports()
    tracking_no, status_code = receipt_codes(client, stored.headers["Location"])
    assert service.find_by_status_code(tracking_no, status_code) == report


def test_an_expired_session_shows_the_form_again_and_the_report_then_gets_a_working_code(app: Flask) -> None:
    first_browser = app.test_client()
    _doc, hidden = open_form(first_browser)
    data = filled(hidden)
    g.pop("csrf_token", None)  # Flask-WTF caches the token in g, which the test's app context keeps
    expired = app.test_client()  # WeChat's browser lost the session cookie while the person typed

    again = post_form(expired, data)

    assert again.status_code == 400
    doc = parse(again.text)
    assert doc.find("input", name="reporter.phone").attrs["value"] == "13800000000"
    assert stored_reports() == []
    token = doc.find("input", name="csrf_token").attrs["value"]
    assert token != hidden["csrf_token"]

    stored = post_form(expired, {**data, "csrf_token": token})

    assert stored.status_code == 303
    [report] = stored_reports()
    tracking_no, status_code = receipt_codes(expired, stored.headers["Location"])
    assert service.find_by_status_code(tracking_no, status_code) == report


def test_a_csrf_failure_stages_no_file_and_asks_for_the_files_again(app: Flask, client: FlaskClient) -> None:
    from tests.reports.test_web import staged_in

    _doc, hidden = open_form(client)

    response = post_form(client, filled(hidden, csrf_token="forged", files=[(image_bytes(), "a.png", "image/png")]))

    assert response.status_code == 400
    assert "请重新选择" in parse(response.text).find("div", id="form-errors").text()
    assert staged_in(app.config["QZBG"].attachments_dir) == []


def test_a_csrf_failure_does_not_count_against_the_intake_limit(app: Flask, client: FlaskClient) -> None:
    app.config["QZBG"] = app.config["QZBG"].replace(intake_rate_limit="1 per minute")
    _doc, hidden = open_form(client)
    for _ in range(3):
        assert post_form(client, filled(hidden, csrf_token="forged")).status_code == 400

    assert post_form(client, filled(hidden)).status_code == 303


def test_other_forms_keep_the_csrf_error_page(client: FlaskClient) -> None:
    response = client.post("/report/status", data={"tracking_no": "QZBG-2026-000001", "status_code": "ABCDEFGHJK"})

    assert response.status_code == 400
    assert "页面已过期" in response.text
    assert not re.search(r'name="tracking_no"', response.text)
