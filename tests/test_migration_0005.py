"""Migration 0005 gives every existing unit and report to the default office and loses nothing."""

from __future__ import annotations

import uuid

import flask_migrate
import sqlalchemy as sa

from app.extensions import db
from tests.test_migration_0003 import (  # noqa: F401 - fixture
    NOW,
    _insert_report_at_0002,
    _uuid,
    empty_database,
    schema_at_0002,
)


def test_existing_reports_units_and_their_rows_belong_to_the_default_office(backend, empty_database, tmp_path):  # noqa: F811
    with schema_at_0002(empty_database, tmp_path) as tables:
        with db.engine.begin() as conn:
            conn.execute(tables.tables["units"].insert().values(
                code="old-unit", name="老单位", type="school", active=True, created_at=NOW, updated_at=NOW))
            report_id = _insert_report_at_0002(conn, tables, ["abuse_injury"])
        flask_migrate.upgrade(revision="0005")
        with db.engine.connect() as conn:
            default = conn.execute(sa.text("SELECT id FROM offices WHERE is_default")).scalar_one()
            assert conn.execute(sa.text("SELECT office_id FROM units")).scalar_one() == default
            assert conn.execute(sa.text("SELECT office_id FROM reports")).scalar_one() == default
            events = conn.execute(sa.text("SELECT count(*) FROM report_events WHERE report_id = :id"),
                                  {"id": _uuid(conn, report_id)}).scalar_one()
            assert events == 1
            assert conn.execute(sa.text("SELECT count(*) FROM report_categories")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT seq, hash FROM audit_head")).one() == (0, "0" * 64)
        flask_migrate.downgrade(revision="0004")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM report_events")).scalar_one() == 1
    assert uuid.UUID(str(report_id))
