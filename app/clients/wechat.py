"""The one gateway to WeChat's mini-program API (built on wechatpy).

- Every call, the access-token fetch included, goes to ``QZBG_WECHAT_API_BASE``.
- Every call has a timeout; wechatpy's own retry on 40001/42001 (unbounded under
  a misbehaving server) is off. Ours: an invalid or expired token leads to one
  refresh and one retry; "system busy" (-1), a 5xx or a refused connection to one
  more try; nothing else is retried here.
- The access token is shared between processes and hosts (``app.clients.tokens``)
  and fetched from the stable-token endpoint, which never invalidates a token
  another deployment still holds.
- wechatpy's and requests' exceptions become ``WeChatError`` subclasses here.
- A circuit breaker: after ``QZBG_WECHAT_BREAKER_FAILURES`` consecutive calls ended
  unavailable (timeout, refused, 5xx, busy), every call fails at once with
  ``WeChatCircuitOpen`` (503 with ``Retry-After``) for ``QZBG_WECHAT_BREAKER_COOLDOWN``
  seconds; then one trial call goes out, and its outcome closes or reopens the
  circuit. A bulkhead: at most ``QZBG_WECHAT_MAX_CONCURRENT`` calls are in flight per
  process; one more fails at once (``WeChatBusy``), so a slow WeChat never holds every
  thread of a worker. Both live in the gateway, one per app and so one per process:
  each gunicorn worker (and the notify worker) learns of an outage on its own, after
  a few failures of its own. That is enough: the point is not to wait on a WeChat
  that is down, and no other process needs to agree.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from app.clients.tokens import TokenCache, shared_cache
from app.config import Settings

log = logging.getLogger("qzbg.wechat")
T = TypeVar("T")

TOKEN_ERRORS = {40001, 40014, 42001}
RETRY_ONCE = {-1}


class WeChatError(Exception):
    """A WeChat call failed. ``errcode`` is WeChat's code, or None for transport errors."""

    def __init__(self, errcode: int | None, what: str) -> None:
        super().__init__(f"wechat {what}: errcode {errcode}")
        self.errcode = errcode


class WeChatUnavailable(WeChatError):
    """Down, timing out, busy, or misconfigured (bad appid/secret): try again later.

    ``retry_after``: seconds a client should wait, when we know better than the default.
    """

    def __init__(self, errcode: int | None, what: str, *, retry_after: int | None = None) -> None:
        super().__init__(errcode, what)
        self.retry_after = retry_after


class WeChatCircuitOpen(WeChatUnavailable):
    """Not sent: WeChat failed too often just now, and the cool-down has not ended."""


class WeChatBusy(WeChatUnavailable):
    """Not sent: this process already has as many WeChat calls in flight as it allows."""


class WeChatRateLimited(WeChatError):
    """45009/45011: WeChat's frequency limit."""


class WeChatInvalidCode(WeChatError):
    """40029/40163: a login or phone code that is wrong, expired or already used."""


class WeChatRefused(WeChatError):
    """43101: the user gave no subscription grant for this template."""


class WeChatBadRequest(WeChatError):
    """47003, 40003, 40037, 40169, 41030 ...: the request itself is wrong; retrying will not help."""


def translate(errcode: int | None, what: str) -> WeChatError:
    if errcode in (40029, 40163, 40226):
        return WeChatInvalidCode(errcode, what)
    if errcode in (45009, 45011):
        return WeChatRateLimited(errcode, what)
    if errcode == 43101:
        return WeChatRefused(errcode, what)
    if errcode is None or errcode in (-1, 40013, 40125, 40164, 41002, 41004) or errcode in TOKEN_ERRORS:
        return WeChatUnavailable(errcode, what)
    return WeChatBadRequest(errcode, what)


class CircuitBreaker:
    """Consecutive-failure breaker, thread-safe, for one process.

    closed: calls go out; ``failures`` consecutive failures open it.
    open: calls fail at once until ``cooldown`` seconds have passed.
    half-open: one trial call goes out (the others still fail at once); its success
    closes the circuit, its failure opens it for another cool-down.
    """

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False  # a half-open trial call is in flight

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half-open" if self._trial or self.clock() >= self._opened_at + self.cooldown else "open"

    def before(self, what: str) -> None:
        """Let a call go out, or raise WeChatCircuitOpen."""
        with self._lock:
            if self._opened_at is None:
                return
            wait = self._opened_at + self.cooldown - self.clock()
            if wait > 0 or self._trial:
                raise WeChatCircuitOpen(None, f"{what} (circuit open)", retry_after=max(1, math.ceil(wait)))
            self._trial = True  # this call is the trial

    def success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.info("wechat_circuit_closed")
            self._failures, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial or (self._opened_at is None and self._failures >= self.threshold):
                log.warning("wechat_circuit_opened", extra={"failures": self._failures, "cooldown": self.cooldown})
                self._opened_at, self._trial = self.clock(), False


