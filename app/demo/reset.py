"""Resetting a training deployment's data while the trainer watches a progress bar (CONTRACT.md "Training").

``reset_data`` does the work in one transaction: every staff session ends (the login page then says why: the
ended sessions' rows are carried over the reset), the demo data is emptied, the snapshot of the last seed is put
back (``snapshot.py``: a few seconds), or, when none fits this database, the data is seeded afresh through the
services (about half a minute; a new snapshot is taken), and the reset is audited. The accounts and their TOTP
secrets are the same afterwards (``accounts.py``), so the sheet the trainer printed stays good.

``start`` runs it on a thread of the web process and answers at once with the job's id, so no request hangs. The
job's progress is a small JSON file in the instance directory (``training-reset.json``) that every worker process
of the host reads, so the page polling it may be answered by any of them; a lock file lets one reset run at a time
(a training deployment runs on one host). ``wait`` blocks until a job of this process has finished (the tests).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.audit import service as audit
from app.auth import sessions
from app.auth.models import StaffSession, StaffUser
from app.config import Settings
from app.core.actor import Actor
from app.core.db import unit_of_work
from app.crypto.vault import Vault
from app.demo import seed, snapshot
from app.extensions import db

log = logging.getLogger("qzbg.demo")

STATUS_FILE, LOCK_FILE = "training-reset.json", "training-reset.lock"
END_REASON = "training_reset"  # the staff sessions' end reason; the login page says it in words
WRITE_EVERY = 0.2  # seconds between two writes of the progress file while a phase goes on
# The phases a reset goes through: what the page says, and where each one starts and ends on the bar (percent).
PHASES = {
    "sessions": ("正在结束所有登录", 0, 5),
    "empty": ("正在清空培训数据", 5, 15),
    "restore": ("正在恢复演示数据", 15, 98),
    "seed": ("正在重新生成演示数据（没有可用的快照，约需半分钟）", 15, 98),
    "finish": ("正在完成", 98, 100),
}
Progress = Callable[[str, int, int], None]  # (phase, done, total)


class ResetRunning(Exception):
    """A reset is already running on this host."""


@dataclasses.dataclass(frozen=True)
class ResetStatus:
    """A reset job as the progress file has it."""

    id: str
    state: str  # running | done | failed
    phase: str
    percent: int
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    seconds: float | None = None
    restored: bool | None = None  # the snapshot put back (True) or the data seeded afresh (False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def label(self) -> str:
        if self.state == "done":
            return "培训数据已重置"
        if self.state == "failed":
            return "重置未完成，培训数据保持原样，请重试"
        return PHASES.get(self.phase, ("正在准备", 0, 0))[0]

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResetStatus:
        return cls(
            id=str(data["id"]), state=str(data["state"]), phase=str(data["phase"]), percent=int(data["percent"]),
            started_at=dt.datetime.fromisoformat(data["started_at"]),
            finished_at=dt.datetime.fromisoformat(data["finished_at"]) if data.get("finished_at") else None,
            seconds=data.get("seconds"), restored=data.get("restored"),
        )


@dataclasses.dataclass(frozen=True)
class Outcome:
    restored: bool
    seeded: seed.Seeded | None  # what a fresh seed made (None when the snapshot was put back)
    sessions_ended: int


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


# --- the work ----------------------------------------------------------------------------------------------------


def _carry_sessions(now: dt.datetime) -> list[tuple[str, dict[str, Any]]]:
    """The staff sessions a browser may still hold a cookie of (ended now or before, not yet past their end), with
    their user's name: put back once the accounts are, so the login page can say why each one ended."""
    table = StaffSession.__table__
    rows = db.session.execute(
        select(table, StaffUser.username).join(StaffUser, StaffUser.id == table.c.user_id)
        .where(table.c.expires_at > now, table.c.ended_at.is_not(None))
    ).mappings()
    return [(row["username"], {column.name: row[column.name] for column in table.columns}) for row in rows]


def _put_back(carried: list[tuple[str, dict[str, Any]]]) -> None:
    ids = dict(db.session.execute(select(StaffUser.username, StaffUser.id)).all())
    rows = [{**row, "user_id": ids[name]} for name, row in carried if name in ids]
    if rows:
        db.session.execute(StaffSession.__table__.insert(), rows)


def reset_data(*, settings: Settings, vault: Vault, actor: Actor | None, now: dt.datetime,
               progress: Progress = _no_progress, fresh: bool = False, reports_count: int = seed.REPORTS,
               seed_value: int = 2026) -> Outcome:
    """Reset a training deployment's data (see the module docstring) in one transaction of its own; ``fresh``
    seeds afresh even when a snapshot fits (``flask demo reset``). The old attachment blobs go once it commits,
    and a new snapshot is written."""
    seed.refuse_unless_training(settings)
    target = snapshot.path(settings)
    taken: snapshot.Snapshot | None = None
    seeded: seed.Seeded | None = None
    progress("sessions", 0, 1)
    stored = None if fresh else snapshot.load(target)  # a few MB read and parsed before the write lock is taken
    with unit_of_work():
        ended = sessions.end_everyone(now, END_REASON)
        carried = _carry_sessions(now)
        progress("empty", 0, 1)
        usable = stored is not None and snapshot.fits(stored, secret_key=settings.secret_key, vault=vault)
        blobs = seed.empty_database(settings)
        if stored is not None and usable:
            snapshot.restore(stored, lambda done, total: progress("restore", done, total))
        else:
            seeded = seed.seed(settings=settings, vault=vault, now=now, seed=seed_value, reports_count=reports_count,
                               progress=lambda done, total: progress("seed", done, total))
            taken = snapshot.take(secret_key=settings.secret_key, now=now)
        progress("finish", 0, 1)
        _put_back(carried)
        audit.record(actor, "training.reset", now=now, target_type="training_data",
                     target_id="restored" if seeded is None else "seeded")
    for blob in blobs:  # the rows are gone: their sealed blobs go too
        with contextlib.suppress(OSError):
            blob.unlink(missing_ok=True)
    if taken is not None:
        snapshot.save(taken, target)
    return Outcome(restored=seeded is None, seeded=seeded, sessions_ended=ended)


