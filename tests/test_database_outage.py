"""A database outage answers 503 with Retry-After, never 500, and the app recovers when the database returns.

PostgreSQL is never stopped (the machine is shared): an app is pointed at an unreachable PostgreSQL
(127.0.0.1, a closed port), at a SQLite file in a missing directory, and, for an outage mid-run, at the
real PostgreSQL through a small TCP proxy that the test cuts and restores.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.crypto.wiring import check_keyring_matches_database
from app.extensions import db
from app.reports.models import Report
from tests.conftest import _empty_tables, build_app, login_reporter, make_settings
from tests.factories import report_body

SECRET_PASSWORD = "s3cret-db-pw"
TOKEN = {"Authorization": "Bearer qzr_" + "x" * 43}
API_ROUTES = [  # every JSON route that reads or writes the database
    ("GET", "/api/v1/units"), ("GET", "/api/v1/units/scene/hosp-001"), ("GET", "/api/v1/reports"),
    ("POST", "/api/v1/reports"), ("GET", "/api/v1/me"), ("POST", "/api/v1/subscriptions"),
    ("GET", "/api/v1/reports/00000000-0000-4000-8000-000000000000"),
]
PAGE_ROUTES = [  # every HTML route that reads or writes the database
    ("GET", "/report"), ("POST", "/report"), ("POST", "/report/status"), ("GET", "/report/receipt/" + "B" * 24),
    ("GET", "/units/hosp-001/poster"), ("GET", "/units/hosp-001/qrcode.png"),
]
NO_DATABASE_ROUTES = [("GET", "/api/v1/categories"), ("GET", "/report/status"), ("GET", "/api/v1/openapi.json")]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def app_on(root: Path, url: str, **flask_config) -> Iterator[Flask]:
    app = build_app(make_settings(root, url), WTF_CSRF_ENABLED=False, PROPAGATE_EXCEPTIONS=False, **flask_config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def request(client, method: str, path: str):
    body = {"json": report_body()} if path.startswith("/api/") and method == "POST" else {}
    if method == "POST" and not path.startswith("/api/"):
        body = {"data": {"tracking_no": "QZBG-2026-000001", "status_code": "ABCDEFGHJK", "form_key": "A" * 24}}
    return client.open(path, method=method, headers=TOKEN, **body)


def assert_unavailable(response, path: str) -> None:
    where = f"{response.request.method} {path}"
    assert response.status_code == 503, (where, response.status_code)
    assert response.headers["Retry-After"] == "30", where
    if path.startswith("/api/"):
        assert response.json["error"]["code"] == "service_unavailable", where
        assert response.json["error"]["message"] == "服务暂时不可用，请稍后再试"
    else:
        assert response.mimetype == "text/html", where
        page = response.get_data(as_text=True)
        assert '<html lang="zh-CN">' in page, where
        assert "服务暂时不可用，请稍后再试" in page, where


def assert_readyz_names_the_database(client) -> dict:
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert int(ready.headers["Retry-After"]) > 0
    assert ready.json["status"] == "unavailable"
    assert ready.json["database"] == "down"
    assert ready.json["detail"].startswith("database (")
    assert "not reachable" in ready.json["detail"]
    return ready.json


def outage_answers(app: Flask, routes) -> None:
    client = app.test_client()
    for method, path in routes:
        assert_unavailable(request(client, method, path), path)
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def unreachable_postgresql(tmp_path) -> str:
    return f"postgresql+psycopg://qzbg:{SECRET_PASSWORD}@127.0.0.1:{closed_port()}/qzbg"


@pytest.fixture
def missing_sqlite(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'missing' / 'dir' / 'qzbg.sqlite3'}"


@pytest.mark.parametrize("target", ["unreachable_postgresql", "missing_sqlite"])
def test_start_up_without_a_database_then_every_database_route_is_503_with_retry_after(
    request: pytest.FixtureRequest, tmp_path, target
):
    url = request.getfixturevalue(target)
    with app_on(tmp_path, url) as app:
        check_keyring_matches_database(app)  # what wsgi.py does: the app starts all the same
        assert not app.extensions.get("qzbg.keyring_verified")
        # Until the keyring could be checked, every route but /healthz says so, as an outage.
        outage_answers(app, API_ROUTES + PAGE_ROUTES + NO_DATABASE_ROUTES)
        ready = assert_readyz_names_the_database(app.test_client())
        text = json.dumps(ready)
        assert SECRET_PASSWORD not in text
        assert str(make_url(url).port) not in text
        assert "missing" not in text


@pytest.mark.parametrize("target", ["unreachable_postgresql", "missing_sqlite"])
def test_a_database_lost_after_the_keyring_check_makes_database_routes_503_and_the_rest_still_serve(
    request: pytest.FixtureRequest, tmp_path, target
):
    url = request.getfixturevalue(target)
    with app_on(tmp_path, url) as app:
        app.extensions["qzbg.keyring_verified"] = True  # checked before the database went away
        outage_answers(app, API_ROUTES + PAGE_ROUTES)
        client = app.test_client()
        for method, path in NO_DATABASE_ROUTES:
            assert request_ok(client, method, path), path
        assert_readyz_names_the_database(client)


def request_ok(client, method: str, path: str) -> bool:
    return client.open(path, method=method).status_code == 200


def test_sqlite_coming_back_is_served_without_a_restart(tmp_path, missing_sqlite):
    with app_on(tmp_path, missing_sqlite) as app:
        client = app.test_client()
        assert client.get("/report").status_code == 503
        Path(make_url(missing_sqlite).database).parent.mkdir(parents=True)
        # The file opens now, but has no tables yet: still not ready, and /readyz says what is missing.
        assert client.get("/report").status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json["database"] == "ok"
        assert ready.json["keyring"] == "unchecked"
        with app.app_context():
            flask_migrate.upgrade()
            db.session.remove()
        assert client.get("/report").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert {k: ready.json[k] for k in ("status", "database", "keyring")} == {
            "status": "ok", "database": "ok", "keyring": "ok"}
        assert ready.json["notify_worker"] == "down"  # no worker in this test


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of the real PostgreSQL; ``cut()`` drops every connection and
    refuses new ones (accepts, then closes), ``restore()`` lets them through again."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.stopped = False
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.up:
                conn.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets |= {conn, upstream}
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        with self.lock:
            self.sockets.discard(sock)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            victims = list(self.sockets)
        for sock in victims:
            self._drop(sock)

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.stopped = True
        self.cut()
        self.listener.close()
        self.thread.join()


@pytest.fixture
def proxied_app(backend, tmp_path) -> Iterator[tuple[Flask, CuttableProxy]]:
    name, url, _root = backend
    if name != "postgresql":
        pytest.skip("the mid-run outage goes through a proxy to PostgreSQL")
    real = make_url(url)
    proxy = CuttableProxy(real.host or "127.0.0.1", real.port or 5432)
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with app_on(tmp_path, proxied) as app, app.app_context():
            yield app, proxy
            proxy.restore()
            _empty_tables()
    finally:
        proxy.close()


def stored_reports() -> int:
    db.session.remove()
    count = db.session.scalar(select(func.count()).select_from(Report)) or 0
    db.session.remove()
    return count


def test_an_outage_mid_run_is_503_with_retry_after_and_service_returns_with_the_database(proxied_app):
    app, proxy = proxied_app
    login = login_reporter("o-outage")
    db.session.remove()
    client = app.test_client()
    assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    assert client.get("/readyz").status_code == 200

    proxy.cut()
    for _ in range(2):  # the pool's dead connections, then new ones refused
        answers = [
            ("/api/v1/reports", client.post("/api/v1/reports", json=report_body(), headers=login.headers)),
            ("/api/v1/reports", client.get("/api/v1/reports", headers=login.headers)),
            ("/report", client.get("/report")),
            ("/api/v1/units", client.get("/api/v1/units")),
        ]
        for path, answer in answers:
            assert_unavailable(answer, path)
        assert_readyz_names_the_database(client)
        assert client.get("/healthz").status_code == 200

    proxy.restore()
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    assert client.get("/api/v1/reports", headers=login.headers).status_code == 200
    assert client.get("/report").status_code == 200
    assert stored_reports() == 2


def test_a_connection_cut_inside_a_submission_stores_nothing_and_answers_503(proxied_app, monkeypatch):
    from app.reports import service

    app, proxy = proxied_app
    login = login_reporter("o-outage-mid")
    db.session.remove()
    real_submit = service.submit

    def submit_during_cut(*args, **kwargs):
        proxy.cut()  # the token was read on this connection: the transaction is under way
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(service, "submit", submit_during_cut)
    client = app.test_client()
    assert_unavailable(client.post("/api/v1/reports", json=report_body(), headers=login.headers), "/api/v1/reports")
    monkeypatch.setattr(service, "submit", real_submit)
    proxy.restore()
    assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    assert stored_reports() == 1
