"""Public intake is rate limited per IP, across both channels, and shared between workers via Redis."""

from __future__ import annotations

import re
import secrets
import time

import pytest

from app.extensions import db, limiter
from tests.conftest import _empty_tables, build_app, login_reporter, make_settings, redis_test_url
from tests.factories import report_body

REDIS_URL = redis_test_url()


@pytest.fixture
def limited_app(make_app):
    return make_app(intake_rate_limit="2 per minute", lookup_rate_limit="2 per minute")


def test_third_submission_in_a_minute_from_one_reporter_is_refused_with_retry_after(limited_app):
    client = limited_app.test_client()
    login = login_reporter("o-limited")
    statuses = [client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    refused = client.post("/api/v1/reports", json=report_body(), headers=login.headers)
    assert refused.json["error"]["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Another reporter behind the same address is not affected.
    other = login_reporter("o-limited-colleague")
    assert client.post("/api/v1/reports", json=report_body(), headers=other.headers).status_code == 201


def test_web_form_and_api_share_one_ceiling_per_address(make_app):
    app = make_app(intake_ip_rate_limit="2 per minute")
    client = app.test_client()
    for name in ("o-shared-a", "o-shared-b"):
        login = login_reporter(name)
        assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    page = client.get("/report")
    assert page.status_code == 200  # reading the form is not limited
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    refused = client.post("/report", data={"csrf_token": csrf, "form_key": secrets.token_urlsafe(18)})
    assert refused.status_code == 429
    assert "操作过于频繁" in refused.get_data(as_text=True)


def test_status_lookups_are_limited(limited_app):
    client = limited_app.test_client()
    page = client.get("/report/status").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf, "tracking_no": "QZBG-2026-000001", "status_code": "WRONGCODE1"}
    statuses = [client.post("/report/status", data=form).status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


@pytest.mark.skipif(not REDIS_URL, reason="QZBG_TEST_REDIS_URL is not set: shared Redis limits not tested")
def test_two_app_instances_share_limits_through_redis(backend):
    _name, url, root = backend
    settings = make_settings(root, url, intake_ip_rate_limit="2 per minute", redis_url=REDIS_URL)
    first, second = build_app(settings), build_app(settings)
    with first.app_context():
        limiter.reset()
        login = login_reporter(f"o-redis-{secrets.token_hex(3)}")
        assert first.test_client().post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
        db.session.remove()
        db.engine.dispose()
    with second.app_context():
        client = second.test_client()
        assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
        assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 429
        limiter.reset()
        _empty_tables()  # as the app fixture does after each test: the default office is put back


def test_reports_are_taken_while_the_rate_limit_store_is_down(make_app):
    app = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens there
    login = login_reporter("o-redis-down")
    response = app.test_client().post("/api/v1/reports", json=report_body(), headers=login.headers)
    assert response.status_code == 201


def test_without_redis_counts_are_kept_where_every_worker_sees_them(app, tmp_path):
    from app.core.ratelimit import SqliteFileStorage

    assert isinstance(limiter.storage, SqliteFileStorage)
    # Two storages on one file stand for two gunicorn worker processes.
    uri = f"qzbg+sqlite://{tmp_path}/limits.sqlite3"
    worker_a, worker_b = SqliteFileStorage(uri), SqliteFileStorage(uri)
    assert worker_a.incr("intake/1.2.3.4", 60) == 1
    assert worker_b.incr("intake/1.2.3.4", 60) == 2
    assert worker_a.get("intake/1.2.3.4") == 2
    assert worker_b.get_expiry("intake/1.2.3.4") > 0
    worker_a.clear("intake/1.2.3.4")
    assert worker_b.get("intake/1.2.3.4") == 0


def test_an_expired_window_starts_counting_again(tmp_path):
    from app.core.ratelimit import SqliteFileStorage

    storage = SqliteFileStorage(f"qzbg+sqlite://{tmp_path}/limits.sqlite3")
    assert storage.incr("k", 0) == 1  # expires at once
    assert storage.get("k") == 0
    assert storage.get_expiry("k") >= time.time() - 1  # never a reset in the past (Retry-After < 0)
    assert storage.incr("k", 60) == 1
    assert storage.incr("k", 60, amount=2) == 3


def test_only_a_429_carries_retry_after_and_it_counts_down_to_the_window_reset(limited_app):
    client = limited_app.test_client()
    login = login_reporter("o-retry-after")
    answers = [client.post("/api/v1/reports", json=report_body(), headers=login.headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    for created in answers[:2]:
        assert "Retry-After" not in created.headers
        assert not [h for h, _ in created.headers.items() if h.lower().startswith("x-ratelimit")]
    retry = int(answers[2].headers["Retry-After"])
    assert 1 <= retry <= 60  # "2 per minute": at most the rest of this minute's window
    # Other answers of limited routes (reads, errors) carry none either.
    assert "Retry-After" not in client.get("/api/v1/reports", headers=login.headers).headers
    unauthenticated = client.post("/api/v1/reports", json={}, environ_base={"REMOTE_ADDR": "10.9.8.6"})
    assert unauthenticated.status_code == 401
    assert "Retry-After" not in unauthenticated.headers


def test_the_retry_after_of_a_429_is_the_seconds_until_the_exhausted_window_resets(make_app, monkeypatch):
    app = make_app(intake_rate_limit="1 per hour")
    client = app.test_client()
    login = login_reporter("o-retry-hour")
    assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    refused = client.post("/api/v1/reports", json=report_body(), headers=login.headers)
    assert refused.status_code == 429
    retry = int(refused.headers["Retry-After"])
    # Within this hour's window and well past the 60 s the old fixed fallback gave.
    assert 60 < retry <= 3600


def test_a_503_keeps_the_apps_retry_after_on_a_rate_limited_route(limited_app, monkeypatch):
    from app.errors import ServiceUnavailableError
    from app.reports import service

    def down(*args, **kwargs):
        raise ServiceUnavailableError()

    monkeypatch.setattr(service, "submit", down)
    client = limited_app.test_client()
    login = login_reporter("o-retry-503")
    answer = client.post("/api/v1/reports", json=report_body(), headers=login.headers)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.json["error"]["code"] == "service_unavailable"


def test_the_web_forms_429_carries_retry_after_and_its_other_pages_none(limited_app):
    client = limited_app.test_client()
    page = client.get("/report")
    assert "Retry-After" not in page.headers
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf, "tracking_no": "QZBG-2026-000001", "status_code": "WRONGCODE1"}
    answers = [client.post("/report/status", data=form) for _ in range(3)]
    assert [a.status_code for a in answers] == [404, 404, 429]
    assert ["Retry-After" in a.headers for a in answers] == [False, False, True]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
