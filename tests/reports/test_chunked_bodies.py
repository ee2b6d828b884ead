"""A chunked body over the limit is a 413 like a declared length: never cut to the limit and stored."""

from __future__ import annotations

import http.client
import io
import json
import threading
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.serving import make_server
from werkzeug.test import encode_multipart

from app.core.requests import JSON_BODY_LIMIT
from app.extensions import db
from app.reports.models import Attachment, Report
from tests.conftest import login_reporter
from tests.factories import report_body

MIB = 1024 * 1024
REPORTS = "/api/v1/reports"


@pytest.fixture
def chunk_app(make_app):
    """The app with a 1 MB attachment limit (upload requests up to 2 MiB) and room for many submissions."""
    return make_app(max_attachment_mb=1, intake_rate_limit="1000 per minute")


@pytest.fixture
def server(chunk_app) -> Iterator[tuple[str, int]]:
    """A real HTTP server (Werkzeug's, which de-chunks and marks the input terminated, like gunicorn)."""
    httpd = make_server("127.0.0.1", 0, chunk_app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="chunked-server", daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def padded_report(size: int) -> bytes:
    """A valid report, padded with trailing whitespace (still valid JSON) to exactly ``size`` bytes."""
    body = json.dumps(report_body()).encode()
    assert len(body) < size
    return body + b" " * (size - len(body))


def upload_body(file_size: int) -> tuple[bytes, str]:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    data = out.getvalue() + b"\0" * (file_size - len(out.getvalue()))
    boundary, body = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(data), "a.png", "image/png")}))
    return body, f"multipart/form-data; boundary={boundary}"


def send_chunked(address: tuple[str, int], path: str, body: bytes, content_type: str, token: str) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked and no Content-Length, in 64 KiB chunks."""
    connection = http.client.HTTPConnection(*address, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Authorization", f"Bearer {token}")
        connection.putheader("Content-Type", content_type)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        try:
            for start in range(0, len(body), 64 * 1024):
                chunk = body[start : start + 64 * 1024]
                connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            connection.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading all of it: the answer is what counts
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model)) or 0


# --- through a real HTTP server -----------------------------------------------------------------------------------


def test_a_chunked_report_just_over_1_mib_is_413_and_nothing_is_stored(server):
    reporter = login_reporter("o-chunked")

    status, body = send_chunked(server, REPORTS, padded_report(JSON_BODY_LIMIT + 1), "application/json", reporter.token)

    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert count(Report) == 0


def test_a_chunked_report_of_exactly_1_mib_is_accepted(server):
    reporter = login_reporter("o-chunked")

    status, body = send_chunked(server, REPORTS, padded_report(JSON_BODY_LIMIT), "application/json", reporter.token)

    assert status == 201, body
    assert count(Report) == 1


def test_a_chunked_report_far_over_1_mib_is_413(server):
    reporter = login_reporter("o-chunked")

    status, body = send_chunked(server, REPORTS, padded_report(3 * MIB), "application/json", reporter.token)

    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert count(Report) == 0


def test_a_chunked_upload_over_the_request_limit_is_413_and_leaves_nothing(chunk_app, server):
    reporter = login_reporter("o-chunked")
    status, created = send_chunked(server, REPORTS, json.dumps(report_body()).encode(), "application/json",
                                   reporter.token)
    assert status == 201, created
    body, content_type = upload_body(2 * MIB + 1024)  # over 1 file x 1 MB + 1 MiB

    status, answer = send_chunked(server, f"{REPORTS}/{created['id']}/attachments", body, content_type,
                                  reporter.token)

    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"
    assert count(Attachment) == 0
    directory = chunk_app.config["QZBG"].attachments_dir
    assert not directory.exists() or list(directory.iterdir()) == []


def test_a_chunked_upload_within_the_limits_is_stored(chunk_app, server):
    reporter = login_reporter("o-chunked")
    status, created = send_chunked(server, REPORTS, json.dumps(report_body()).encode(), "application/json",
                                   reporter.token)
    body, content_type = upload_body(64 * 1024)

    status, answer = send_chunked(server, f"{REPORTS}/{created['id']}/attachments", body, content_type,
                                  reporter.token)

    assert status == 201, answer
    assert count(Attachment) == 1


# --- through the test client, with the input marked terminated as such servers do --------------------------------


def post_chunked(client, path: str, body: bytes, content_type: str, token: str):
    return client.post(
        path, input_stream=io.BytesIO(body), content_type=content_type,
        headers={"Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_through_the_test_client_has_no_length(chunk_app):
    with chunk_app.test_request_context(
        REPORTS, method="POST", input_stream=io.BytesIO(b"{}"), headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    ) as context:
        assert context.request.content_length is None  # Transfer-Encoding: chunked overrides Content-Length


def test_a_chunked_report_over_1_mib_is_413_through_the_test_client(chunk_app):
    client = chunk_app.test_client()
    reporter = login_reporter("o-chunked")

    response = post_chunked(client, REPORTS, padded_report(JSON_BODY_LIMIT + 1), "application/json", reporter.token)

    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert count(Report) == 0
    ok = post_chunked(client, REPORTS, padded_report(JSON_BODY_LIMIT), "application/json", reporter.token)
    assert ok.status_code == 201, ok.json


def test_a_chunked_upload_over_the_limit_is_413_through_the_test_client(chunk_app):
    client = chunk_app.test_client()
    reporter = login_reporter("o-chunked")
    report_id = client.post(REPORTS, json=report_body(), headers=reporter.headers).json["id"]
    body, content_type = upload_body(2 * MIB + 1024)

    response = post_chunked(client, f"{REPORTS}/{report_id}/attachments", body, content_type, reporter.token)

    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert count(Attachment) == 0
