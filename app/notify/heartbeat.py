"""Which notify workers run: each beats a row every few seconds; none beaten for 2 minutes means none runs.

``worker_down`` is what the staff pages' banner (``data-field="worker_down"``) and
``/readyz`` ask: one indexed ``max(beat_at)``, remembered per app for a few
seconds, so a busy staff site asks at most once per ``CACHE_SECONDS`` per process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import socket
import threading
import time

from flask import current_app
from sqlalchemy import delete, func, select, update

from app.core.db import READ, intent, unit_of_work
from app.extensions import db
from app.notify.models import WorkerHeartbeat

DOWN_AFTER = dt.timedelta(minutes=2)
KEEP = dt.timedelta(days=1)  # rows of workers gone this long are pruned (a job)
CACHE_SECONDS = 5.0
_CACHE_KEY = "qzbg.notify_worker_down"
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Identity:
    id: str
    host: str
    pid: int
    started_at: dt.datetime

    @classmethod
    def here(cls) -> Identity:
        host, pid = socket.gethostname()[:40], os.getpid()
        return cls(f"{host}:{pid}:{secrets.token_hex(3)}", host, pid, dt.datetime.now(dt.UTC))


def beat(identity: Identity, now: dt.datetime) -> None:
    """This worker is alive at ``now`` (its row updated, or made on its first beat)."""
    with unit_of_work():
        done = db.session.execute(
            update(WorkerHeartbeat).where(WorkerHeartbeat.id == identity.id).values(beat_at=now)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            db.session.add(WorkerHeartbeat(id=identity.id, host=identity.host, pid=identity.pid,
                                           started_at=identity.started_at, beat_at=now))


def last_beat() -> dt.datetime | None:
    with intent(READ):
        try:
            return db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        finally:
            db.session.rollback()


def worker_down(now: dt.datetime | None = None, *, fresh: bool = False) -> bool:
    """True when no worker has beaten for ``DOWN_AFTER``. Remembered ``CACHE_SECONDS`` per app unless ``fresh``."""
    now = now or dt.datetime.now(dt.UTC)
    cached = current_app.extensions.get(_CACHE_KEY)
    if not fresh and cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return bool(cached[1])
    latest = db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    down = latest is None or now - latest > DOWN_AFTER
    with _lock:
        current_app.extensions[_CACHE_KEY] = (time.monotonic(), down)
    return down


def forget() -> None:
    """Drop the remembered answer (tests, and after a beat in this process)."""
    current_app.extensions.pop(_CACHE_KEY, None)


def prune(now: dt.datetime) -> int:
    """Delete the rows of workers that have not beaten for ``KEEP`` (a scheduled job; the runner commits)."""
    done = db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - KEEP))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
