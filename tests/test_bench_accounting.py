"""The bench's load driver tells a request the client gave up on (the server committed it, then the connection
died before the answer) from one that was answered, so the stored-data check can expect it instead of calling the
database wrong."""

from __future__ import annotations

import http.server
import json
import os
import threading

from bench.load import drive, report_scenario


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stored: list[str] = []
        self.lock = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.stored.append(body["client_id"])  # type: ignore[attr-defined]
            n = len(self.server.stored)  # type: ignore[attr-defined]
        if n % 3 == 0:
            self.close_connection = True  # "committed", then gone without an answer
            return
        answer = json.dumps({"tracking_no": f"QZBG-2026-{n:06d}"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


def test_a_request_stored_without_an_answer_is_an_error_named_by_its_client_id():
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = drive(server.server_address[1], report_scenario(["token"]), 0.3, 2, os.getpid())
    finally:
        server.shutdown()
        server.server_close()
    assert result.unanswered
    assert set(result.unanswered) <= set(server.stored)
    assert result.created + len(result.unanswered) == len(server.stored)
    assert result.errors == len(result.unanswered)
    assert any("on a reused connection" in s or "on a new connection" in s for s in result.error_samples)
