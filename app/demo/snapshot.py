"""A copy of the freshly seeded demo data, so that a reset puts it back in seconds.

Seeding through the project's services (``seed.py``) plays some 1,700 staff actions and takes about half a
minute; a trainer resetting between two groups cannot wait that long. So every seed (``flask demo seed|reset``, and
a reset that had to seed) also writes what it made, row by row, to ``<instance>/training-snapshot.json.gz``, and a
reset restores it: every table of ``seed.data_tables()`` emptied and refilled with the rows as they were stored.

The rows keep their ids, so every sealed field still opens (its associated data names its table, column and row,
and its data key comes back too, wrapped under the keyring as it was), the audit chain still verifies, the accounts
keep their ids, password hashes and TOTP secrets, and the reports their tracking numbers (the counter itself is
not restored: a number is never given twice). The file holds only what the database holds: sealed fields stay
sealed, and everything in it is synthetic. A snapshot that does not fit this database (another migration, other
columns, another keyring or secret key) is not used: the reset seeds afresh and takes a new one.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, select, text

from app.config import Settings
from app.crypto.models import DataKey
from app.crypto.vault import Vault
from app.demo.seed import data_tables
from app.extensions import db

FORMAT = 1
FILENAME = "training-snapshot.json.gz"
BATCH = 1000  # rows per INSERT statement
Progress = Callable[[int, int], None]  # (rows restored, rows in all)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    revision: str  # the migration the database was at
    key_check: str  # which secret key the seed's TOTP secrets were derived from (a hash of a hash, not the key)
    taken_at: dt.datetime
    tables: dict[str, dict[str, Any]]  # name -> {"columns": [...], "rows": [[...], ...]}

    @property
    def rows(self) -> int:
        return sum(len(table["rows"]) for table in self.tables.values())


def path(settings: Settings) -> Path:
    return settings.instance_path / FILENAME


def _revision() -> str:
    return ",".join(sorted(db.session.scalars(text("SELECT version_num FROM alembic_version"))))


def key_check(secret_key: str) -> str:
    return hashlib.sha256(b"qzbg/training-snapshot|" + hashlib.sha256(secret_key.encode()).digest()).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, dict | list):  # a JSON column
        return {"j": value}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    kind, raw = next(iter(value.items()))
    if kind == "b":
        return base64.b64decode(raw)
    if kind == "t":
        return dt.datetime.fromisoformat(raw)
    if kind == "d":
        return dt.date.fromisoformat(raw)
    if kind == "u":
        return uuid.UUID(raw)
    return raw


def take(*, secret_key: str, now: dt.datetime) -> Snapshot:
    """Every row of the demo data as the caller's transaction sees it (right after a seed has flushed)."""
    tables = {}
    for table in data_tables():
        columns = [column.name for column in table.columns]
        order = list(table.primary_key.columns)
        rows = [[_encode(value) for value in row] for row in db.session.execute(select(table).order_by(*order))]
        tables[table.name] = {"columns": columns, "rows": rows}
    return Snapshot(_revision(), key_check(secret_key), now, tables)


def save(snapshot: Snapshot, target: Path) -> None:
    """Write the snapshot (0600, whole or not at all: a new file renamed over the old one)."""
    body = json.dumps({"format": FORMAT, "revision": snapshot.revision, "key_check": snapshot.key_check,
                       "taken_at": snapshot.taken_at.isoformat(), "tables": snapshot.tables},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    partial = target.with_name(target.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5, mtime=0) as out:
        out.write(body)
    partial.replace(target)


def load(source: Path) -> Snapshot | None:
    """The snapshot in ``source``, or None when there is none or it cannot be read."""
    try:
        with gzip.open(source, "rb") as stream:
            data = json.loads(stream.read())
        if data.get("format") != FORMAT:
            return None
        return Snapshot(str(data["revision"]), str(data["key_check"]), dt.datetime.fromisoformat(data["taken_at"]),
                        dict(data["tables"]))
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def fits(snapshot: Snapshot, *, secret_key: str, vault: Vault) -> bool:
    """Whether restoring ``snapshot`` gives this database working demo data: the same migration and columns, TOTP
    secrets derived from this secret key, and data keys this keyring opens."""
    expected = {table.name: [column.name for column in table.columns] for table in data_tables()}
    if snapshot.revision != _revision() or snapshot.key_check != key_check(secret_key):
        return False
    if {name: table.get("columns") for name, table in snapshot.tables.items()} != expected:
        return False
    keys = snapshot.tables[DataKey.__tablename__]
    first = next((dict(zip(keys["columns"], map(_decode, row), strict=True)) for row in keys["rows"]), None)
    if first is None:
        return False
    try:
        vault.unwrap(DataKey(id=first["id"], kek_id=first["kek_id"], wrapped=first["wrapped"]))
    except Exception:  # noqa: BLE001 - any failure to open means the same: this keyring cannot read the snapshot
        return False
    return True


def restore(snapshot: Snapshot, progress: Progress) -> None:
    """Insert every row of ``snapshot`` into the emptied data tables, parents first, in the caller's transaction.
    A column naming a row of its own table (a report merged into another) is set once all the rows are in."""
    total, done = snapshot.rows, 0
    progress(0, total)
    for table in data_tables():
        stored = snapshot.tables[table.name]
        rows = [dict(zip(stored["columns"], map(_decode, row), strict=True)) for row in stored["rows"]]
        own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
        later = [{name: row[name] for name in own} | {"_key": _key(table, row)} for row in rows
                 if any(row[name] is not None for name in own)]
        for start in range(0, len(rows), BATCH):
            batch = [{**row, **dict.fromkeys(own)} for row in rows[start:start + BATCH]]
            db.session.execute(table.insert(), batch)
            done += len(batch)
            progress(done, total)
        for name in own:
            _set_later(table, name, [row for row in later if row[name] is not None])
    _advance_sequences()


def _key(table: Table, row: dict[str, Any]) -> Any:
    (column,) = table.primary_key.columns  # every self-referencing table has a one-column key
    return row[column.name]


def _set_later(table: Table, name: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    (key,) = table.primary_key.columns
    statement = table.update().where(key == bindparam("_key")).values({name: bindparam(f"_{name}")})
    db.session.execute(statement, [{"_key": row["_key"], f"_{name}": row[name]} for row in rows])


def _advance_sequences() -> None:
    """PostgreSQL: rows put back with their own ids leave each id sequence where it was, which is past them when
    the snapshot came from this database; past them in any case afterwards (never backwards)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in data_tables():
        column = table.autoincrement_column
        if column is None:
            continue
        # Our own table and column names; a key without a sequence is skipped by the WHERE.
        db.session.execute(text(
            f"SELECT setval(s.seq, GREATEST((SELECT COALESCE(MAX({column.name}), 0) + 1 FROM {table.name}), "  # noqa: S608
            "nextval(s.seq)), false) FROM (SELECT pg_get_serial_sequence(:table, :column) AS seq) s "
            "WHERE s.seq IS NOT NULL"
        ), {"table": table.name, "column": column.name})
