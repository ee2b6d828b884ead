"""Helpers of the fault tests: a fake WeChat (and a fake Tencent SMS) that can be switched off (refusing
connections) and back on at the same port, reporters and messages it knows, and what it received, message by message."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.clients.fake_sms import FakeTencentSms, FakeTencentSmsServer
from app.clients.fake_wechat import FakeWeChat, FakeWeChatServer
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify import service
from app.notify.models import OutboxMessage
from app.notify.subscribe import CHANNEL
from tests.conftest import TEST_SECRET
from tests.factories import create_report

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "TPL_FAULTS"
OPENID = "o-dev-faults"
SEND_PATH = "/cgi-bin/message/subscribe/send"
BASE = dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


class _Switchable:
    """A fake provider's server on one port that ``off()`` closes (connections refused) and ``on()`` reopens."""

    serve: Any  # the server class: ``serve(state)`` or ``serve(state, port=...)``, a context manager

    def __init__(self, state: Any) -> None:
        self.state = state
        self.server: Any = self.serve(state).__enter__()
        self.port = self.server.server.server_port
        self.url = self.server.url

    def off(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None

    def on(self) -> None:
        if self.server is None:
            self.server = self.serve(self.state, port=self.port).__enter__()


class SwitchableFake(_Switchable):
    """The fake WeChat/WeCom (``FakeWeChatServer``), switchable."""

    serve = FakeWeChatServer
    state: FakeWeChat


class SwitchableSms(_Switchable):
    """The fake Tencent Cloud SMS (``FakeTencentSmsServer``), switchable."""

    serve = FakeTencentSmsServer
    state: FakeTencentSms


def settings_for(fake: SwitchableFake, **overrides: Any) -> dict[str, Any]:
    return {
        "wechat_appid": fake.state.appid, "wechat_secret": fake.state.secret, "wechat_api_base": fake.url,
        "wechat_timeout": 1.0, "wechat_status_template_id": TEMPLATE,
        "wechat_breaker_failures": 100,  # the breaker's fast failures are tested elsewhere: here every call goes out
        **overrides,
    }


def queue_messages(fake: FakeWeChat, count: int, *, first: int = 0) -> set[str]:
    """``count`` status messages for one reporter's report, each with its own minute (``time3``) so the fake's
    record tells them apart; returns their keys."""
    from app.reporters import service as reporters

    reporter = reporters.find_or_create_by_openid(OPENID, now=dt.datetime.now(dt.UTC), vault=get_vault())
    fake.session_keys[OPENID] = "session-key"
    fake.grant(OPENID, TEMPLATE, 100_000)
    report = create_report(reporter=reporter)
    keys = set()
    for n in range(first, first + count):
        at = BASE + dt.timedelta(minutes=n)
        service.queue(CHANNEL, "status_changed", now=dt.datetime.now(dt.UTC), report_id=report.id,
                      reporter_id=reporter.id, payload={"template_id": TEMPLATE, "status": "received",
                                                        "at": at.isoformat()})
        keys.add(key_of_time(at))
    db.session.commit()
    return keys


def key_of_time(at: dt.datetime) -> str:
    return at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")


def received(fake: FakeWeChat) -> Counter[str]:
    """How often the fake accepted each message."""
    return Counter(body["data"]["time3"]["value"] for body in list(fake.sent))


def states() -> dict[str, int]:
    db.session.remove()
    # The subscribe messages these tests queue; a new report's own staff messages (channel ``none`` here: no
    # staff with a contact) are not theirs.
    rows = db.session.execute(select(OutboxMessage.state, func.count())
                              .where(OutboxMessage.channel == "wechat_subscribe")
                              .group_by(OutboxMessage.state)).all()
    db.session.remove()
    return {state: int(count) for state, count in rows}


def worker_env(backend: tuple[str, str, Path], fake: SwitchableFake, **extra: str) -> dict[str, str]:
    _name, url, root = backend
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QZBG_", "FLASK_"))}
    return {
        **env, "QZBG_INSTANCE_PATH": str(root), "QZBG_DATABASE_URL": url, "QZBG_SECRET_KEY": TEST_SECRET,
        "QZBG_KEYRING": str(root / "keyring.json"), "QZBG_ATTACHMENTS_DIR": str(root / "attachments"),
        "QZBG_WECHAT_APPID": fake.state.appid, "QZBG_WECHAT_SECRET": fake.state.secret,
        "QZBG_WECHAT_API_BASE": fake.url, "QZBG_WECHAT_STATUS_TEMPLATE_ID": TEMPLATE, "QZBG_WECHAT_TIMEOUT": "2",
        "QZBG_NOTIFY_POLL_MS": "100", "QZBG_WECHAT_BREAKER_FAILURES": "100",
        **extra,
    }


class WorkerProcess:
    """``flask --app wsgi notify worker`` in a process of its own."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "notify", "worker"], cwd=ROOT, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait(10)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
