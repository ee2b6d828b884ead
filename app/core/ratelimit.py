"""Rate-limit counters shared by every worker process of a host, without Redis.

flask-limiter keeps counters in ``memory://`` by default: each gunicorn worker
would count on its own and a limit of 5 would really be 5 × workers. Without
``QZBG_REDIS_URL`` the counters live in a small SQLite file of their own
(``instance/ratelimits.sqlite3``), apart from the main database so counting never
waits on a report's transaction. Several hosts need Redis.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from limits.storage import Storage

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