def settle_environment(session: requests.Session, base: str) -> None:
    """Read the proxy and CA-bundle environment (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...) once,
    for ``base``, instead of on every request: requests scans the whole environment per call, about half a
    millisecond of each subscribe message the worker sends."""
    session.proxies.update(requests.utils.get_environ_proxies(base))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


class _Client(WeChatClient):  # type: ignore[misc]
    """wechatpy's client with every URL under our base and the token from the shared cache."""

    def __init__(self, appid: str, secret: str, base: str, timeout: float, cache: TokenCache) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        settle_environment(self._http, base)
        self.base = base
        self.cache = cache
        self.API_BASE_URL = f"{base}/cgi-bin/"
        self.wxa.API_BASE_URL = f"{base}/"

    @property
    def access_token(self) -> str:
        return self.cache.current() or self.cache.refresh(None, self._fetch_stable_token)

    def fetch_access_token(self) -> dict[str, Any]:
        token = self.cache.refresh(self.cache.current(), self._fetch_stable_token)
        return {"access_token": token}

    def _fetch_stable_token(self, force_refresh: bool) -> tuple[str, int]:
        """``POST /cgi-bin/stable_token`` (wechatpy hard-codes the plain token URL, and that one
        invalidates the token every other worker holds)."""
        try:
            response = self._http.post(
                f"{self.base}/cgi-bin/stable_token",
                json={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                      "force_refresh": force_refresh},
                timeout=self.timeout,
            )
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError):
            raise WeChatUnavailable(None, "stable_token") from None
        if result.get("errcode"):
            raise translate(int(result["errcode"]), "stable_token")
        log.info("wechat_access_token_fetched", extra={"force_refresh": force_refresh})
        return str(result["access_token"]), int(result.get("expires_in", 7200))


