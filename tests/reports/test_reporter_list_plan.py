"""A reporter's list is read along its index, without a sort, however many reports the others have."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import insert

from app.extensions import db
from app.reporters.models import Reporter
from app.reports.models import Report
from app.reports.queries import encode_cursor, reporter_page_query

INDEX = "ix_reports_reporter_id_submitted_at_id"
# 40,000 reports of 400 busy reporters, interleaved in time as they come in, and one reporter with three:
# enough rows that walking the whole table's time index past other reporters' reports costs more than
# the reporter's own index, as it does in production.
REPORTERS = 400
REPORTS_EACH = 100


def _fill() -> tuple[uuid.UUID, uuid.UUID, dt.datetime]:
    """Thousands of rows by core inserts (no sealing: the plan does not look inside)."""
    from app.crypto.models import DataKey

    now = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    key = uuid.uuid4()
    db.session.execute(insert(DataKey), [{"id": key, "kek_id": "k", "wrapped": b"w", "created_at": now}])
    reporters = [uuid.uuid4() for _ in range(REPORTERS + 1)]
    db.session.execute(insert(Reporter), [{"id": r, "data_key_id": key, "created_at": now} for r in reporters])
    few, many = reporters[0], reporters[1:]
    owners = [few] * 3 + [many[i % REPORTERS] for i in range(REPORTERS * REPORTS_EACH)]
    rows = []
    for n, owner in enumerate(owners):
        at = now - dt.timedelta(minutes=n)
        rows.append({
            "id": uuid.uuid4(), "tracking_no": f"QZBG-2026-{n:06d}", "client_key": f"plan:{n}", "reporter_id": owner,
            "channel": "miniprogram", "status": "new", "urgent": False, "victim_gender": "female",
            "victim_age_band": "6-11", "data_key_id": key, "reporter_data": b"", "victim_data": b"",
            "incident_data": b"", "suspect_data": b"", "police_data": b"", "submitted_at": at, "updated_at": at,
            "acknowledge_due_at": at, "version": 1,
        })
    db.session.execute(insert(Report), rows)
    db.session.commit()
    return few, many[0], now


def _plan(stmt) -> str:
    compiled = stmt.compile(dialect=db.engine.dialect)
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE reports")
            rows = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar_one()
            return json.dumps(rows)
        conn.exec_driver_sql("ANALYZE")
        params = tuple(compiled.construct_params()[name] for name in compiled.positiontup or ())
        processors = compiled._bind_processors
        params = tuple(
            processors[name](value) if name in processors else value
            for name, value in zip(compiled.positiontup or (), params, strict=True)
        )
        return " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params))


@pytest.mark.slow
def test_a_reporters_pages_are_read_along_the_list_index(app):
    few, busy, now = _fill()
    cursor = encode_cursor(now - dt.timedelta(minutes=REPORTS_EACH // 2), uuid.uuid4())

    for reporter_id in (few, busy, uuid.uuid4()):
        for page in (None, cursor):
            plan = _plan(reporter_page_query(reporter_id, limit=20, cursor=page))
            assert INDEX in plan, plan
            assert "Seq Scan" not in plan, plan
            assert "SCAN reports" not in plan, plan
            if reporter_id == busy:
                # A page of a long list stops after 21 index entries: nothing to sort.
                assert '"Sort"' not in plan, plan
                assert "TEMP B-TREE" not in plan, plan
