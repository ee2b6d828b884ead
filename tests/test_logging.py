"""Logs are JSON lines with a request id, and carry no bodies, query strings or personal data."""

from __future__ import annotations

import json
import logging

from app.core.logs import JsonFormatter
from tests.factories import report_body


def access_lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "qzbg.access"]


def test_each_request_logs_one_json_line_with_route_status_and_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    response = client.get("/api/v1/units/scene/secret-scene?q=小花", headers={"X-Request-ID": "req-12345678"})
    [line] = access_lines(caplog)
    assert line["route"] == "/api/v1/units/scene/<string:scene>"
    assert line["status"] == 404
    assert line["request_id"] == "req-12345678" == response.headers["X-Request-ID"]
    assert response.json["error"]["request_id"] == "req-12345678"
    assert "secret-scene" not in json.dumps(line, ensure_ascii=False)
    assert "小花" not in json.dumps(line, ensure_ascii=False)


def test_a_hostile_request_id_is_replaced(client, caplog):
    caplog.set_level(logging.INFO, logger="qzbg")
    response = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>" + "x" * 100})
    assert response.headers["X-Request-ID"].isalnum()
    assert access_lines(caplog)[0]["request_id"] == response.headers["X-Request-ID"]


def test_submission_logs_contain_no_body(client, reporter, caplog):
    caplog.set_level(logging.DEBUG)
    body = report_body(reporter={"name": "日志标记王某"})
    client.post("/api/v1/reports", json=body, headers=reporter.headers)
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "日志标记王某" not in text
    assert body["incident"]["description"] not in text


def test_unhandled_exception_is_logged_by_type_and_place_only(app, caplog):
    caplog.set_level(logging.ERROR, logger="qzbg")

    @app.get("/api/v1/_boom")
    def boom():
        raise RuntimeError("victim 张三 13800000000")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/api/v1/_boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled_exception"]
    line = JsonFormatter().format(record)
    assert json.loads(line)["exception"] == "RuntimeError"
    assert "张三" not in line
    assert "13800000000" not in line