class WeChatGateway:
    """The calls the app makes, each bounded in time and retries, each raising only WeChatError."""

    def __init__(
        self, appid: str, secret: str, base: str, timeout: float, cache: TokenCache, *,
        breaker: CircuitBreaker | None = None, max_concurrent: int = 12,
    ) -> None:
        self.appid = appid
        self.base = base
        self.client = _Client(appid, secret, base, timeout, cache)
        self.breaker = breaker or CircuitBreaker(failures=5, cooldown=30)
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def _call(self, what: str, send: Callable[[dict[str, Any]], T], *, token: bool = True) -> T:
        """One call through the bulkhead and the breaker. Only "unavailable" counts as a failure:
        a refusal (bad code, frequency limit, bad request) is WeChat answering."""
        if not self._slots.acquire(blocking=False):
            log.warning("wechat_busy", extra={"call": what})
            raise WeChatBusy(None, f"{what} (too many calls in flight)", retry_after=5)
        try:
            self.breaker.before(what)
            try:
                result = self._attempts(what, send, token=token)
            except WeChatUnavailable:
                self.breaker.failure()
                raise
            except WeChatError:
                self.breaker.success()
                raise
            except BaseException:
                self.breaker.failure()  # never leave a half-open trial unanswered
                raise
            self.breaker.success()
            return result
        finally:
            self._slots.release()

    def _attempts(self, what: str, send: Callable[[dict[str, Any]], T], *, token: bool) -> T:
        stale: str | None = None
        for attempt in (1, 2):
            params: dict[str, Any] = {}
            if token:
                params["access_token"] = self._token(stale)
            try:
                return send(params)
            except WeChatClientException as exc:
                errcode = exc.errcode
                if errcode is None:  # HTTP error status
                    status = getattr(exc.response, "status_code", None)
                    if attempt == 1 and status is not None and status >= 500:
                        time.sleep(0.2)
                        continue
                    raise WeChatUnavailable(None, what) from None
                if attempt == 1 and token and errcode in TOKEN_ERRORS:
                    stale = params["access_token"]
                    log.info("wechat_token_rejected", extra={"errcode": errcode, "call": what})
                    continue
                if attempt == 1 and errcode in RETRY_ONCE:
                    time.sleep(0.2)
                    continue
                raise translate(errcode, what) from None
            except requests.ConnectionError:
                if attempt == 1:
                    time.sleep(0.2)
                    continue
                raise WeChatUnavailable(None, what) from None
            except (requests.Timeout, requests.RequestException):
                raise WeChatUnavailable(None, what) from None
        raise WeChatUnavailable(None, what)

    def _token(self, stale: str | None) -> str:
        """The shared access token; the store being down (Redis, the database, the lock file) is WeChat
        being unavailable to us, not a crash."""
        try:
            if stale:
                return self.client.cache.refresh(stale, self.client._fetch_stable_token)
            token: str = self.client.access_token
            return token
        except WeChatError:
            raise
        except Exception as exc:  # noqa: BLE001 - redis, SQLAlchemy and OS errors alike
            log.error("wechat_token_cache_failed", extra={"exception": type(exc).__name__})
            raise WeChatUnavailable(None, "token cache") from None

    def code_to_session(self, code: str) -> tuple[str, str]:
        """``sns/jscode2session``: (openid, session_key). It needs no access token, so none is sent."""

        def send(_params: dict[str, Any]) -> dict[str, Any]:
            # A list, not a dict, so wechatpy does not add an access token to this URL.
            query = [("appid", self.appid), ("secret", self.client.secret), ("js_code", code),
                     ("grant_type", "authorization_code")]
            result: dict[str, Any] = self.client.get("sns/jscode2session", params=query, api_base_url=f"{self.base}/")
            return result

        result = self._call("jscode2session", send, token=False)
        if not result.get("openid") or not result.get("session_key"):
            raise WeChatUnavailable(None, "jscode2session")
        return str(result["openid"]), str(result["session_key"])

    def phone_number(self, code: str) -> str:
        """``wxa/business/getuserphonenumber`` (no wechatpy wrapper in 1.8.18): the number without country code.

        The watermark's appid must be ours: a number issued to another mini-program is refused.
        """
        result = self._call(
            "getuserphonenumber",
            lambda params: self.client.post(
                "wxa/business/getuserphonenumber", params=params, data={"code": code}, api_base_url=f"{self.base}/"
            ),
        )
        info = result.get("phone_info") or {}
        if (info.get("watermark") or {}).get("appid") != self.appid:
            raise WeChatInvalidCode(None, "getuserphonenumber watermark")
        number = info.get("purePhoneNumber")
        if not isinstance(number, str) or not number:
            raise WeChatUnavailable(None, "getuserphonenumber")
        return number

    def wxacode_unlimited(self, scene: str, page: str, env_version: str = "release") -> bytes:
        """``wxa/getwxacodeunlimit``: the mini-program code image for ``scene``."""

        def send(params: dict[str, Any]) -> Any:
            return self.client.post(
                "wxa/getwxacodeunlimit", params=params, api_base_url=f"{self.base}/",
                data={"scene": scene, "page": page, "check_path": False, "env_version": env_version, "width": 430},
            )

        result = self._call("getwxacodeunlimit", send)
        if isinstance(result, dict):
            raise WeChatUnavailable(None, "getwxacodeunlimit")
        content: bytes = result.content
        return content

    def send_subscribe_message(
        self, openid: str, template_id: str, data: dict[str, str], page: str, state: str = "formal"
    ) -> None:
        """``message/subscribe/send`` with ``{"key": {"value": ...}}`` data."""
        body = {
            "touser": openid, "template_id": template_id, "page": page, "miniprogram_state": state, "lang": "zh_CN",
            "data": {key: {"value": value} for key, value in data.items()},
        }
        self._call(
            "subscribe_send", lambda params: self.client.post("message/subscribe/send", params=params, data=body)
        )


_build_lock = threading.Lock()


def configured(settings: Settings) -> bool:
    """Whether the mini-program credentials are set (without them nothing goes to WeChat)."""
    return bool(settings.wechat_appid and settings.wechat_secret)


def get_gateway() -> WeChatGateway:
    """The app's gateway, built once on first use; WeChatUnavailable while credentials are unset."""
    settings: Settings = current_app.config["QZBG"]
    if not configured(settings):
        raise WeChatUnavailable(None, "not configured (QZBG_WECHAT_APPID / QZBG_WECHAT_SECRET)")
    gateway: WeChatGateway | None = current_app.extensions.get("qzbg.wechat")
    if gateway is not None:
        return gateway
    with _build_lock:  # one gateway, so one breaker and one bulkhead, for all threads
        gateway = current_app.extensions.get("qzbg.wechat")
        if gateway is None:
            gateway = WeChatGateway(
                settings.wechat_appid or "", settings.wechat_secret or "", settings.wechat_api_base,
                settings.wechat_timeout,
                shared_cache(settings, settings.wechat_appid or ""),
                breaker=CircuitBreaker(settings.wechat_breaker_failures, settings.wechat_breaker_cooldown),
                max_concurrent=settings.wechat_max_concurrent,
            )
            current_app.extensions["qzbg.wechat"] = gateway
    return gateway
