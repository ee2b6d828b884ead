"""The notify worker against the fake WeChat on loopback, beside what the fake accepts on its own.

The fake (``flask wechat fake-server``) runs in its own process. Reporters are
registered with it (a login code each) and given grants; ``messages`` subscribe
messages are queued in the outbox (``app.notify.service.queue``, channel
``wechat_subscribe``) for real reports, and the worker's own loop step
(``app.notify.worker.deliver_due`` with its defaults, called until the outbox is
empty, in this process) delivers them through the real gateway. The fake's own rate
is a tight loop of direct HTTP posts of the same message to it (``http.client``, one
connection per post, as the fake's HTTP/1.0 server closes each one).

Pickup latency: a real ``flask notify worker`` process is started, idle, and
``PICKUPS`` messages are queued one at a time, a random 0-300 ms apart (committed in this process); each is
timed from its commit until the fake's count of accepted messages goes up (the
fake polled every ``POLL`` seconds). On PostgreSQL the worker wakes on the outbox's
NOTIFY; on SQLite it polls every ``QZBG_NOTIFY_POLL_MS`` (default 250 ms).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.client
import json
import random
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.common import HOST, ROOT, BenchError
from bench.instance import BenchApp, free_port, stop_process_group

APPID = "wx-bench-appid"
SECRET = "bench-secret"  # noqa: S105 - the fake's
TEMPLATE = "TPL_BENCH_STATUS"
REPORTERS = 10
PICKUPS = 100  # at most; fewer when the run has fewer messages
POLL = 0.002  # seconds between two looks at the fake's count


@dataclasses.dataclass
class WorkerFigure:
    messages: int
    worker_s: float
    sent: int
    direct_posts: int
    direct_s: float

    pickup_ms: list[float] = dataclasses.field(default_factory=list)

    def pickup(self, q: float) -> float:
        ordered = sorted(self.pickup_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0

    @property
    def worker_rate(self) -> float:
        return self.sent / self.worker_s if self.worker_s else 0.0

    @property
    def direct_rate(self) -> float:
        return self.direct_posts / self.direct_s if self.direct_s else 0.0


def wechat_env(env: dict[str, str], port: int) -> dict[str, str]:
    return {
        **env, "QZBG_WECHAT_APPID": APPID, "QZBG_WECHAT_SECRET": SECRET,
        "QZBG_WECHAT_API_BASE": f"http://{HOST}:{port}", "QZBG_WECHAT_STATUS_TEMPLATE_ID": TEMPLATE,
    }


def _call(port: int, method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        conn.request(method, target, body=data, headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return json.loads(response.read())
    finally:
        conn.close()


class FakeProcess:
    """``flask wechat fake-server`` in its own process group."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "wechat", "fake-server", "--port", str(port)]
        with log.open("wb") as fh:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"the fake WeChat exited with {self.proc.returncode}: {log.read_text()[-800:]}")
            try:
                _call(port, "POST", "/__fake__/state", body={})
                return
            except OSError:
                time.sleep(0.1)
        stop_process_group(self.proc)
        raise BenchError(f"the fake WeChat did not answer on port {port}")

    def stop(self) -> None:
        stop_process_group(self.proc)


