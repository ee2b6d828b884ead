"""Rate limits: the intake limits, and counters shared by every worker process of a host without Redis.

flask-limiter keeps counters in ``memory://`` by default: each gunicorn worker
would count on its own and a limit of 5 would really be 5 × workers. Without
``QZBG_REDIS_URL`` the counters live in a small SQLite file of their own
(``instance/ratelimits.sqlite3``), apart from the main database so counting never
waits on a report's transaction. Several hosts need Redis.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import current_app, request
from limits import parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from app.errors import RateLimitedError
from app.extensions import limiter

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("qzbg.security")

SCHEME = "qzbg+sqlite"


class SqliteFileStorage(Storage):
    """Fixed-window counters in a SQLite file (``qzbg+sqlite:///path``); one connection per thread."""

    STORAGE_SCHEME = [SCHEME]  # noqa: RUF012 - limits reads this class attribute

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = urlparse(uri or "").path
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # gunicorn forks workers after this (preload_app): no connection may cross the fork.
        os.register_at_fork(after_in_child=self._forget_connections)
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER, expires REAL)")
        finally:
            conn.close()

    def _forget_connections(self) -> None:
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA synchronous=OFF")  # counters need no durability
            self._local.conn = conn
        return conn

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        conn = self._connection()
        if random.random() < 0.01:  # noqa: S311 - housekeeping, not security
            conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        row = conn.execute(
            "INSERT INTO counters (key, count, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "count = CASE WHEN counters.expires <= ? THEN excluded.count ELSE counters.count + excluded.count END, "
            "expires = CASE WHEN counters.expires <= ? THEN excluded.expires ELSE counters.expires END "
            "RETURNING count",
            (key, amount, now + expiry, now, now),
        ).fetchone()
        return int(row[0])

    def live_counts(self, keys: list[str]) -> dict[str, tuple[int, float]]:
        """(count, expires) of the keys whose window is still open, in one statement."""
        placeholders = ", ".join("?" * len(keys))  # only "?"s: the keys are bound parameters
        rows = self._connection().execute(
            f"SELECT key, count, expires FROM counters WHERE expires > ? AND key IN ({placeholders})",  # noqa: S608
            (time.time(), *keys),
        ).fetchall()
        return {str(key): (int(count), float(expires)) for key, count, expires in rows}

    def incr_many(self, hits: list[tuple[str, int]]) -> None:
        """``incr(key, expiry)`` for each (key, expiry), in one write transaction."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for key, expiry in hits:
                self.incr(key, expiry)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def get(self, key: str) -> int:
        row = self._connection().execute(
            "SELECT count FROM counters WHERE key = ? AND expires > ?", (key, time.time())
        ).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        row = self._connection().execute(
            "SELECT expires FROM counters WHERE key = ? AND expires > ?", (key, now)
        ).fetchone()
        return float(row[0]) if row else now

    def check(self) -> bool:
        self._connection().execute("SELECT 1")
        return True

    def reset(self) -> int | None:
        cursor = self._connection().execute("DELETE FROM counters")
        return cursor.rowcount

    def clear(self, key: str) -> None:
        self._connection().execute("DELETE FROM counters WHERE key = ?", (key,))


def client_address() -> str:
    """The client's address as the trusted proxies report it (``QZBG_TRUSTED_PROXIES``)."""
    return request.remote_addr or "unknown"


def _never() -> bool:
    return False


def intake_limited(subject: Callable[[], str | None], practice: Callable[[], bool] = _never, *,
                   per_subject: str = "intake_rate_limit") -> Callable[[F], F]:
    """Limit report submissions per submitter (``QZBG_INTAKE_RATE_LIMIT``) under a per-address ceiling
    (``QZBG_INTAKE_IP_RATE_LIMIT``, sized for a hospital behind one address).

    ``subject`` names the submitter: the reporter of a bearer token, or the browser session of the web form.
    ``practice`` says whether the posted report is a practice one: a practice report, and every report of a
    training deployment, reaches no real channel, so its ceiling is a training room's
    (``QZBG_TRAINING_ROOM_RATE_LIMIT``, counted apart, so a room's practice never spends a hospital's quota of
    real reports); the per-submitter limit is the same for both. ``per_subject`` names the setting of the
    per-submitter limit (an institution's system has its own, ``institution_rate_limit``).
    Put it inside the authentication decorator, so a request without a valid token never reaches it. Only an
    accepted submission (an answer below 400) spends quota: a 401, a 415, a form with errors or a refused
    upload costs the submitter and their colleagues behind the same address nothing. The test and the hit
    are two steps, so parallel requests at the very edge of a limit may pass it by one or two. When the
    counter store is down the submission is taken uncounted: a report must never be lost to a rate limit.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method != "POST":
                return view(*args, **kwargs)
            settings = current_app.config["QZBG"]
            if settings.training or practice():
                ceiling, scope = settings.training_room_rate_limit, "intake-room"
            else:
                ceiling, scope = settings.intake_ip_rate_limit, "intake-ip"
            checks = [(item, scope, client_address()) for item in parse_many(ceiling)]
            who = subject()
            if who:
                checks += [(item, "intake", who) for item in parse_many(getattr(settings, per_subject))]
            strategy = limiter.limiter
            try:
                for scope, reset_at in _exhausted(strategy, checks):
                    log.warning("security.rate_limited", extra={"scope": scope})
                    retry = max(1, math.ceil(reset_at - time.time()))
                    raise RateLimitedError(headers={"Retry-After": str(retry)})
            except RateLimitedError:
                raise
            except Exception as exc:  # noqa: BLE001 - a dead counter store must not stop a report
                log.error("rate_limit_store_failed", extra={"exception": type(exc).__name__})
                checks = []
            response = current_app.make_response(view(*args, **kwargs))
            if response.status_code < 400 and checks:
                try:
                    _spend(strategy, checks)
                except Exception as exc:  # noqa: BLE001 - as above
                    log.error("rate_limit_store_failed", extra={"exception": type(exc).__name__})
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


_Check = tuple[Any, str, str]  # (limit item, scope, key)


def _file_counters(strategy: Any) -> SqliteFileStorage | None:
    """The counter file, when the limits are fixed windows counted there: then one statement serves them all."""
    storage = getattr(strategy, "storage", None)
    if type(strategy) is FixedWindowRateLimiter and isinstance(storage, SqliteFileStorage):
        return storage
    return None


def _exhausted(strategy: Any, checks: list[_Check]) -> list[tuple[str, float]]:
    """(scope, reset time) of each limit with no quota left, in the order of ``checks``."""
    counters = _file_counters(strategy)
    if counters is None:
        return [
            (scope, strategy.get_window_stats(item, scope, key)[0])
            for item, scope, key in checks if not strategy.test(item, scope, key)
        ]
    keys = [item.key_for(scope, key) for item, scope, key in checks]
    live = counters.live_counts(keys)
    out = []
    for (item, scope, _key), counter_key in zip(checks, keys, strict=True):
        count, expires = live.get(counter_key, (0, time.time()))
        if count >= item.amount:  # what FixedWindowRateLimiter.test refuses
            out.append((scope, expires))
    return out


def _spend(strategy: Any, checks: list[_Check]) -> None:
    """One hit on every limit of ``checks``."""
    counters = _file_counters(strategy)
    if counters is None:
        for item, scope, key in checks:
            strategy.hit(item, scope, key)
        return
    counters.incr_many([(item.key_for(scope, key), item.get_expiry()) for item, scope, key in checks])
