"""The mini-program access token, shared by every worker process and host.

WeChat keeps one live token per appid: a worker that fetched its own would cut
off the others. So the token lives in one shared place, and only the holder of
a lock fetches a new one; the rest wait and read it.

- Redis (``QZBG_REDIS_URL``): a JSON value and a Redis lock.
- PostgreSQL: a row in ``wechat_access_tokens``, locked with ``SELECT ... FOR UPDATE``
  on a connection of its own.
- SQLite (one host by nature): a file beside the database under ``flock``.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import String, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from app.config import Settings
from app.extensions import db

# Refresh this long before WeChat's expiry, so no call goes out with a dying token.
EARLY_REFRESH = 300
Fetch = Callable[[bool], tuple[str, int]]


class WeChatAccessToken(db.Model):  # type: ignore[name-defined,misc]
    """The shared access token on PostgreSQL deployments without Redis."""

    __tablename__ = "wechat_access_tokens"

    appid: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str | None] = mapped_column(String(600))
    expires_at: Mapped[float] = mapped_column(db.Float, default=0.0)


@dataclasses.dataclass
class Cached:
    token: str
    expires_at: float

    def live(self, now: float) -> bool:
        return self.expires_at - EARLY_REFRESH > now


class TokenCache(Protocol):
    def current(self) -> str | None: ...

    def refresh(self, stale: str | None, fetch: Fetch) -> str: ...


class _LockedCache:
    """Shared refresh logic; subclasses provide the lock and the storage."""

    def __init__(self) -> None:
        self._local = threading.Lock()
        self._memo: Cached | None = None  # this process's copy, to spare the shared store a read per call

    def _read(self) -> Cached | None:
        raise NotImplementedError

    def _write(self, cached: Cached) -> None:
        raise NotImplementedError

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        raise NotImplementedError
        yield

    def current(self) -> str | None:
        now = time.time()
        if self._memo and self._memo.live(now):
            return self._memo.token
        cached = self._read()
        if cached and cached.live(now):
            self._memo = cached
            return cached.token
        return None

    def refresh(self, stale: str | None, fetch: Fetch) -> str:
        """A live token other than ``stale``; fetched by one holder of the lock at a time."""
        with self._local, self._shared_lock():
            cached = self._read()
            if cached and cached.live(time.time()) and cached.token != stale:
                self._memo = cached
                return cached.token  # somebody refreshed while we waited
            token, expires_in = fetch(False)
            if stale is not None and token == stale:
                token, expires_in = fetch(True)
            self._memo = Cached(token, time.time() + expires_in)
            self._write(self._memo)
            return token


class RedisTokenCache(_LockedCache):
    def __init__(self, url: str, appid: str) -> None:
        super().__init__()
        import redis

        self._redis = redis.Redis.from_url(url)
        self._key = f"qzbg:wechat:{appid}:access_token"

    def _read(self) -> Cached | None:
        raw = self._redis.get(self._key)
        if not raw:
            return None
        data = json.loads(raw)
        return Cached(data["token"], float(data["expires_at"]))

    def _write(self, cached: Cached) -> None:
        ttl = max(1, int(cached.expires_at - time.time()))
        self._redis.set(self._key, json.dumps(dataclasses.asdict(cached)), ex=ttl)

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        with self._redis.lock(self._key + ":lock", timeout=30, blocking_timeout=30):
            yield


class DatabaseTokenCache(_LockedCache):
    """PostgreSQL: the row lock is taken on a connection of its own, outside the request's transaction."""

    def __init__(self, engine: Engine, appid: str) -> None:
        super().__init__()
        self._engine = engine
        self._appid = appid
        # The connection holding the row lock, for the thread holding it only: another thread's read (a send
        # thread asking for the current token) takes a connection of its own. Shared, it ran on the lock holder's
        # connection, even after that was back in the pool, which then handed out a connection in a transaction.
        self._held = threading.local()

    def _read(self) -> Cached | None:
        conn = getattr(self._held, "conn", None)
        if conn is not None:
            row = conn.execute(
                select(WeChatAccessToken.token, WeChatAccessToken.expires_at).where(
                    WeChatAccessToken.appid == self._appid
                ).with_for_update()
            ).one_or_none()
        else:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(WeChatAccessToken.token, WeChatAccessToken.expires_at).where(
                        WeChatAccessToken.appid == self._appid
                    )
                ).one_or_none()
        if row is None or row[0] is None:
            return None
        return Cached(row[0], float(row[1]))

    def _write(self, cached: Cached) -> None:
        self._held.conn.execute(
            WeChatAccessToken.__table__.update()
            .where(WeChatAccessToken.appid == self._appid)
            .values(token=cached.token, expires_at=cached.expires_at)
        )

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        with self._engine.connect() as conn, conn.begin():
            conn.execute(
                postgresql.insert(WeChatAccessToken)
                .values(appid=self._appid, token=None, expires_at=0.0)
                .on_conflict_do_nothing()
            )
            self._held.conn = conn
            try:
                self._read()  # takes the row lock until this transaction ends
                yield
            finally:
                self._held.conn = None


class FileTokenCache(_LockedCache):
    """SQLite deployments run on one host: a 0600 file and ``flock`` serve every worker."""

    def __init__(self, directory: Path, appid: str) -> None:
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        self._path = directory / f"wechat-token-{appid}.json"
        self._lock_path = directory / f"wechat-token-{appid}.lock"

    def _read(self) -> Cached | None:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return None
        return Cached(data["token"], float(data["expires_at"]))

    def _write(self, cached: Cached) -> None:
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(dataclasses.asdict(cached), fh)
        os.replace(tmp, self._path)

    @contextmanager
    def _shared_lock(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def shared_cache(settings: Settings, key: str) -> TokenCache:
    """Where every worker of the deployment finds one provider's access token under ``key``: Redis when set,
    else PostgreSQL, else a locked file in the instance (one host)."""
    if settings.redis_url:
        return RedisTokenCache(settings.redis_url, key)
    if settings.database_url.startswith("postgresql"):
        return DatabaseTokenCache(db.engine, key)
    return FileTokenCache(settings.instance_path, key)
