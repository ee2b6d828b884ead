"""Migration 0009 copies each transfer's report office and submission time onto it and each report's category rows
into its bits, so the statistics of existing rows are the same before and after; it downgrades back."""

from __future__ import annotations

import datetime as dt
import uuid

import flask_migrate
import sqlalchemy as sa

from app.extensions import db
from app.reports.models import category_mask
from tests.test_migration_0003 import (  # noqa: F401 - fixture
    NOW,
    _insert_report_at_0002,
    _uuid,
    empty_database,
    schema_at_0002,
)

SUBMITTED = dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC)


def test_existing_transfers_get_their_reports_office_and_time_and_reports_their_category_bits(
    backend, empty_database, tmp_path  # noqa: F811
):
    with schema_at_0002(empty_database, tmp_path) as tables:
        with db.engine.begin() as conn:
            report_id = _insert_report_at_0002(conn, tables, ["abuse_injury", "abandonment"])
            bare_id = _insert_report_at_0002(conn, tables, ["other_serious_harm"])
        flask_migrate.upgrade(revision="0008_stats")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        with db.engine.begin() as conn:
            office = conn.execute(sa.text("SELECT id FROM offices WHERE is_default")).scalar_one()
            reports = tables.tables["reports"]
            conn.execute(reports.update().where(reports.c.id == _uuid(conn, report_id)).values(submitted_at=SUBMITTED))
            # A report with no category rows at all (none should exist, but the bits must then be 0).
            conn.execute(tables.tables["report_categories"].delete().where(
                tables.tables["report_categories"].c.report_id == _uuid(conn, bare_id)))
            conn.execute(tables.tables["police_units"].insert().values(
                code="pcs-0009", name="派出所", office_id=office, active=True, created_at=NOW, updated_at=NOW))
            police = conn.execute(sa.text("SELECT id FROM police_units WHERE code = 'pcs-0009'")).scalar_one()
            conn.execute(tables.tables["transfers"].insert().values(
                id=_uuid(conn, uuid.uuid4()), report_id=_uuid(conn, report_id), police_unit_id=police, state="open",
                document_no="检移1号", share_reporter=False, created_at=NOW, receipt_due_at=NOW, feedback_due_at=NOW))
        flask_migrate.upgrade(revision="0009_stats_speed")
        with db.engine.connect() as conn:
            copied = conn.execute(sa.text("SELECT office_id, report_submitted_at FROM transfers")).one()
            assert copied[0] == office
            submitted = copied[1] if isinstance(copied[1], dt.datetime) else dt.datetime.fromisoformat(copied[1])
            assert submitted.replace(tzinfo=submitted.tzinfo or dt.UTC) == SUBMITTED
            masks = dict(conn.execute(sa.text("SELECT id, category_mask FROM reports")).all())
            assert masks[_uuid(conn, report_id)] == category_mask(["abuse_injury", "abandonment"]) == 8 + 32
            assert masks[_uuid(conn, bare_id)] == 0
        flask_migrate.downgrade(revision="0008_stats")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM transfers")).scalar_one() == 1
            assert "category_mask" not in {c["name"] for c in sa.inspect(conn).get_columns("reports")}
            assert "office_id" not in {c["name"] for c in sa.inspect(conn).get_columns("transfers")}
