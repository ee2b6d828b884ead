"""The statistics' statements, as the app sends them, read only the period's index entries on PostgreSQL.

Five years of an office's reports (a year is a fifth of the table) and another office's, with transfers, VACUUMed
and ANALYZEd as autovacuum would leave them; then every statement ``queries.figures`` sends for one year (the
office's, and a unit liaison's) is run again under ``EXPLAIN (ANALYZE, FORMAT JSON)``: no sequential scan of
``reports`` anywhere, no look-up of reports by primary key (the transfers' figures do not join back), the received
reports read from the index alone, and the rows read from ``reports`` bounded by the period's. Row counts of the
plans are asserted, never times.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from app.extensions import db
from app.offices.models import PoliceUnit
from app.reports.constants import CATEGORIES
from app.reports.models import Report
from app.stats import queries
from tests.factories import CST, create_office, create_report, create_unit

YEARS, PER_YEAR, UNITS = 5, 800, 8
CODES = list(CATEGORIES)
RECEIVED_INDEX = "ix_reports_office_id_submitted_at_id"
PERIOD = queries.Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31))


@dataclasses.dataclass
class Loaded:
    office_id: int
    unit_id: int
    in_period: int  # the office's reports received in PERIOD


def _load() -> Loaded:
    """Copies of one report (core inserts; nothing is decrypted): ``PER_YEAR`` a year for ``YEARS`` years, over
    ``UNITS`` units, a third transferred; as many of another office's; then VACUUM (ANALYZE)."""
    office_id = 1
    units = [create_unit(f"plan-{i}", name=f"计划单位{i}") for i in range(UNITS)]
    station = PoliceUnit(code="pcs-plan", name="计划派出所", office_id=office_id)
    db.session.add(station)
    other = create_office()
    template = create_report(status="new", commit=False)
    db.session.flush()
    table, categories, transfers = Report.__table__, db.metadata.tables["report_categories"], \
        db.metadata.tables["transfers"]
    row = dict(db.session.execute(select(table).where(table.c.id == template.id)).mappings().one())
    start = dt.datetime(2025 - YEARS + 1, 1, 1, tzinfo=CST).astimezone(dt.UTC)
    span = dt.timedelta(days=365 * YEARS)
    total = YEARS * PER_YEAR
    reports, category_rows, transfer_rows = [], [], []
    in_period = 0
    for n in range(2 * total):
        theirs, m = divmod(n, total)
        at = start + span * ((m * 7919) % total) / total
        unit = units[m % UNITS]
        codes = {CODES[m % len(CODES)], CODES[(m // 7) % len(CODES)]}
        closed = m % 3 == 0
        copy = {**row, "id": uuid.uuid4(), "office_id": other.id if theirs else office_id,
                "tracking_no": f"QZBG-P-{n:06d}", "client_key": f"plan:{n}", "unit_id": unit.id,
                "unit_type": unit.type, "district_code": unit.district_code, "submitted_at": at, "updated_at": at,
                "acknowledge_due_at": at + dt.timedelta(hours=24), "status": "closed" if closed else "reviewing",
                "acknowledged_at": at + dt.timedelta(hours=m % 30), "closed_at": at + dt.timedelta(days=9)
                if closed else None, "close_reason": "other" if closed else None,
                "category_mask": sum(1 << CODES.index(code) for code in codes)}
        reports.append(copy)
        category_rows.extend({"report_id": copy["id"], "code": code} for code in codes)
        if m % 3 == 1:
            made = at + dt.timedelta(hours=30)
            transfer_rows.append({
                "id": uuid.uuid4(), "report_id": copy["id"], "office_id": copy["office_id"],
                "report_submitted_at": at, "police_unit_id": station.id, "state": "open",
                "share_reporter": False, "created_at": made, "receipt_due_at": made + dt.timedelta(hours=24),
                "feedback_due_at": made + dt.timedelta(hours=72), "acknowledged_at": made + dt.timedelta(hours=2),
                "feedback_outcome": ("accepted", "filed", "not_filed")[m % 3] if m % 2 else None,
                "feedback_at": made + dt.timedelta(hours=50) if m % 2 else None,
                "supervision_requested_at": made + dt.timedelta(days=5) if m % 11 == 0 else None,
                "supervision_answer_due_at": made + dt.timedelta(days=12) if m % 11 == 0 else None})
        in_period += not theirs and PERIOD.start_at <= at < PERIOD.end_at
    db.session.execute(insert(table), reports)
    db.session.execute(insert(categories), category_rows)
    db.session.execute(insert(transfers), transfer_rows)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("reports", "report_categories", "transfers"):
            conn.execute(text(f"VACUUM (ANALYZE) {name}"))
    return Loaded(office_id, units[0].id, in_period)


@pytest.fixture
def loaded(app, backend_name) -> Loaded:
    if backend_name != "postgresql":
        pytest.skip("the plans asserted are PostgreSQL's")
    return _load()


def _sent(scope: queries.Scope) -> list[tuple[str, Any]]:
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        queries.figures(scope, PERIOD, now=dt.datetime.now(dt.UTC))
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return sent


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _plans(scope: queries.Scope) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for statement, parameters in _sent(scope):
        raw = db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
        document = raw.scalar_one()
        plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        out.append((statement, list(_nodes(plan))))
    return out


def _read(nodes: list[dict[str, Any]], relation: str) -> list[dict[str, Any]]:
    return [n for n in nodes if n.get("Relation Name") == relation]


def _rows(node: dict[str, Any]) -> int:
    return int((node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node.get("Actual Loops", 1))


def test_the_offices_figures_read_the_periods_index_entries_and_never_scan_reports(loaded):
    plans = _plans(queries.Scope(loaded.office_id))
    assert len(plans) <= 13  # 12 of the reports and transfers, and the 倒查 count of filed cases
    for statement, nodes in plans:
        on_reports = _read(nodes, "reports")
        assert not [n for n in on_reports if n["Node Type"] == "Seq Scan"], statement
        assert not [n for n in on_reports if n.get("Index Name") == "pk_reports"], statement  # no join back
        if _read(nodes, "transfers"):
            assert not [n for n in _read(nodes, "transfers") if n["Node Type"] == "Seq Scan"], statement
    received = [nodes for statement, nodes in plans if "category_mask" in statement]
    assert len(received) == 1
    scans = _read(received[0], "reports")
    assert {(n["Node Type"], n["Index Name"]) for n in scans} == {("Index Only Scan", RECEIVED_INDEX)}
    assert sum(n["Heap Fetches"] for n in scans) == 0
    # The period's entries, one range per month (a parallel plan's rows are per-worker averages: rounded).
    assert abs(sum(_rows(n) for n in scans) - loaded.in_period) <= 2 * sum(n.get("Actual Loops", 1) for n in scans)
    # Every reports-side figure reads about the period's rows: not the five years of two offices.
    read = sum(_rows(n) for _, nodes in plans for n in _read(nodes, "reports"))
    assert read < 6 * loaded.in_period < 2 * YEARS * PER_YEAR * len(plans)


def test_a_liaisons_figures_never_scan_reports_either(loaded):
    for statement, nodes in _plans(queries.Scope(loaded.office_id, loaded.unit_id)):
        assert not [n for n in _read(nodes, "reports") if n["Node Type"] == "Seq Scan"], statement
