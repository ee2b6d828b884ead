"""Key management: initialise, rotate (re-wrap data keys in resumable batches), retire, report."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, bindparam, func, literal_column, select, text, update
from sqlalchemy.exc import ProgrammingError

from app.config import ConfigError
from app.core.db import unit_of_work
from app.crypto import keyfile as keyring_file
from app.crypto.keyfile import Keyring
from app.crypto.models import DataKey
from app.crypto.vault import KEYRING_VERIFIED, Vault
from app.errors import DATABASE_UNAVAILABLE, discard_session
from app.extensions import db


def init_keyring(path: Path) -> Keyring | None:
    """Write a new keyring at ``path``; None (and nothing written) when one exists."""
    if path.exists():
        return None
    ring = keyring_file.generate()
    keyring_file.save(ring, path)
    return ring


def start_rotation(vault: Vault, path: Path) -> str:
    """Add a new current KEK to the keyring file and the running vault; returns its id."""
    ring = keyring_file.with_new_kek(vault.keyring)
    keyring_file.save(ring, path)
    vault.keyring = ring
    return ring.current


def _pending(current: str) -> tuple[Any, ...]:
    """Data keys still to re-wrap: usable (neither cleared nor marked destroyed) and under an older KEK."""
    return DataKey.kek_id != current, DataKey.wrapped.is_not(None), DataKey.destroyed_at.is_(None)


def pending_count(vault: Vault) -> int:
    return db.session.scalar(select(func.count()).select_from(DataKey).where(*_pending(vault.keyring.current))) or 0


def rewrap_batches(
    vault: Vault, *, clock: Callable[[], dt.datetime], batch_size: int = 500, max_batches: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-wrap data keys not under the current KEK, one transaction per batch.

    The walk goes by keyset (``position > last position of the batch before``, in
    position order), so each batch reads only its own rows and a rotation costs the
    same per key at any table size. The position is the primary key on PostgreSQL and
    the rowid on SQLite: the table's physical order there, so reads and index updates
    stay sequential once the table outgrows SQLite's page cache (random UUID order made
    100,000 keys 3-4x slower per key than 10,000). Safe to interrupt and run again
    (``keys rotate --resume``): each committed batch is done, and the next run picks up
    whatever is still under an older KEK. On PostgreSQL rows locked by a concurrent
    rotation are skipped and counted as pending, and a batch is written back by COPY
    (``_update_by_copy``). Each batch is stamped ``rewrapped_at`` with ``clock()`` read as it is written.
    Returns how many keys were re-wrapped.
    """
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    table = DataKey.__table__
    position: Any = table.c.id if postgresql else literal_column("data_keys.rowid")
    store = (
        update(table).where(position == bindparam("at_position"))
        .values(kek_id=bindparam("new_kek_id"), wrapped=bindparam("new_wrapped"), rewrapped_at=bindparam("at"))
    )
    done = batches = 0
    last: Any = None
    while max_batches is None or batches < max_batches:
        with unit_of_work() as session:
            stmt = select(position, DataKey.id, DataKey.kek_id, DataKey.wrapped).where(
                *_pending(vault.keyring.current)
            )
            if last is not None:
                stmt = stmt.where(position > last)
            stmt = stmt.order_by(position).limit(batch_size)
            if postgresql:
                stmt = stmt.with_for_update(skip_locked=True)
            rows = session.execute(stmt).all()
            if not rows:
                break
            now = clock()
            changes = _rewrapped_rows(vault, rows, now)
            if postgresql:
                _update_by_copy(session.connection(), changes, now)
            else:
                # One executemany UPDATE per batch, past the ORM: the columns are all that changes.
                session.execute(store, changes, execution_options={"synchronize_session": False})
            last = rows[-1][0]
        done += len(rows)
        batches += 1
        if progress:
            progress(done)
    return done


def _rewrapped_rows(vault: Vault, rows: Any, now: Any) -> list[dict[str, Any]]:
    changes = []
    for at_position, key_id, kek_id, wrapped in rows:
        assert wrapped is not None  # the WHERE clause
        new_kek_id, new_wrapped = vault.rewrapped(key_id, kek_id, wrapped)
        changes.append({"at_position": at_position, "new_kek_id": new_kek_id, "new_wrapped": new_wrapped, "at": now})
    return changes


_BATCH_TABLE = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS qzbg_rewrap_batch (id uuid PRIMARY KEY, wrapped bytea NOT NULL)"
    " ON COMMIT DELETE ROWS"
)
_UPDATE_FROM_BATCH = (
    "UPDATE data_keys SET kek_id = %(kek_id)s, wrapped = batch.wrapped, rewrapped_at = %(at)s"
    " FROM qzbg_rewrap_batch AS batch"
    " WHERE data_keys.id = batch.id AND data_keys.id BETWEEN %(first)s AND %(last)s"
)


