"""Double and triple taps on the web form's submit button: one report, one working 查询码 on every answer.

A browser that sends the same form two or three times at once carries the same session cookie in each
request; whichever answer it ends up showing must carry a code that works at /report/status.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.extensions import db
from app.reports import service
from tests.reports.test_web import filled, image_bytes, open_form, parse, post_form, receipt_codes, stored_reports


def _same_form_at_once(app: Flask, client: FlaskClient, data: dict[str, Any], times: int) -> list[tuple[
    TestResponse, FlaskClient
]]:
    """Post ``data`` ``times`` times in parallel, each from a client holding the browser's cookie."""
    db.session.rollback()  # the test's own session must hold no transaction (SQLite: no lock)
    cookie = client.get_cookie("session")
    assert cookie is not None
    barrier = threading.Barrier(times)

    def post(_i: int) -> tuple[TestResponse, FlaskClient]:
        tap = app.test_client()
        tap.set_cookie("session", cookie.value)
        barrier.wait()
        return post_form(tap, data), tap

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(post, range(times)))


@pytest.mark.parametrize("times", [2, 3])
def test_the_same_form_sent_several_times_at_once_gives_one_report_and_the_same_working_code_on_every_receipt(
    app: Flask, client: FlaskClient, times: int
) -> None:
    _doc, hidden = open_form(client)

    answers = _same_form_at_once(app, client, filled(hidden), times)

    assert [r.status_code for r, _tap in answers] == [303] * times
    assert {r.headers["Location"] for r, _tap in answers} == {f"/report/receipt/{hidden['form_key']}"}
    db.session.expire_all()
    [report] = stored_reports()
    # Each answer set its own cookie; whichever one the browser kept shows the receipt with the code.
    shown = {receipt_codes(tap, r.headers["Location"]) for r, tap in answers}
    assert shown == {(report.tracking_no, next(iter(shown))[1])}
    tracking_no, status_code = next(iter(shown))
    assert service.find_by_status_code(tracking_no, status_code) == report
    page = client.get("/report/status")
    token = parse(page.text).find("input", name="csrf_token").attrs["value"]
    lookup = client.post("/report/status", data={"csrf_token": token, "tracking_no": tracking_no,
                                                  "status_code": status_code})
    assert lookup.status_code == 200
    assert parse(lookup.text).find(data_field="tracking_no").text() == tracking_no


def test_a_triple_tap_with_a_photo_stores_the_photo_once(app: Flask, client: FlaskClient) -> None:
    _doc, hidden = open_form(client)
    data = filled(hidden, files=[(image_bytes("PNG"), "a.png", "image/png")])

    answers = _same_form_at_once(app, client, data, 3)

    assert [r.status_code for r, _tap in answers] == [303] * 3
    db.session.expire_all()
    [report] = stored_reports()
    assert len(report.attachments) == 1


def test_a_double_tap_of_a_form_with_an_error_gives_the_error_twice_and_stores_nothing(
    app: Flask, client: FlaskClient
) -> None:
    _doc, hidden = open_form(client)

    answers = _same_form_at_once(app, client, filled(hidden, **{"reporter.phone": "12345"}), 2)

    assert [r.status_code for r, _tap in answers] == [422, 422]
    db.session.expire_all()
    assert stored_reports() == []


def test_a_triple_tap_of_a_corrected_form_attaches_its_staged_photo_once(app: Flask, client: FlaskClient) -> None:
    from tests.reports.test_web import staged_in

    _doc, hidden = open_form(client)
    refused = post_form(client, filled(hidden, **{"reporter.phone": "12345"},
                                       files=[(image_bytes("PNG"), "a.png", "image/png")]))
    assert refused.status_code == 422

    answers = _same_form_at_once(app, client, filled(hidden), 3)

    assert [r.status_code for r, _tap in answers] == [303] * 3
    db.session.expire_all()
    [report] = stored_reports()
    assert [a.unseal("filename_data") for a in report.attachments] == ["a.png"]
    assert staged_in(app.config["QZBG"].attachments_dir) == []


def test_a_form_sent_again_from_a_new_session_after_it_was_stored_shows_no_dead_code(app: Flask) -> None:
    from flask import g

    browser = app.test_client()
    _doc, hidden = open_form(browser)
    data = filled(hidden)
    stored = post_form(browser, data)
    tracking_no, status_code = receipt_codes(browser, stored.headers["Location"])
    g.pop("csrf_token", None)  # Flask-WTF caches the token in g, which the test's app context keeps
    expired = app.test_client()
    again = post_form(expired, data)  # the CSRF check fails: the form again, with a new code for this session
    assert again.status_code == 400
    token = parse(again.text).find("input", name="csrf_token").attrs["value"]

    resent = post_form(expired, {**data, "csrf_token": token})

    assert resent.status_code == 303
    page = parse(expired.get(resent.headers["Location"]).text)
    assert page.find(data_field="tracking_no").text() == tracking_no
    assert page.find_all(data_field="status_code") == []  # never a code that does not open the report
    db.session.expire_all()
    assert service.find_by_status_code(tracking_no, status_code) is not None
    assert len(stored_reports()) == 1
