"""A hanging WeChat does not stall the service: gunicorn with gunicorn.conf.py, over real HTTP.

While twelve logins wait on a WeChat that hangs on jscode2session until the test releases it, ``/healthz`` and
a report submission are answered: they finish before any of the hanging logins does. The order is asserted, not
a time, and WeChat is released only once both are in, so a slow machine cannot reorder them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from tests.factories import report_body
from tests.wechat.conftest import wechat_settings

ROOT = Path(__file__).resolve().parents[2]
LOGINS = 12
RELAXED = "10000 per minute"
SERVER_LOGS: dict[str, Path] = {}  # gunicorn's log of each served URL, quoted when a test fails


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` over HTTP on 127.0.0.1 from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gunicorn_url(app, fake, tmp_path) -> Iterator[str]:
    """The app served by gunicorn with the project's gunicorn.conf.py (2 workers, default threads)."""
    settings = app.config["QZBG"]
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "QZBG_BIND": f"127.0.0.1:{port}",
        "QZBG_WORKERS": "2",
        "QZBG_INSTANCE_PATH": str(settings.instance_path),
        "QZBG_DATABASE_URL": settings.database_url,
        "QZBG_SECRET_KEY": settings.secret_key,
        "QZBG_KEYRING": str(settings.keyring_path),
        "QZBG_ATTACHMENTS_DIR": str(settings.attachments_dir),
        "QZBG_WECHAT_APPID": fake.appid,
        "QZBG_WECHAT_SECRET": fake.secret,
        "QZBG_WECHAT_API_BASE": fake.url or "",
        "QZBG_WECHAT_TIMEOUT": "60",
        "QZBG_LOGIN_RATE_LIMIT": RELAXED,
        "QZBG_INTAKE_RATE_LIMIT": RELAXED,
        "QZBG_LOOKUP_RATE_LIMIT": RELAXED,
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail(f"gunicorn did not start: {log_path.read_text()[-3000:]}")
        SERVER_LOGS[url] = log_path
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_healthz_and_a_report_are_answered_while_wechat_hangs_on_logins(gunicorn_url, fake, reporter):
    fake.mode, fake.hang_seconds, fake.hang_paths = "hang", 60.0, {"/sns/jscode2session"}
    finished: list[str] = []
    lock = threading.Lock()

    def done(what: str) -> None:
        with lock:
            finished.append(what)

    def hanging_login(i: int) -> int:
        try:
            response = requests.post(f"{gunicorn_url}/api/v1/auth/wechat", json={"code": f"dev-hang{i}"},
                                     timeout=30)
        except requests.Timeout:
            done("login-timeout")  # unanswered for 30 s: a stalled service; the assertions below say so
            return 0
        done("login" if response.status_code == 200 else f"login-{response.status_code}")
        return response.status_code

    def logins_in_flight() -> bool:
        """Every login has reached WeChat or been answered (the bulkhead answers 503 at once)."""
        arrived = sum(1 for c in list(fake.calls) if c.path == "/sns/jscode2session")
        with lock:
            answered = len(finished)
            ended = "login" in finished
        return ended or arrived + answered >= LOGINS

    with ThreadPoolExecutor(LOGINS) as pool:
        logins = [pool.submit(hanging_login, i) for i in range(LOGINS)]
        while not logins_in_flight():
            time.sleep(0.01)
        health = requests.get(f"{gunicorn_url}/healthz", timeout=30)
        done("healthz")
        report = requests.post(f"{gunicorn_url}/api/v1/reports", json=report_body(), headers=reporter.headers,
                               timeout=30)
        done("report")
        fake.release.set()
        statuses = [future.result() for future in logins]
    assert health.status_code == 200
    assert report.status_code == 201, report.text
    # A login left unanswered is a failure; its diagnosis is the server's log and what the fake received.
    calls = [(c.path, round(c.at % 1000, 2)) for c in list(fake.calls)]
    assert set(statuses) <= {200, 503}, (
        f"statuses {statuses}, order {finished}, fake calls {calls}; gunicorn log tail:\n"
        f"{SERVER_LOGS[gunicorn_url].read_text(errors='replace')[-4000:]}"
    )
    assert statuses.count(200) >= 1
    first_hanging_login_done = finished.index("login")
    assert finished.index("healthz") < first_hanging_login_done
    assert finished.index("report") < first_hanging_login_done
    print(f"\nlogins: {statuses.count(200)} waited on WeChat, {statuses.count(503)} answered 503 by the bulkhead")


def test_a_report_is_not_queued_behind_a_phone_verification_waiting_on_wechat(make_app, fake, reporter):
    """On SQLite the token look-up's transaction held the write lock through the WeChat call. WeChat holds the
    phone check until the report is in (our timeout is longer than the test), so only a report queued behind
    the check could come second."""
    app = make_app(**wechat_settings(fake, wechat_timeout=60.0))
    fake.mode, fake.hang_seconds, fake.hang_paths = "hang", 60.0, {"/wxa/business/getuserphonenumber"}
    finished: list[str] = []

    def verify_phone(url: str) -> requests.Response:
        response = requests.post(f"{url}/api/v1/auth/phone", json={"code": "phone-13900000001"},
                                 headers=reporter.headers, timeout=90)
        finished.append("phone")
        return response

    with served(app) as url, ThreadPoolExecutor(1) as pool:
        phone = pool.submit(verify_phone, url)
        while not phone.done() and not any(c.path == "/wxa/business/getuserphonenumber" for c in list(fake.calls)):
            time.sleep(0.01)
        try:
            report = requests.post(f"{url}/api/v1/reports", json=report_body(), headers=reporter.headers,
                                   timeout=30)
            finished.append("report")
        finally:
            fake.release.set()
        answer = phone.result()
    assert report.status_code == 201, report.text
    assert answer.status_code == 200, answer.text
    assert finished == ["report", "phone"]