def _update_by_copy(conn: Connection, changes: list[dict[str, Any]], now: Any) -> None:
    """PostgreSQL: the batch's new wrapped keys COPYed (binary) into a temporary table of this connection,
    emptied at each commit, then one ``UPDATE ... FROM`` it, all in the batch's transaction.

    Sending them as array parameters (``_update_from_arrays``) cost this process about 12 µs a key to encode
    (a bytea array alone 7 µs), as much as half the crypto; a binary COPY row costs about 4. Every key of
    the batch is wrapped under the same new KEK, a parameter of its own. The id range keeps the plan to that
    run of the primary key.
    """
    kek_ids = {c["new_kek_id"] for c in changes}
    if len(kek_ids) != 1:  # the keyring changed under the batch: the general statement
        conn.execute(*_update_from_arrays(changes, now))
        return
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(_BATCH_TABLE)
    with cursor.copy("COPY qzbg_rewrap_batch (id, wrapped) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["uuid", "bytea"])
        for change in changes:
            copy.write_row((change["at_position"], change["new_wrapped"]))
    cursor.execute(_UPDATE_FROM_BATCH, {"kek_id": kek_ids.pop(), "at": now, "first": changes[0]["at_position"],
                                        "last": changes[-1]["at_position"]})


_UPDATE_FROM_ARRAYS = text(
    "UPDATE data_keys SET kek_id = batch.kek_id, wrapped = batch.wrapped, rewrapped_at = :at"
    " FROM unnest(CAST(:ids AS uuid[]), CAST(:kek_ids AS varchar[]), CAST(:wrapped AS bytea[]))"
    " AS batch (id, kek_id, wrapped)"
    " WHERE data_keys.id = batch.id AND data_keys.id BETWEEN :first AND :last"
)


def _update_from_arrays(changes: list[dict[str, Any]], now: Any) -> tuple[Any, dict[str, Any]]:
    """PostgreSQL: the whole batch as one ``UPDATE ... FROM unnest(arrays)``: one statement, one round trip.

    psycopg's executemany pipelines one UPDATE per key. One joined UPDATE with three array
    parameters is one plan and one statement; the id range (the batch is a run of ids in key
    order) lets the planner read just that run of the primary key rather than hash the
    batch against a scan of the whole table.
    """
    return _UPDATE_FROM_ARRAYS, {
        "at": now,
        "ids": [c["at_position"] for c in changes],
        "kek_ids": [c["new_kek_id"] for c in changes],
        "wrapped": [c["new_wrapped"] for c in changes],
        "first": changes[0]["at_position"],
        "last": changes[-1]["at_position"],
    }


@dataclasses.dataclass(frozen=True)
class KekStatus:
    id: str
    current: bool
    retired: bool
    created_at: str
    data_keys: int


def status(vault: Vault) -> list[KekStatus]:
    counts = Counter(
        dict(
            db.session.execute(
                select(DataKey.kek_id, func.count()).where(DataKey.wrapped.is_not(None)).group_by(DataKey.kek_id)
            ).all()
        )
    )
    rows = [
        KekStatus(k.id, k.id == vault.keyring.current, k.key is None, k.created_at, counts.pop(k.id, 0))
        for k in vault.keyring.keks
    ]
    rows.extend(KekStatus(kek_id, False, True, "?", n) for kek_id, n in counts.items())
    return rows


def retire(vault: Vault, path: Path, kek_id: str) -> None:
    """Destroy an old KEK's key material once no data key needs it."""
    kek = vault.keyring.kek(kek_id)
    if kek is None:
        raise ConfigError(f"密钥环中没有密钥 {kek_id}")
    if kek_id == vault.keyring.current:
        raise ConfigError("不能注销当前密钥：请先运行 keys rotate")
    needed = db.session.scalar(
        select(func.count()).select_from(DataKey).where(
            DataKey.kek_id == kek_id, DataKey.wrapped.is_not(None), DataKey.destroyed_at.is_(None)
        )
    )
    if needed:
        raise ConfigError(f"仍有 {needed} 个数据密钥由 {kek_id} 包裹：请先运行 keys rotate --resume 完成重新包裹")
    ring = keyring_file.with_retired(vault.keyring, kek_id)
    keyring_file.save(ring, path)
    vault.keyring = ring


def verify(vault: Vault) -> None:
    """Unwrap one data key per KEK in use: a wrong keyring stops here with one line."""
    usable = (DataKey.wrapped.is_not(None), DataKey.destroyed_at.is_(None))
    kek_ids = db.session.scalars(select(DataKey.kek_id).where(*usable).distinct())
    for kek_id in kek_ids:
        sample = db.session.scalars(select(DataKey).where(DataKey.kek_id == kek_id, *usable).limit(1)).one()
        try:
            vault.unwrap(sample)
        except Exception:
            raise ConfigError(
                f"密钥环与数据库不匹配：数据库中的数据密钥需要密钥 {kek_id}，但当前密钥环无法解开它"
            ) from None


VERIFIED = KEYRING_VERIFIED


# The database cannot be asked: out of reach, or without tables before `db upgrade`.
_DATABASE_NOT_ASKABLE: tuple[type[Exception], ...] = (ProgrammingError, *DATABASE_UNAVAILABLE)


def keyring_state(app: Flask, vault: Vault) -> str:
    """``ok`` (verified), ``mismatch`` (the keyring cannot open the stored data keys) or ``unchecked``
    (the database cannot be asked: down, unreachable, or no tables before ``db upgrade``). ``vault`` comes from
    ``get_vault()`` called just before, which re-reads a rewritten keyring file (that must then prove itself
    again)."""
    if app.extensions.get(VERIFIED):
        return "ok"
    try:
        verify(vault)
    except ConfigError:
        db.session.rollback()
        return "mismatch"
    except _DATABASE_NOT_ASKABLE:
        discard_session()
        return "unchecked"
    db.session.rollback()  # end the read (on SQLite it holds the write lock)
    app.extensions[VERIFIED] = True
    return "ok"
