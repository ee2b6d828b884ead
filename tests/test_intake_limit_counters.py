"""The intake limits are read and spent together in the counter file: one read, one write per submission."""

from __future__ import annotations

import math
import time

import pytest

from app.core import ratelimit
from tests.conftest import login_reporter
from tests.factories import report_body

HOSPITAL = {"REMOTE_ADDR": "10.20.30.41"}


@pytest.fixture
def statements(monkeypatch):
    """The statements sent to the counter file meanwhile (housekeeping aside)."""
    seen: list[str] = []
    connection = ratelimit.SqliteFileStorage._connection

    def traced(self):
        conn = connection(self)
        conn.set_trace_callback(lambda sql: seen.append(sql.split()[0].upper()))
        return conn

    monkeypatch.setattr(ratelimit.SqliteFileStorage, "_connection", traced)
    monkeypatch.setattr(ratelimit.random, "random", lambda: 1.0)  # no housekeeping DELETE
    return seen


def test_an_accepted_submission_reads_its_limits_once_and_spends_them_in_one_write(make_app, statements):
    app = make_app(intake_rate_limit="2 per minute", intake_ip_rate_limit="5 per minute")
    client, login = app.test_client(), login_reporter("o-counted")
    statements.clear()
    answer = client.post("/api/v1/reports", json=report_body(), headers=login.headers, environ_base=HOSPITAL)
    assert answer.status_code == 201
    assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"]


def test_a_refused_submission_reads_its_limits_once_and_spends_nothing(make_app, statements):
    app = make_app(intake_rate_limit="2 per minute", intake_ip_rate_limit="5 per minute")
    client, login = app.test_client(), login_reporter("o-refused")
    body = report_body(victim={"age": 30})
    statements.clear()
    assert client.post("/api/v1/reports", json=body, headers=login.headers, environ_base=HOSPITAL).status_code == 422
    assert statements == ["SELECT"]


def test_the_retry_after_of_an_exhausted_limit_is_the_rest_of_its_window(make_app):
    app = make_app(intake_rate_limit="1 per hour", intake_ip_rate_limit="5 per minute")
    client, login = app.test_client(), login_reporter("o-hourly")
    first = client.post("/api/v1/reports", json=report_body(), headers=login.headers, environ_base=HOSPITAL)
    assert first.status_code == 201
    started = time.time()
    refused = client.post("/api/v1/reports", json=report_body(), headers=login.headers, environ_base=HOSPITAL)
    assert refused.status_code == 429
    assert 3500 <= int(refused.headers["Retry-After"]) <= math.ceil(3600 - (time.time() - started)) + 1
