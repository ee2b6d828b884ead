"""Logs are JSON lines with our own request id, and carry no bodies, query strings or personal data.

Each request line names the client address and, once authenticated, the reporter's opaque id; failed
查询码 look-ups, 429s and CSRF failures are security events; a 500 keeps the app's own frames.
"""

from __future__ import annotations

import json
import logging
import re

from app.core.logs import JsonFormatter
from tests.factories import report_body


def lines(caplog, logger: str) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == logger]


def access_lines(caplog) -> list[dict]:
    return lines(caplog, "qzbg.access")


def security_events(caplog) -> list[dict]:
    return lines(caplog, "qzbg.security")


def csrf_token(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_each_request_logs_one_json_line_with_route_status_and_our_own_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    response = client.get("/api/v1/units/scene/secret-scene?q=小花", headers={"X-Request-ID": "req-12345678"})
    [line] = access_lines(caplog)
    assert line["route"] == "/api/v1/units/scene/<string:scene>"
    assert line["status"] == 404
    assert line["client_addr"] == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert line["request_id"] == response.headers["X-Request-ID"] == response.json["error"]["request_id"]
    # The client's id is logged beside ours, never used as ours.
    assert line["client_request_id"] == "req-12345678"
    assert "secret-scene" not in json.dumps(line, ensure_ascii=False)
    assert "小花" not in json.dumps(line, ensure_ascii=False)


def test_a_client_request_id_is_never_ours_and_is_logged_sanitised_and_truncated(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    hostile = "<script>alert(1)</script>\u202e" + "x" * 100
    first = client.get("/healthz", headers={"X-Request-ID": hostile})
    second = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert first.headers["X-Request-ID"].isalnum()
    logged = access_lines(caplog)
    assert [line["request_id"] for line in logged] == [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    client_id = logged[0]["client_request_id"]
    assert len(client_id) == 64
    assert re.fullmatch(r"[A-Za-z0-9._:/+=_-]+", client_id)
    assert "<" not in client_id
    assert "\u202e" not in client_id


def test_a_request_without_client_id_logs_none(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    client.get("/healthz")
    assert access_lines(caplog)[0]["client_request_id"] is None


def test_the_request_line_names_the_authenticated_reporter_by_opaque_id(client, reporter, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    client.post("/api/v1/reports", json={}, headers=reporter.headers)  # a 422: rolled back, still named
    client.get("/api/v1/categories")
    created, refused, anonymous = access_lines(caplog)
    assert created["status"] == 201
    assert refused["status"] == 422
    assert created["reporter_id"] == refused["reporter_id"] == str(reporter.id)
    assert anonymous["reporter_id"] is None


def test_the_client_address_is_the_forwarded_one_behind_a_trusted_proxy(make_app, caplog):
    app = make_app(trusted_proxies=1)
    caplog.set_level(logging.INFO, logger="qzbg")
    app.test_client().get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert access_lines(caplog)[0]["client_addr"] == "203.0.113.7"


def test_submission_logs_contain_no_body(client, reporter, caplog):
    caplog.set_level(logging.DEBUG)
    body = report_body(reporter={"name": "日志标记王某"})
    client.post("/api/v1/reports", json=body, headers=reporter.headers)
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "日志标记王某" not in text
    assert body["incident"]["description"] not in text


def test_a_failed_status_lookup_is_a_security_event_without_the_number_or_code(client, caplog):
    token = csrf_token(client, "/report/status")
    caplog.set_level(logging.INFO, logger="qzbg")
    for tracking_no in ("QZBG-2026-000042", "QZBG-2026-00'--"):
        form = {"csrf_token": token, "tracking_no": tracking_no, "status_code": "WRONGCODE9"}
        assert client.post("/report/status", data=form).status_code == 404
    events = security_events(caplog)
    assert [e["event"] for e in events] == ["security.lookup_failed"] * 2
    assert [e["reason"] for e in events] == ["no_match", "malformed_tracking_no"]
    assert events[0]["client_addr"] == "127.0.0.1"
    assert events[0]["route"] == "/report/status"
    assert [e["request_id"] for e in events] == [line["request_id"] for line in access_lines(caplog)[-2:]]
    text = json.dumps(events, ensure_ascii=False)
    assert "000042" not in text
    assert "WRONGCODE9" not in text
    assert "'--" not in text


def test_a_429_is_a_security_event_naming_the_limit(make_app, caplog):
    app = make_app(lookup_rate_limit="1 per minute")
    client = app.test_client()
    token = csrf_token(client, "/report/status")
    form = {"csrf_token": token, "tracking_no": "QZBG-2026-000001", "status_code": "WRONGCODE1"}
    caplog.set_level(logging.INFO, logger="qzbg")
    assert [client.post("/report/status", data=form).status_code for _ in range(2)] == [404, 429]
    [event] = [e for e in security_events(caplog) if e["event"] == "security.rate_limited"]
    assert event["limit"] == "1 per 1 minute"
    assert event["route"] == "/report/status"
    assert event["client_addr"] == "127.0.0.1"


def test_a_csrf_failure_is_a_security_event_with_flask_wtfs_reason_only(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    response = client.post("/report/status", data={"tracking_no": "QZBG-2026-000001", "status_code": "王某某"})
    assert response.status_code == 400
    [event] = security_events(caplog)
    assert event["event"] == "security.csrf_failed"
    assert event["reason"] == "The CSRF token is missing."
    assert "王某某" not in json.dumps(event, ensure_ascii=False)


def test_unhandled_exception_is_logged_by_type_and_the_apps_own_frames_only(app, caplog):
    from app.core.db import transactional

    caplog.set_level(logging.ERROR, logger="qzbg")

    @app.get("/api/v1/_boom")
    @transactional
    def boom():
        raise RuntimeError("victim 张三 13800000000")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/v1/_boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled_exception"]
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "RuntimeError"
    # The app's frames, not Flask's and not this test's: the transaction wrapper the view ran in.
    assert line["frames"] == [next(f for f in line["frames"] if f.startswith("app/core/db.py:"))]
    assert line["frames"][0].endswith(" wrapper")
    assert line["raised_at"].startswith("test_logging.py:")
    text = json.dumps(line, ensure_ascii=False)
    assert "张三" not in text
    assert "13800000000" not in text


def test_an_error_deep_in_a_library_keeps_every_app_frame_on_the_way(app, caplog):
    from app.core.fields import clean_text

    caplog.set_level(logging.ERROR, logger="qzbg")

    @app.get("/api/v1/_deep")
    def deep():
        return clean_text(None, multiline=False)  # TypeError inside the regex engine

    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/api/v1/_deep").status_code == 500
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled_exception"]
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "TypeError"
    assert len(line["frames"]) == 1
    assert re.fullmatch(r"app/core/fields\.py:\d+ clean_text", line["frames"][0])
