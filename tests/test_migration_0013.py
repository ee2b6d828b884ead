"""Migration 0013 keys an existing (unkeyed) audit chain: it checks the old chain, re-keys every entry under the
keyring, records the old head in a last entry, and stops without changing anything when the old chain is broken."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa

from app.audit import service as audit
from app.extensions import db
from tests.conftest import build_app, make_settings
from tests.test_migration_0003 import _uuid, empty_database  # noqa: F401 - fixture

AT = dt.datetime(2026, 11, 30, 1, 2, 3, 456789, tzinfo=dt.UTC)
ACTOR = uuid.UUID(int=42)


@contextlib.contextmanager
def schema_at_0012(database_url: str, tmp_path: Path) -> Iterator[sa.Table]:
    app = build_app(make_settings(tmp_path / "instance", database_url))
    with app.app_context():
        flask_migrate.upgrade(revision="0012_setup_links")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        try:
            yield tables.tables["audit_entries"]
        finally:
            db.session.remove()
            db.engine.dispose()


def _unkeyed(prev: str, fields: dict) -> str:
    body = {**fields, "at": fields["at"].isoformat(timespec="microseconds"),
            "actor_id": str(fields["actor_id"]) if fields["actor_id"] else None}
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev.encode() + b"|" + data).hexdigest()


def _old_chain(conn: sa.Connection, table: sa.Table, n: int) -> str:
    """``n`` entries chained the way 0005-0012 did (SHA-256, no key); returns the head hash."""
    prev = audit.GENESIS
    for seq in range(1, n + 1):
        fields = {"seq": seq, "at": AT + dt.timedelta(minutes=seq), "actor_id": ACTOR, "actor_role": "prosecutor",
                  "office_id": 1, "action": "report.view", "target_type": "report", "target_id": f"r{seq}",
                  "ip": "10.0.0.1", "request_id": f"q{seq}"}
        digest = _unkeyed(prev, fields)
        conn.execute(table.insert().values({**fields, "actor_id": _uuid(conn, ACTOR), "prev_hash": prev,
                                            "hash": digest}))
        prev = digest
    conn.execute(sa.text("UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1"), {"seq": n, "hash": prev})
    return prev


def test_an_unkeyed_chain_is_checked_rekeyed_and_marked_and_downgrades_back(backend, empty_database, tmp_path):  # noqa: F811
    with schema_at_0012(empty_database, tmp_path) as table:
        with db.engine.begin() as conn:
            old_head = _old_chain(conn, table, 4)
        flask_migrate.upgrade(revision="0013_audit_keyed_chain")
        verdict = audit.verify()
        assert (verdict.ok, verdict.checked) == (True, 5)
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT seq, action, target_id, alg, hash FROM audit_entries"
                                        " ORDER BY seq")).all()
        assert {row.alg for row in rows} == {"hmac-sha256"}
        assert [row.target_id for row in rows[:4]] == ["r1", "r2", "r3", "r4"]  # nothing else of an entry changed
        assert (rows[4].action, rows[4].target_id) == ("audit.chain_keyed", old_head)
        assert audit.chain_head() == audit.Head(5, rows[4].hash)
        db.session.remove()
        flask_migrate.downgrade(revision="0012_setup_links")
        with db.engine.connect() as conn:
            back = conn.execute(sa.text("SELECT seq, hash FROM audit_entries ORDER BY seq")).all()
            assert "alg" not in {c["name"] for c in sa.inspect(conn).get_columns("audit_entries")}
        assert back[3].hash == old_head  # the first four entries hash as they did before


def test_a_broken_unkeyed_chain_stops_the_upgrade_naming_the_entry_and_changes_nothing(backend, empty_database,  # noqa: F811
                                                                                        tmp_path, capfd):
    with schema_at_0012(empty_database, tmp_path) as table:
        with db.engine.begin() as conn:
            _old_chain(conn, table, 3)
            conn.execute(table.update().where(table.c.seq == 2).values(action="report.export"))
        with pytest.raises(SystemExit):
            flask_migrate.upgrade(revision="0013_audit_keyed_chain")  # `flask db upgrade` exits 1 with the line
        assert "audit chain broken at entry 2" in capfd.readouterr().err
        db.session.remove()
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0012_setup_links"
            assert "alg" not in {c["name"] for c in sa.inspect(conn).get_columns("audit_entries")}
            assert conn.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar_one() == 3


def test_an_empty_chain_gains_the_column_and_no_marker(backend, empty_database, tmp_path):  # noqa: F811
    with schema_at_0012(empty_database, tmp_path):
        flask_migrate.upgrade(revision="0013_audit_keyed_chain")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM audit_entries")).scalar_one() == 0
            assert conn.execute(sa.text("SELECT seq, hash FROM audit_head")).one() == (0, audit.GENESIS)
