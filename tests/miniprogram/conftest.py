"""The mini-program's jest run from pytest: its packages (``make test`` installs them with ``npm ci``), and for the
end-to-end tests the app on real HTTP with the fake WeChat, plus a small control server through which the jest
tests let the office act (acknowledge and ask, through the review services) and the notify worker deliver."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.clients.fake_wechat import FakeWeChat
from app.core.actor import Actor
from app.extensions import db
from app.notify.worker import deliver_due
from app.offices.models import Office as OfficeModel
from app.reports.models import Report
from app.review import service as review
from tests.factories import create_staff
from tests.wechat.conftest import TEMPLATE, wechat_settings

MINIPROGRAM = Path(__file__).resolve().parents[2] / "miniprogram"
JEST = MINIPROGRAM / "node_modules" / ".bin" / "jest"


def run_jest(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``jest`` in miniprogram/ with the machine's Node.js; fails, saying how to install, when it is missing."""
    assert shutil.which("node"), "Node.js 18 or newer is needed for the mini-program's tests"
    assert JEST.exists(), "miniprogram/node_modules is missing: run `make test` (or `cd miniprogram && npm ci`)"
    return subprocess.run(
        [str(JEST), "--ci", "--colors=false", *args], cwd=MINIPROGRAM, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, check=False,
    )


def serve(application: Any) -> tuple[Any, threading.Thread, str]:
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


def stop(server: Any, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def app(make_app: Any, fake: FakeWeChat) -> Flask:
    """The app with the fake WeChat and a small per-reporter intake limit, so a 429 comes after three reports."""
    return make_app(**wechat_settings(fake), intake_rate_limit="3 per hour")


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    db.session.rollback()  # hold no transaction while the server works (SQLite: one writer)
    server, thread, url = serve(app)
    yield url
    stop(server, thread)


class Office:
    """What the jest tests may ask of the office and WeChat's side, each in its own app context and transaction."""

    def __init__(self, app: Flask, fake: FakeWeChat) -> None:
        self.app, self.fake = app, fake

    def ask(self, body: dict[str, Any]) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        report = db.session.get(Report, uuid.UUID(body["report_id"]))
        assert report is not None
        prosecutor = Actor.staff(create_staff(role="prosecutor", office=db.session.get(OfficeModel, report.office_id)))
        if report.status == "new":
            review.acknowledge(report, actor=prosecutor, version=report.version, now=now)
            db.session.flush()
        asked = review.ask_reporter(report, body["text"], actor=prosecutor, version=report.version, now=now)
        db.session.commit()
        return {"question_id": str(asked.id)}

    def grant(self, body: dict[str, Any]) -> dict[str, Any]:
        """The user tapped 允许 in wx.requestSubscribeMessage: WeChat grants one message."""
        self.fake.grant(f"o-dev-{body['login']}", body.get("template_id", TEMPLATE))
        return {}

    def reopen(self, body: dict[str, Any]) -> dict[str, Any]:
        """WeChat hands the same user a fresh login code (the fake's codes name the user, so forget the used one)."""
        self.fake.used_codes.discard(f"dev-{body['login']}")
        return {}

    def deliver(self, body: dict[str, Any]) -> dict[str, Any]:
        counts = deliver_due(now=dt.datetime.now(dt.UTC))
        db.session.commit()
        return {"counts": counts, "sent": list(self.fake.sent)}

    def attachments(self, body: dict[str, Any]) -> dict[str, Any]:
        report = db.session.get(Report, uuid.UUID(body["report_id"]))
        assert report is not None
        return {"count": len(report.attachments)}

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        action = getattr(self, request.path.strip("/"), None)
        with self.app.app_context():
            try:
                result = action(json.loads(request.data or b"{}")) if action else None
            finally:
                db.session.remove()
        status = 200 if action else 404
        return Response(json.dumps(result), status=status, mimetype="application/json")(environ, start_response)


@pytest.fixture
def office_url(app: Flask, fake: FakeWeChat) -> Iterator[str]:
    server, thread, url = serve(Office(app, fake).wsgi)
    yield url
    stop(server, thread)