def _direct_posts(port: int, openid: str, count: int) -> float:
    """Seconds for ``count`` subscribe-message posts straight to the fake; each must be accepted."""
    token = _call(port, "GET", "/cgi-bin/token",
                  {"grant_type": "client_credential", "appid": APPID, "secret": SECRET})["access_token"]
    values = {"character_string1": "QZBG-2026-000001", "phrase2": "已受理", "time3": "2026-12-01 10:00",
              "thing4": "请进入小程序查看办理进度"}
    body = json.dumps({
        "touser": openid, "template_id": TEMPLATE, "page": "pages/report/detail?id=x", "miniprogram_state": "formal",
        "lang": "zh_CN", "data": {key: {"value": value} for key, value in values.items()},
    }, ensure_ascii=False).encode()
    target = "/cgi-bin/message/subscribe/send?" + urllib.parse.urlencode({"access_token": token})
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for _ in range(count):
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        conn.request("POST", target, body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
        conn.close()
        if answer.get("errcode") != 0:
            raise BenchError(f"the fake refused a direct post: {answer}")
    return time.perf_counter() - started


def run(env: dict[str, str], directory: Path, messages: int, problems: list[str]) -> WorkerFigure:
    from app.notify import service as notify
    from app.notify import worker
    from app.notify.subscribe import CHANNEL

    port = free_port()
    fake_env = wechat_env(env, port)
    fake = FakeProcess(fake_env, port, directory / "fake-wechat.log")
    try:
        openids = []
        for i in range(REPORTERS):
            answer = _call(port, "GET", "/sns/jscode2session", {
                "appid": APPID, "secret": SECRET, "js_code": f"dev-bench-w{i:04d}", "grant_type": "authorization_code",
            })
            openids.append(answer["openid"])
            _call(port, "POST", "/__fake__/grant", body={"openid": answer["openid"], "template_id": TEMPLATE,
                                                         "count": 10 * messages + 10})
        bench_app = BenchApp(fake_env)
        accounts = bench_app.reporters(REPORTERS, "o-dev-bench-w")
        reports = [bench_app.submit(token)[0] for _id, token in accounts]
        now = dt.datetime.now(dt.UTC)
        with bench_app.context() as db:
            for n in range(messages):
                payload = {"template_id": TEMPLATE, "status": "received", "at": now.isoformat()}
                notify.queue(CHANNEL, "status_changed", now=now, payload=payload, report_id=reports[n % REPORTERS],
                             reporter_id=accounts[n % REPORTERS][0])
            db.session.commit()
        sent = 0
        started = time.perf_counter()
        with bench_app.context():
            while True:
                counts = worker.deliver_due(now=dt.datetime.now(dt.UTC))
                sent += counts["sent"]
                if counts["retry"] or counts["dead"]:
                    problems.append(f"notify worker: {counts['retry']} retries, {counts['dead']} dead messages")
                if not any(counts.values()):
                    break
        worker_s = time.perf_counter() - started
        if sent != messages:
            problems.append(f"notify worker: {sent} of {messages} messages sent")
        direct_s = _direct_posts(port, openids[0], messages)
        figure = WorkerFigure(messages, worker_s, sent, messages, direct_s)
        figure.pickup_ms = _pickups(bench_app, fake_env, port, directory, min(PICKUPS, messages),
                                    reports[0], accounts[0][0], problems)
        return figure
    finally:
        fake.stop()


def _fake_sent(port: int) -> int:
    return int(_call(port, "POST", "/__fake__/state", body={})["sent"])


def _pickups(bench_app: BenchApp, env: dict[str, str], port: int, directory: Path, count: int, report_id: Any,
             reporter_id: Any, problems: list[str]) -> list[float]:
    """Milliseconds from an outbox row's commit to its delivery at the fake, through an idle worker process."""
    from app.notify import service as notify
    from app.notify.subscribe import CHANNEL

    log = directory / "notify-worker.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "notify", "worker"], cwd=ROOT,
                                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    samples: list[float] = []
    try:
        def queue_one() -> float:
            now = dt.datetime.now(dt.UTC)
            with bench_app.context() as db:
                notify.queue(CHANNEL, "status_changed", now=now, report_id=report_id, reporter_id=reporter_id,
                             payload={"template_id": TEMPLATE, "status": "received", "at": now.isoformat()})
                db.session.commit()
            return time.perf_counter()

        def delivered(before: int, since: float, limit: float) -> float | None:
            while time.perf_counter() - since < limit:
                if _fake_sent(port) > before:
                    return time.perf_counter()
                if proc.poll() is not None:
                    raise BenchError(f"the notify worker exited with {proc.returncode}: {log.read_text()[-800:]}")
                time.sleep(POLL)
            return None

        # The first message waits for the worker to start (imports, app, first heartbeat): not a sample.
        before = _fake_sent(port)
        if delivered(before, queue_one(), 60.0) is None:
            raise BenchError("the notify worker delivered nothing within 60 s of its start")
        for _ in range(count):
            # A pause of random length: arrivals at any point of the worker's poll, not right after a delivery.
            time.sleep(random.uniform(0.0, 0.3))  # noqa: S311 - not a secret
            before = _fake_sent(port)
            committed = queue_one()
            done = delivered(before, committed, 10.0)
            if done is None:
                problems.append("notify worker: a queued message was not delivered within 10 s")
                break
            samples.append((done - committed) * 1000)
    finally:
        stop_process_group(proc)
    if proc.returncode not in (0, None):
        problems.append(f"notify worker: exited with {proc.returncode} on SIGTERM")
    return samples
