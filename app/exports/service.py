"""Asking for an export, running it, fetching it, and deleting it (see the package docstring).

An export's life: ``queued`` (asked for) → ``running`` (a runner holds its lease) → ``ready`` (the sealed file
waits) → ``gone`` (fetched, or expired: file and data key deleted); ``failed`` when the writer failed, the asker
lost the permission, or three runs did not finish. A runner that dies mid-export leaves its lease to run out, and
the next runner writes the export again from the start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from app.auth import permissions
from app.auth.models import StaffUser
from app.config import Settings
from app.core.actor import Actor
from app.core.db import READ, WRITE, intent, unit_of_work
from app.crypto.models import DataKey
from app.crypto.vault import Vault
from app.exports import kinds
from app.exports.models import FAILED, GONE, LIVE, QUEUED, READY, RUNNING, Export

log = logging.getLogger("qzbg.exports")
LEASE = dt.timedelta(minutes=10)  # renewed at every progress report; a runner gone for this long is presumed dead
MAX_ATTEMPTS = 3
KEEP_RECORDS = dt.timedelta(days=30)  # the rows of exports long gone (nothing personal in them) are deleted then
DIGEST_PURPOSE = "export.request"


def _db() -> Any:
    from app.extensions import db

    return db


@dataclasses.dataclass(frozen=True)
class Asked:
    export: Export
    new: bool  # False: the same export was asked for already and is still on its way or waiting


def ask(actor: Actor, kind: str, params: dict[str, Any], *, title: str, filename: str, now: dt.datetime,
        vault: Vault) -> Asked:
    """The export of ``kind`` with ``params`` for ``actor``: the live one already asked for, or a new one queued
    (in the caller's transaction). ``title`` and ``filename`` must hold nothing personal."""
    if kinds.of(kind) is None:
        raise ValueError(f"unknown export kind {kind!r}")
    assert actor.id is not None
    assert actor.office_id is not None
    db = _db()
    canonical = json.dumps({"kind": kind, "params": params}, sort_keys=True, ensure_ascii=False)
    digest = vault.blind_index(DIGEST_PURPOSE, canonical)
    existing = _live(actor.id, digest)
    if existing is not None:
        if existing.state != READY or existing.expires_at is None or existing.expires_at > now:
            return Asked(existing, new=False)
        _shred(existing, now, directory=None)  # expired, not yet swept: gone now, and asked for anew
    export = Export(id=uuid.uuid4(), office_id=actor.office_id, requested_by=actor.id, kind=kind,
                    request_digest=digest, title=title[:200], filename=filename[:120], state=QUEUED, done=0,
                    attempts=0, created_at=now)
    export.data_key = vault.new_data_key()
    export.seal("params_data", params)
    try:
        with db.session.begin_nested():
            db.session.add(export)
    except IntegrityError:  # the same request, at the same moment, from another tab
        found = _live(actor.id, digest)
        if found is None:
            raise
        return Asked(found, new=False)
    log.info("export_asked", extra={"export_id": str(export.id), "kind": kind})
    return Asked(export, new=True)


def _live(user_id: uuid.UUID, digest: bytes) -> Export | None:
    db = _db()
    found: Export | None = db.session.scalars(select(Export).where(
        Export.requested_by == user_id, Export.request_digest == digest, Export.state.in_(LIVE))).first()
    return found


def visible(export_id: uuid.UUID, user: StaffUser) -> Export | None:
    """The export, when ``user`` asked for it (nobody else sees that it exists)."""
    export: Export | None = _db().session.get(Export, export_id)
    return export if export is not None and export.requested_by == user.id else None


# --- The runner ---------------------------------------------------------------------------------------------


def _claim(owner: str, now: dt.datetime) -> uuid.UUID | None:
    """The oldest export waiting (or left by a runner whose lease ran out), now this runner's; None when none."""
    db = _db()
    waiting = or_(Export.state == QUEUED, and_(Export.state == RUNNING, Export.lease_until < now))
    with intent(READ):  # a look that finds nothing (most of them) takes no write lock on SQLite
        try:
            export_id = db.session.scalar(select(Export.id).where(waiting).order_by(Export.created_at).limit(1))
        finally:
            db.session.rollback()
    if export_id is None:
        return None
    with unit_of_work():
        taken = db.session.execute(
            update(Export).where(Export.id == export_id, waiting)
            .values(state=RUNNING, lease_owner=owner[:80], lease_until=now + LEASE, started_at=now, done=0,
                    attempts=Export.attempts + 1)
            .execution_options(synchronize_session=False))
        return export_id if taken.rowcount else None  # type: ignore[attr-defined]


def _report_progress(export_id: uuid.UUID, owner: str, clock: Callable[[], dt.datetime]) -> kinds.Progress:
    """Progress written on a connection of its own (the writer's reading transaction stays open), renewing the
    lease each time."""
    db = _db()

    def progress(done: int, total: int | None) -> None:
        with intent(WRITE), db.engine.begin() as conn:
            conn.execute(update(Export).where(Export.id == export_id, Export.lease_owner == owner[:80])
                         .values(done=done, total=total, lease_until=clock() + LEASE))

    return progress


def _fail(export_id: uuid.UUID, reason: str, now: dt.datetime, directory: Path) -> None:
    db = _db()
    with unit_of_work():
        export = db.session.get(Export, export_id)
        if export is not None:
            _shred(export, now, directory)
            export.state, export.error, export.finished_at = FAILED, reason[:80], now
    log.error("export_failed", extra={"export_id": str(export_id), "reason": reason})


def run_next(*, owner: str, settings: Settings, vault: Vault, clock: Callable[[], dt.datetime]) -> bool:
    """Write the next export waiting, if any: the writer's chunks sealed into ``QZBG_EXPORTS_DIR`` as they come;
    whether there was one. ``clock`` tells the time (leases, when it finished and when it expires)."""
    db = _db()
    export_id = _claim(owner, clock())
    if export_id is None:
        return False
    directory = settings.exports_dir
    with unit_of_work():
        export = db.session.get(Export, export_id)
        assert export is not None
        user = db.session.get(StaffUser, export.requested_by)
        kind = kinds.of(export.kind)
        attempts, params, requested_at = export.attempts, export.unseal("params_data"), export.created_at
        allowed = (user is not None and user.active and kind is not None
                   and permissions.allows(user.role, kind.permission))
        actor = Actor.staff(user) if user is not None and allowed else None
    if attempts > MAX_ATTEMPTS:
        _fail(export_id, "attempts", clock(), directory)
        return True
    if actor is None or kind is None:
        _fail(export_id, "forbidden", clock(), directory)
        return True
    storage = secrets.token_hex(16)
    final, partial = directory / storage, directory / f".{storage}.part"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with intent(READ):
            key = db.session.get(DataKey, db.session.scalar(select(Export.data_key_id).where(Export.id == export_id)))
            assert key is not None
            db.session.expunge(key)
            work = kinds.Work(actor=actor, params=params, requested_at=requested_at, vault=vault,
                              progress=_report_progress(export_id, owner, clock))
            with partial.open("xb") as out:
                vault.encrypt_stream(key, Export.__tablename__, export_id, kind.write(work), out)
                out.flush()
                os.fsync(out.fileno())
            db.session.rollback()
        os.replace(partial, final)
        size = final.stat().st_size  # what the file holds, sealed: what opening it reads
    except Exception as exc:  # noqa: BLE001 - a failed export is the export's failure, never the runner's
        db.session.rollback()
        _remove(partial)
        _remove(final)
        _fail(export_id, type(exc).__name__, clock(), directory)
        return True
    finished = clock()
    with unit_of_work():
        done = db.session.execute(
            update(Export).where(Export.id == export_id, Export.lease_owner == owner[:80], Export.state == RUNNING)
            .values(state=READY, storage_name=storage, stored_size=size, finished_at=finished,
                    expires_at=finished + dt.timedelta(minutes=settings.export_keep_minutes), lease_owner=None,
                    lease_until=None, error=None)
            .execution_options(synchronize_session=False))
    if not done.rowcount:  # type: ignore[attr-defined]  # the lease was lost meanwhile: the other run's file counts
        _remove(final)
    log.info("export_ready", extra={"export_id": str(export_id), "kind": kind.name})
    return True


# --- Fetching and deleting ------------------------------------------------------------------------------------


def fetchable(export: Export, now: dt.datetime) -> bool:
    return export.state == READY and export.expires_at is not None and export.expires_at > now


def open_file(export: Export, *, directory: Path, vault: Vault) -> Iterator[bytes]:
    """The workbook's bytes, each chunk authenticated before it is given out."""
    assert export.storage_name is not None
    assert export.stored_size is not None
    assert export.data_key is not None
    key, size = export.data_key, export.stored_size
    with (directory / export.storage_name).open("rb") as src:
        yield from vault.decrypt_stream(key, Export.__tablename__, export.id, src, size)


def fetched(export_id: uuid.UUID, *, now: dt.datetime, directory: Path) -> None:
    """The whole file went out: deleted now (in the caller's transaction)."""
    export = _db().session.get(Export, export_id)
    if export is not None and export.state == READY:
        _shred(export, now, directory)
        export.fetched_at = now


def _shred(export: Export, now: dt.datetime, directory: Path | None) -> None:
    """The file, the parameters and the data key deleted; the row stays, ``gone``, with nothing personal."""
    db = _db()
    if directory is not None and export.storage_name:
        _remove(directory / export.storage_name)
    key_id = export.data_key_id
    export.params_data, export.data_key, export.data_key_id = None, None, None
    export.state, export.storage_name = GONE, None
    db.session.flush()
    if key_id is not None:
        db.session.execute(delete(DataKey).where(DataKey.id == key_id))


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def sweep(now: dt.datetime, *, exports_dir: Path) -> int:
    """A scheduled job: exports past their time deleted (file and key), and the records of those gone for 30
    days; returns how many files went."""
    db = _db()
    expired = db.session.scalars(select(Export).where(Export.state == READY, Export.expires_at <= now)).all()
    for export in expired:
        _shred(export, now, exports_dir)
    db.session.execute(delete(Export).where(Export.state.in_((GONE, FAILED)), Export.created_at < now - KEEP_RECORDS))
    if expired:
        log.info("exports_expired", extra={"count": len(expired)})
    return len(expired)
