"""The gateway against the fake: shared token, bounded retries, timeouts, errors translated."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.clients.tokens import shared_cache
from app.clients.wechat import (
    WeChatBadRequest,
    WeChatGateway,
    WeChatInvalidCode,
    WeChatRateLimited,
    WeChatRefused,
    WeChatUnavailable,
    get_gateway,
)
from app.extensions import db
from tests.conftest import redis_test_url
from tests.wechat.conftest import wechat_settings

REDIS_URL = redis_test_url()
WORKERS = 8


def token_calls(fake):
    return [c for c in fake.calls if c.path in ("/cgi-bin/token", "/cgi-bin/stable_token")]


def other_worker(app) -> WeChatGateway:
    """A second gateway with its own in-process state, as another gunicorn worker would have."""
    settings = app.config["QZBG"]
    return WeChatGateway(settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base,
                         settings.wechat_timeout, shared_cache(settings, settings.wechat_appid or ""))


def phone_calls_in_parallel(app, fake, count=WORKERS):
    gateways = [other_worker(app) for _ in range(count)]
    for i in range(count):
        fake.used_codes.discard(f"phone-1390000{i:04d}")
    barrier = threading.Barrier(count)

    def call(i):
        with app.app_context():
            barrier.wait()
            return gateways[i].phone_number(f"phone-1390000{i:04d}")

    db.session.rollback()
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(call, range(count)))


def test_many_workers_starting_together_fetch_the_token_once(app, fake):
    numbers = phone_calls_in_parallel(app, fake)
    assert numbers == [f"1390000{i:04d}" for i in range(WORKERS)]
    assert len(token_calls(fake)) == 1
    assert token_calls(fake)[0].path == "/cgi-bin/stable_token"


def test_an_expired_token_is_refreshed_once_for_all_workers(app, fake):
    phone_calls_in_parallel(app, fake)
    fake.expire_tokens()
    numbers = phone_calls_in_parallel(app, fake)
    assert len(numbers) == WORKERS
    assert len(token_calls(fake)) == 2


@pytest.mark.skipif(not REDIS_URL, reason="QZBG_TEST_REDIS_URL is not set: Redis token cache not tested")
def test_workers_share_the_token_through_redis(make_app, fake):
    app = make_app(**wechat_settings(fake, redis_url=REDIS_URL))
    phone_calls_in_parallel(app, fake)
    fake.expire_tokens()
    phone_calls_in_parallel(app, fake)
    assert len(token_calls(fake)) == 2


def test_a_token_rejected_again_after_refresh_ends_the_call_without_a_storm(app, fake):
    gateway = get_gateway()
    gateway.phone_number("phone-13900000001")
    # From now on every token is rejected, as if another deployment kept invalidating it.
    original = fake._check_token
    fake._check_token = lambda token: fake._err(40001, "invalid credential")  # type: ignore[method-assign]
    try:
        before = len(fake.calls)
        with pytest.raises(WeChatUnavailable):
            gateway.phone_number("phone-13900000002")
        # one call, one refresh (plus a forced one when the same token came back), one retry
        assert len(fake.calls) - before <= 4
    finally:
        fake._check_token = original  # type: ignore[method-assign]


def test_a_hanging_wechat_times_out_within_the_configured_timeout(make_app, fake):
    make_app(**wechat_settings(fake, wechat_timeout=2.0))
    get_gateway().phone_number("phone-13900000003")
    fake.mode, fake.hang_seconds = "hang", 120.0  # WeChat never answers within the test
    before = len(fake.calls)
    started = time.monotonic()
    try:
        with pytest.raises(WeChatUnavailable):
            get_gateway().code_to_session("dev-slow")
        # Our timeout ended the call, not WeChat (which would have taken 120 s), and a timeout is not retried.
        assert time.monotonic() - started < 60
        assert [c.path for c in fake.calls[before:]] == ["/sns/jscode2session"]
    finally:
        fake.release.set()


def test_server_errors_get_one_retry_then_unavailable(app, fake):
    fake.mode = "error_5xx"
    with pytest.raises(WeChatUnavailable):
        get_gateway().code_to_session("dev-x")
    assert [c.path for c in fake.calls] == ["/sns/jscode2session"] * 2


def test_system_busy_gets_one_retry(app, fake):
    fake.mode = "busy"
    with pytest.raises(WeChatUnavailable):
        get_gateway().code_to_session("dev-y")
    assert len(fake.calls) == 2


def test_wechat_errors_become_our_own(app, fake):
    gateway = get_gateway()
    with pytest.raises(WeChatInvalidCode):
        gateway.code_to_session("not-a-dev-code")
    gateway.code_to_session("dev-once")
    with pytest.raises(WeChatInvalidCode) as reused:
        gateway.code_to_session("dev-once")
    assert reused.value.errcode == 40163
    fake.mode = "freq_limit"
    with pytest.raises(WeChatRateLimited):
        gateway.code_to_session("dev-z")
    fake.mode = "normal"
    openid, _ = gateway.code_to_session("dev-sub")
    with pytest.raises(WeChatRefused):
        gateway.send_subscribe_message(openid, "TPL", {"thing1": "有更新"}, page="pages/index")
    fake.grant(openid, "TPL")
    with pytest.raises(WeChatBadRequest) as bad:
        gateway.send_subscribe_message(openid, "TPL", {"thing1": "字" * 21}, page="pages/index")
    assert bad.value.errcode == 47003


def test_wrong_secret_is_unavailable_not_a_crash(make_app, fake):
    make_app(**wechat_settings(fake, wechat_secret="wrong-secret"))
    with pytest.raises(WeChatUnavailable) as exc:
        get_gateway().phone_number("phone-13900000009")
    assert exc.value.errcode == 40125


def test_login_sends_no_access_token_and_every_call_goes_to_the_configured_base(app, fake):
    get_gateway().code_to_session("dev-base")
    [call] = fake.calls
    assert call.path == "/sns/jscode2session"
    assert "access_token" not in call.query
    assert token_calls(fake) == []


def test_phone_number_from_another_mini_program_is_refused(app, fake):
    fake.watermark_appid = "wx-someone-else"
    with pytest.raises(WeChatInvalidCode):
        get_gateway().phone_number("phone-13900000004")


def test_an_unreachable_token_store_is_unavailable_not_a_crash(make_app, fake):
    make_app(**wechat_settings(fake, redis_url="redis://127.0.0.1:1/0"))  # nothing listens there
    with pytest.raises(WeChatUnavailable):
        get_gateway().phone_number("phone-13900000005")


def test_a_reader_never_borrows_the_connection_of_the_thread_refreshing_the_token(app, backend_name):
    """PostgreSQL's token cache holds its row lock on a connection of its own while one thread fetches a new
    token; a send thread asking for the current token meanwhile reads on a connection of its own (it used to read
    on the lock holder's, even after that one was back in the pool, leaving a pooled connection in a transaction)."""
    import threading

    from app.clients.tokens import DatabaseTokenCache
    from app.extensions import db

    if backend_name != "postgresql":
        pytest.skip("the row-locked token cache is PostgreSQL's")
    engine = db.engine
    cache = DatabaseTokenCache(engine, f"wx-race-{secrets.token_hex(4)}")
    fetching, release = threading.Event(), threading.Event()

    def slow_fetch(force: bool) -> tuple[str, int]:
        fetching.set()
        assert release.wait(60), "the test never released the fetch"
        return "TOKEN-NEW", 7200

    holder = threading.Thread(target=cache.refresh, args=(None, slow_fetch))
    holder.start()
    try:
        assert fetching.wait(60), "the refresh never reached its fetch"
        connections: list[object] = []
        real_connect = engine.connect

        def counted_connect(*args, **kwargs):
            connections.append(threading.get_ident())
            return real_connect(*args, **kwargs)

        cache._engine = type("Spy", (), {"connect": staticmethod(counted_connect)})()
        assert cache.current() is None  # no token yet, and not the lock holder's transaction either
        assert connections == [threading.get_ident()]  # it read on a connection of its own
        cache._engine = engine
    finally:
        release.set()
        holder.join(60)
    assert not holder.is_alive()
    assert cache.current() == "TOKEN-NEW"
    with engine.connect() as conn:  # every pooled connection is idle: the pre-ping of each checkout passes
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
