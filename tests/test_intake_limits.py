"""Intake limits: per reporter and per browser under a per-address ceiling; refused requests spend nothing."""

from __future__ import annotations

import pytest
from flask import g

from tests.conftest import login_reporter
from tests.factories import report_body
from tests.reports.test_web import filled, open_form, post_form

HOSPITAL = {"REMOTE_ADDR": "10.20.30.40"}  # a hospital behind one address


@pytest.fixture
def limited(make_app):
    return make_app(intake_rate_limit="2 per minute", intake_ip_rate_limit="5 per minute")


def post_report(client, headers=None, **kwargs):
    return client.post("/api/v1/reports", json=report_body(), headers=headers or {}, environ_base=HOSPITAL, **kwargs)


def test_requests_without_a_token_spend_no_intake_quota_of_the_address(limited):
    client = limited.test_client()
    for _ in range(10):
        assert post_report(client).status_code == 401
    assert post_report(client, login_reporter("o-doctor").headers).status_code == 201


def test_requests_in_a_wrong_format_spend_no_intake_quota(limited):
    client = limited.test_client()
    login = login_reporter("o-doctor")
    for _ in range(10):
        refused = client.post("/api/v1/reports", data="x", content_type="text/plain", headers=login.headers,
                              environ_base=HOSPITAL)
        assert refused.status_code == 415
    assert post_report(client, login.headers).status_code == 201


def test_invalid_reports_spend_no_intake_quota(limited):
    client = limited.test_client()
    login = login_reporter("o-doctor")
    for _ in range(5):
        body = report_body(victim={"age": 30})
        refused = client.post("/api/v1/reports", json=body, headers=login.headers, environ_base=HOSPITAL)
        assert refused.status_code == 422
    assert post_report(client, login.headers).status_code == 201


def test_one_reporter_at_the_limit_does_not_block_colleagues_behind_the_same_address(limited):
    client = limited.test_client()
    busy, colleague = login_reporter("o-busy"), login_reporter("o-colleague")
    assert [post_report(client, busy.headers).status_code for _ in range(3)] == [201, 201, 429]
    assert post_report(client, colleague.headers).status_code == 201


def test_the_address_ceiling_holds_across_many_reporters(limited):
    client = limited.test_client()
    statuses = [post_report(client, login_reporter(f"o-nurse-{n}").headers).status_code for n in range(6)]
    assert statuses == [201] * 5 + [429]
    refused = post_report(client, login_reporter("o-nurse-late").headers)
    assert refused.json["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_an_idempotent_repeat_is_still_answered_at_the_limit_only_if_quota_remains(limited):
    client = limited.test_client()
    login = login_reporter("o-repeat")
    body = report_body()
    first = client.post("/api/v1/reports", json=body, headers=login.headers, environ_base=HOSPITAL)
    again = client.post("/api/v1/reports", json=body, headers=login.headers, environ_base=HOSPITAL)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["tracking_no"] == first.json["tracking_no"]


def test_the_web_form_is_limited_per_browser_not_per_address(limited):
    tired, fresh = limited.test_client(), limited.test_client()
    statuses = []
    for _ in range(3):
        _doc, hidden = open_form(tired)
        statuses.append(post_form(tired, filled(hidden), environ_base=HOSPITAL).status_code)
    assert statuses == [303, 303, 429]
    g.pop("csrf_token", None)  # the test's app context outlives requests: Flask-WTF caches the token on g
    _doc, hidden = open_form(fresh)
    assert post_form(fresh, filled(hidden), environ_base=HOSPITAL).status_code == 303


def test_a_web_form_with_errors_spends_no_quota(limited):
    client = limited.test_client()
    for _ in range(4):
        _doc, hidden = open_form(client)
        assert post_form(client, filled(hidden, **{"reporter.phone": "12"}), environ_base=HOSPITAL).status_code == 422
    _doc, hidden = open_form(client)
    assert post_form(client, filled(hidden), environ_base=HOSPITAL).status_code == 303
