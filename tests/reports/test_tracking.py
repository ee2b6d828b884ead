"""Tracking numbers: unique and increasing, never reused, gaps allowed, per year of China Standard Time;
on PostgreSQL the counter row is not held locked by an open submission."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import service
from app.reports.models import Report
from app.reports.schemas import ReportBody
from app.reports.tracking import counter_engine, next_tracking_no
from tests.factories import report_body


def _submit(now: dt.datetime | None = None) -> str:
    data = ReportBody().load({k: v for k, v in report_body().items() if k != "client_id"})
    result = service.submit(
        data, actor=Actor.public(), client_key=f"test:{uuid.uuid4()}", now=now or dt.datetime.now(dt.UTC),
        vault=get_vault(), ack_deadlines=service.AckDeadlines.from_settings(current_app.config["QZBG"]),
    )
    return result.report.tracking_no


def _libpq_url() -> str:
    return make_url(db.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_an_open_submission_does_not_hold_the_counter_row_locked_on_postgresql(app, backend_name):
    if backend_name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the number is taken in the writing transaction")
    first = _submit()
    year = int(first.split("-")[1])

    # The submission's transaction is still open; another session can lock the row at once.
    with psycopg.connect(_libpq_url()) as other:
        last = other.execute(
            "SELECT last FROM tracking_counters WHERE year = %s FOR UPDATE NOWAIT", (year,)
        ).fetchone()
    assert last == (1,)
    db.session.rollback()


def test_a_rolled_back_submission_leaves_a_gap_but_no_number_is_given_twice(app, backend_name):
    rolled_back = _submit()
    db.session.rollback()
    kept = [_submit() for _ in range(2)]
    db.session.commit()

    stored = db.session.scalars(select(Report.tracking_no).order_by(Report.tracking_no)).all()
    assert stored == kept
    sequences = [int(n[-6:]) for n in [rolled_back, *kept]]
    if backend_name == "postgresql":
        assert sequences == [1, 2, 3]  # 1 is a gap: taken, never stored, never handed out again
    else:
        assert sequences == [1, 1, 2]  # SQLite: the number went back with the transaction, unseen


def test_the_year_turns_at_midnight_china_standard_time(app):
    last_of_2026 = next_tracking_no(dt.datetime(2026, 12, 31, 15, 59, 59, tzinfo=dt.UTC))
    first_of_2027 = next_tracking_no(dt.datetime(2026, 12, 31, 16, 0, 0, tzinfo=dt.UTC))
    again_2027 = next_tracking_no(dt.datetime(2027, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))))
    db.session.commit()
    assert last_of_2026 == "QZBG-2026-000001"
    assert first_of_2027 == "QZBG-2027-000001"
    assert again_2027 == "QZBG-2027-000002"


def test_numbering_goes_on_after_the_database_drops_the_counter_connection(app, backend_name):
    if backend_name != "postgresql":
        pytest.skip("the counter connection is PostgreSQL's")
    now = dt.datetime.now(dt.UTC)
    first = next_tracking_no(now)
    with counter_engine().connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(_libpq_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    second = next_tracking_no(now)

    assert int(second[-6:]) > int(first[-6:])
