"""Migration 0003 moves a populated database's categories from the JSON list to rows, and back."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app.extensions import db
from app.reports.models import Report
from tests.conftest import PG_URL, _pg_admin_url, build_app, make_settings

NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
# Sent in this order; DOMAIN.md's order is abuse_injury before abandonment.
TWO = ["abandonment", "abuse_injury"]
ONE = ["other_serious_harm"]


@pytest.fixture
def empty_database(backend: tuple[str, str, Path], tmp_path: Path) -> Iterator[str]:
    """A database of its own (this test migrates it up and down), on the test's backend."""
    name = backend[0]
    if name == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
        return
    database = f"qzbg_migrate_{secrets.token_hex(4)}"
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    yield make_url(PG_URL or "").set(drivername="postgresql+psycopg", database=database).render_as_string(
        hide_password=False
    )
    with psycopg.connect(_pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def schema_at_0002(database_url: str, tmp_path: Path) -> Iterator[sa.MetaData]:
    """An app on ``database_url`` migrated to revision 0002, inside its app context: the reflected tables, for a
    test that fills them and upgrades on. The session and the engine are closed at the end."""
    app = build_app(make_settings(tmp_path / "instance", database_url))
    with app.app_context():
        flask_migrate.upgrade(revision="0002")
        tables = sa.MetaData()
        tables.reflect(db.engine)
        try:
            yield tables
        finally:
            db.session.remove()
            db.engine.dispose()


def _uuid(conn: sa.Connection, value: uuid.UUID) -> Any:
    return value if conn.dialect.name == "postgresql" else value.hex


def _insert_report_at_0002(conn: sa.Connection, tables: sa.MetaData, categories: list[str]) -> uuid.UUID:
    key_id, report_id = uuid.uuid4(), uuid.uuid4()
    conn.execute(tables.tables["data_keys"].insert().values(
        id=_uuid(conn, key_id), kek_id="k1", wrapped=b"w", created_at=NOW))
    conn.execute(tables.tables["reports"].insert().values(
        id=_uuid(conn, report_id), tracking_no=f"QZBG-2026-{secrets.randbelow(10**6):06d}",
        client_key=f"web:{report_id}", channel="web", status="new", categories=categories, urgent=False,
        victim_gender="female", victim_age_band="6-11", data_key_id=_uuid(conn, key_id),
        reporter_data=b"r", victim_data=b"v", incident_data=b"i", suspect_data=b"s", police_data=b"p",
        submitted_at=NOW, updated_at=NOW, acknowledge_due_at=NOW, version=1,
    ))
    conn.execute(tables.tables["report_events"].insert().values(
        id=_uuid(conn, uuid.uuid4()), report_id=_uuid(conn, report_id), seq=0, at=NOW, action="submit",
        to_status="new", actor="channel:web",
    ))
    return report_id


def test_a_populated_0002_database_upgrades_with_its_categories_and_timelines_intact_and_downgrades_back(
    backend: tuple[str, str, Path], empty_database: str, tmp_path: Path
) -> None:
    app = build_app(make_settings(tmp_path / "instance", empty_database))
    with app.app_context():
        flask_migrate.upgrade(revision="0002")
        with db.engine.begin() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            two = _insert_report_at_0002(conn, tables, TWO)
            one = _insert_report_at_0002(conn, tables, ONE)

        flask_migrate.upgrade()

        with db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT report_id, code FROM report_categories")).all()
            events = conn.execute(sa.text("SELECT count(*) FROM report_events")).scalar_one()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("reports")}
        assert len(rows) == 3
        assert events == 2  # SQLite's table rebuild would have cascaded them away
        assert "categories" not in columns
        assert db.session.get(Report, two).categories == ["abuse_injury", "abandonment"]
        assert db.session.get(Report, one).categories == ONE
        db.session.remove()

        flask_migrate.downgrade(revision="0002")

        with db.engine.connect() as conn:
            tables = sa.MetaData()
            tables.reflect(conn)
            reports = tables.tables["reports"]
            lists = {row.id if isinstance(row.id, uuid.UUID) else uuid.UUID(row.id): row.categories
                     for row in conn.execute(sa.select(reports.c.id, reports.c.categories))}
            events = conn.execute(sa.text("SELECT count(*) FROM report_events")).scalar_one()
        assert lists == {two: ["abuse_injury", "abandonment"], one: ONE}
        assert events == 2
        assert "report_categories" not in tables.tables
        db.engine.dispose()
