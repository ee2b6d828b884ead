"""Migration 0016 seals the 文号 and 案号 typed before it, under each report's data key, and opens them again on
the way down; a crypto-shredded report loses its numbers with the rest."""

from __future__ import annotations

import uuid

import flask_migrate
import sqlalchemy as sa

from app.crypto.models import DataKey
from app.crypto.vault import get_vault
from app.extensions import db
from tests.test_migration_0003 import (  # noqa: F401 - fixture
    NOW,
    _insert_report_at_0002,
    _uuid,
    empty_database,
    schema_at_0002,
)

BEFORE, AFTER = "0013_audit_keyed_chain", "0016_seal_document_numbers"


def _transfer(conn: sa.Connection, tables: sa.MetaData, report_id: uuid.UUID, police: int, **numbers: str | None
              ) -> uuid.UUID:
    transfer_id = uuid.uuid4()
    conn.execute(tables.tables["transfers"].insert().values(
        id=_uuid(conn, transfer_id), report_id=_uuid(conn, report_id), police_unit_id=police, state="open",
        share_reporter=False, created_at=NOW, receipt_due_at=NOW, feedback_due_at=NOW, **numbers))
    return transfer_id


def test_typed_numbers_are_sealed_on_the_way_up_and_opened_on_the_way_down(backend, empty_database, tmp_path):  # noqa: F811
    with schema_at_0002(empty_database, tmp_path) as tables:
        with db.engine.begin() as conn:
            live = _insert_report_at_0002(conn, tables, ["abandonment"])
            shredded = _insert_report_at_0002(conn, tables, ["abandonment"])
        flask_migrate.upgrade(revision=BEFORE)
        tables = sa.MetaData()
        tables.reflect(db.engine)
        with db.engine.begin() as conn:
            key = get_vault().new_data_key()
            conn.execute(tables.tables["data_keys"].insert().values(
                id=_uuid(conn, key.id), kek_id=key.kek_id, wrapped=key.wrapped, created_at=NOW))
            reports = tables.tables["reports"]
            conn.execute(reports.update().where(reports.c.id == _uuid(conn, live))
                         .values(data_key_id=_uuid(conn, key.id)))
            dead_key = conn.execute(sa.select(reports.c.data_key_id).where(
                reports.c.id == _uuid(conn, shredded))).scalar_one()
            keys = tables.tables["data_keys"]
            conn.execute(keys.update().where(keys.c.id == dead_key).values(wrapped=None, destroyed_at=NOW))
            office = conn.execute(sa.text("SELECT id FROM offices WHERE is_default")).scalar_one()
            conn.execute(tables.tables["police_units"].insert().values(
                code="pcs-0016", name="派出所", office_id=office, active=True, created_at=NOW, updated_at=NOW))
            police = conn.execute(sa.text("SELECT id FROM police_units WHERE code = 'pcs-0016'")).scalar_one()
            typed = _transfer(conn, tables, live, police, document_no="张三案检移〔2026〕3号", case_no="A2026-430281")
            blank = _transfer(conn, tables, live, police, document_no="检移4号", case_no=None)
            gone = _transfer(conn, tables, shredded, police, document_no="李四案", case_no="B1")

        flask_migrate.upgrade(revision=AFTER)
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("transfers")}
            assert {"document_no", "case_no"}.isdisjoint(columns)
            rows = {row[0]: row[1:] for row in conn.execute(sa.text(
                "SELECT id, document_no_data, case_no_data FROM transfers")).all()}
        rows = {uuid.UUID(str(k)) if not isinstance(k, uuid.UUID) else k: v for k, v in rows.items()}
        sealed_key = db.session.get(DataKey, key.id)
        vault = get_vault()

        def opened(transfer_id: uuid.UUID, column: str, blob: bytes | None) -> str | None:
            return vault.decrypt(sealed_key, "transfers", column, transfer_id, blob) if blob else None

        assert opened(typed, "document_no_data", rows[typed][0]) == "张三案检移〔2026〕3号"
        assert opened(typed, "case_no_data", rows[typed][1]) == "A2026-430281"
        assert opened(blank, "document_no_data", rows[blank][0]) == "检移4号"
        assert rows[blank][1] is None
        assert rows[gone] == (None, None)
        assert b"430281" not in b"".join(bytes(v) for pair in rows.values() for v in pair if v)
        db.session.remove()

        flask_migrate.downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            back = {str(row[0]).replace("-", ""): row[1:] for row in conn.execute(sa.text(
                "SELECT id, document_no, case_no FROM transfers")).all()}
        assert back[typed.hex] == ("张三案检移〔2026〕3号", "A2026-430281")
        assert back[blank.hex] == ("检移4号", None)
        assert back[gone.hex] == ("", None)
