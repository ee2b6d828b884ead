"""The circuit breaker and the bulkhead: a failing or hanging WeChat answers 503 at once, and never holds
every thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from werkzeug.serving import BaseWSGIServer

from app.clients.fake_wechat import FakeWeChat, FakeWeChatServer
from app.clients.wechat import CircuitBreaker, WeChatCircuitOpen, WeChatUnavailable, get_gateway
from tests.wechat.conftest import wechat_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def login(client, code):
    return client.post("/api/v1/auth/wechat", json={"code": code})


def test_the_breaker_opens_after_consecutive_failures_and_lets_one_trial_through_after_the_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown=30, clock=clock)
    for _ in range(2):
        breaker.before("x")
        breaker.failure()
    breaker.before("x")  # two failures: still closed
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(WeChatCircuitOpen) as rejected:
        breaker.before("x")
    assert rejected.value.retry_after == 30
    clock.now += 20
    with pytest.raises(WeChatCircuitOpen) as later:
        breaker.before("x")
    assert later.value.retry_after == 10
    clock.now += 10
    breaker.before("x")  # the one trial
    with pytest.raises(WeChatCircuitOpen):
        breaker.before("x")  # a second call while the trial is out
    breaker.failure()  # the trial failed: open for another cool-down
    with pytest.raises(WeChatCircuitOpen) as reopened:
        breaker.before("x")
    assert reopened.value.retry_after == 30
    clock.now += 30
    breaker.before("x")
    breaker.success()
    assert breaker.state == "closed"
    breaker.before("x")
    breaker.before("x")


def test_a_success_between_failures_resets_the_count():
    breaker = CircuitBreaker(failures=2, cooldown=30, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"


def test_after_the_breaker_opens_a_login_is_503_with_retry_after_without_reaching_wechat(make_app, fake):
    app = make_app(**wechat_settings(fake, wechat_breaker_failures=3, wechat_breaker_cooldown=30))
    client = app.test_client()
    clock = Clock()
    get_gateway().breaker.clock = clock
    fake.mode = "error_5xx"
    assert [login(client, f"dev-down{i}").status_code for i in range(3)] == [503] * 3
    reached = len(fake.calls)
    rejected = login(client, "dev-down4")
    assert rejected.status_code == 503
    assert rejected.json["error"]["code"] == "upstream_unavailable"
    assert int(rejected.headers["Retry-After"]) > 0
    assert len(fake.calls) == reached  # answered at once, nothing sent
    clock.now += 31
    fake.mode = "normal"
    assert login(client, "dev-back").status_code == 200  # the trial call, which closes the circuit
    assert login(client, "dev-back2").status_code == 200
    assert len([c for c in fake.calls if c.path == "/sns/jscode2session"]) == reached + 2


def test_refusals_from_wechat_do_not_open_the_breaker(make_app, fake):
    app = make_app(**wechat_settings(fake, wechat_breaker_failures=2))
    client = app.test_client()
    assert [login(client, "bad-code").status_code for _ in range(4)] == [401] * 4
    assert get_gateway().breaker.state == "closed"
    assert login(client, "dev-fine").status_code == 200


def test_the_notify_channel_is_told_to_retry_while_the_breaker_is_open(make_app, fake):
    make_app(**wechat_settings(fake, wechat_breaker_failures=1))
    fake.mode = "error_5xx"
    gateway = get_gateway()
    with pytest.raises(WeChatUnavailable):  # a Retry for the outbox
        gateway.send_subscribe_message("o-x", "TPL", {"thing1": "有更新"}, page="p")
    calls = len(fake.calls)
    with pytest.raises(WeChatCircuitOpen):
        gateway.send_subscribe_message("o-x", "TPL", {"thing1": "有更新"}, page="p")
    assert len(fake.calls) == calls


def test_calls_beyond_the_bulkhead_answer_503_at_once_while_wechat_hangs(make_app, fake):
    app = make_app(**wechat_settings(fake, wechat_timeout=60.0, wechat_max_concurrent=2))
    # WeChat hangs until the test releases it: the extra call is answered while both slow ones are still held,
    # however slow the machine.
    fake.mode, fake.hang_seconds, fake.hang_paths = "hang", 60.0, {"/sns/jscode2session"}
    done: list[str] = []
    lock = threading.Lock()
    arrived = threading.Event()

    def hanging(i):
        response = login(app.test_client(), f"dev-slow{i}")
        with lock:
            done.append(f"slow:{response.status_code}")

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(hanging, i) for i in range(2)]
        while len(fake.calls) < 2 and not all(f.done() for f in futures):
            arrived.wait(0.01)
        extra = login(app.test_client(), "dev-extra")
        with lock:
            done.append(f"extra:{extra.status_code}")
        fake.release.set()
        for future in futures:
            future.result()
    assert done == ["extra:503", "slow:200", "slow:200"]
    assert extra.json["error"]["code"] == "upstream_unavailable"
    assert int(extra.headers["Retry-After"]) > 0
    assert [c.query.get("js_code") for c in fake.calls].count("dev-extra") == 0
    assert get_gateway().breaker.state == "closed"  # our own limit is no WeChat failure


def test_the_fake_server_stops_without_waiting_out_a_long_poll(monkeypatch):
    seen = []
    original = BaseWSGIServer.serve_forever

    def spy(self, poll_interval=0.5):
        seen.append(poll_interval)
        original(self, poll_interval)

    monkeypatch.setattr(BaseWSGIServer, "serve_forever", spy)
    with FakeWeChatServer(FakeWeChat()):
        pass
    assert seen
    assert seen[0] <= 0.05


def test_the_bulkhead_leaves_four_of_gunicorns_threads_free_unless_set():
    from app.config import ConfigError, Settings

    base = {"QZBG_SECRET_KEY": "k" * 40}
    assert Settings.from_env(base).wechat_max_concurrent == 12  # QZBG_THREADS defaults to 16
    assert Settings.from_env({**base, "QZBG_THREADS": "8"}).wechat_max_concurrent == 4
    assert Settings.from_env({**base, "QZBG_THREADS": "2"}).wechat_max_concurrent == 1
    explicit = Settings.from_env({**base, "QZBG_THREADS": "8", "QZBG_WECHAT_MAX_CONCURRENT": "6"})
    assert explicit.wechat_max_concurrent == 6
    settings = Settings.from_env({**base, "QZBG_WECHAT_BREAKER_FAILURES": "3", "QZBG_WECHAT_BREAKER_COOLDOWN": "60"})
    assert (settings.wechat_breaker_failures, settings.wechat_breaker_cooldown) == (3, 60)
    with pytest.raises(ConfigError):
        Settings.from_env({**base, "QZBG_THREADS": "0"})