def seed_empty(*, settings: Settings, vault: Vault, now: dt.datetime, reports_count: int = seed.REPORTS,
               seed_value: int = 2026) -> seed.Seeded:
    """``flask demo seed``: fill an empty training database and write its snapshot."""
    with unit_of_work():
        seeded = seed.seed(settings=settings, vault=vault, now=now, seed=seed_value, reports_count=reports_count)
        taken = snapshot.take(secret_key=settings.secret_key, now=now)
    snapshot.save(taken, snapshot.path(settings))
    return seeded


# --- the job and its progress file -------------------------------------------------------------------------------


def _write(settings: Settings, status: ResetStatus) -> None:
    target = settings.instance_path / STATUS_FILE
    partial = target.with_name(target.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(status.to_json(), out)
    partial.replace(target)


def _lock(settings: Settings) -> int | None:
    """The reset lock of this host, taken (its descriptor), or None when a reset holds it."""
    descriptor = os.open(settings.instance_path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def _unlock(descriptor: int) -> None:
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    os.close(descriptor)


def status(settings: Settings) -> ResetStatus | None:
    """The last reset of this host, or None. One the file says is running while nobody holds the lock was cut
    short (its process ended): it is reported as failed, and its transaction never committed."""
    try:
        current = ResetStatus.from_json(json.loads((settings.instance_path / STATUS_FILE).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if current.running:
        descriptor = _lock(settings)
        if descriptor is not None:
            _unlock(descriptor)
            return dataclasses.replace(current, state="failed")
    return current


class _Tracker:
    """Writes a job's progress to the file, a phase's steps at most every ``WRITE_EVERY`` seconds."""

    def __init__(self, settings: Settings, job_id: str, started_at: dt.datetime) -> None:
        self.settings = settings
        self.status = ResetStatus(id=job_id, state="running", phase="sessions", percent=0, started_at=started_at)
        self.written = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        _label, low, high = PHASES[phase]
        percent = low + (high - low) * min(done, total) // max(total, 1)
        moved = phase != self.status.phase
        self.status = dataclasses.replace(self.status, phase=phase, percent=percent)
        if moved or time.monotonic() - self.written >= WRITE_EVERY:
            self.write()

    def write(self) -> None:
        _write(self.settings, self.status)
        self.written = time.monotonic()

    def end(self, state: str, *, seconds: float, restored: bool | None) -> None:
        self.status = dataclasses.replace(self.status, state=state, percent=100 if state == "done" else
                                          self.status.percent, finished_at=dt.datetime.now(dt.UTC),
                                          seconds=round(seconds, 1), restored=restored)
        self.write()


_finished: dict[str, threading.Event] = {}


def start(app: Flask, *, settings: Settings, vault: Vault, actor: Actor) -> str:
    """Start a reset on a thread of this process (in an app context of ``app``) and return its id at once;
    ResetRunning if one runs."""
    seed.refuse_unless_training(settings)
    descriptor = _lock(settings)
    if descriptor is None:
        raise ResetRunning
    job_id = secrets.token_hex(8)
    tracker = _Tracker(settings, job_id, dt.datetime.now(dt.UTC))
    try:
        tracker.write()
    except BaseException:
        _unlock(descriptor)
        raise
    done = _finished[job_id] = threading.Event()
    # Not a daemon: a worker told to stop finishes the reset (seconds) rather than dropping it halfway.
    threading.Thread(target=_work, args=(app, tracker, descriptor, vault, actor, done),
                     name=f"training-reset-{job_id}", daemon=False).start()
    return job_id


def _work(app: Flask, tracker: _Tracker, descriptor: int, vault: Vault, actor: Actor, done: threading.Event) -> None:
    began = time.monotonic()
    try:
        with app.app_context():
            outcome = reset_data(settings=tracker.settings, vault=vault, actor=actor, now=tracker.status.started_at,
                                 progress=tracker)
        tracker.end("done", seconds=time.monotonic() - began, restored=outcome.restored)
        log.info("training_reset", extra={"job": tracker.status.id, "seconds": tracker.status.seconds,
                                          "restored": outcome.restored, "sessions_ended": outcome.sessions_ended})
    except Exception as exc:  # noqa: BLE001 - a failed reset is reported on its page, and logged by type only
        log.error("training_reset_failed", extra={"job": tracker.status.id, "exception": type(exc).__name__})
        with contextlib.suppress(OSError):
            tracker.end("failed", seconds=time.monotonic() - began, restored=None)
    finally:
        _unlock(descriptor)
        done.set()


def wait(job_id: str, timeout: float) -> bool:
    """Block until the reset ``job_id`` started by this process has finished; False if it has not in time."""
    event = _finished.get(job_id)
    return event is not None and event.wait(timeout)


def status_path(settings: Settings) -> Path:
    return settings.instance_path / STATUS_FILE
