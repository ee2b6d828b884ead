"""The inbox's statements, as the app sends them, are planned along the inbox indexes on PostgreSQL.

A few thousand reports of two offices (most closed, as an office's history is), ANALYZEd; then every statement
the inbox's first page and its filtered pages send (captured from the engine with its parameters) is run again
under ``EXPLAIN (ANALYZE, FORMAT JSON)``: no sequential scan of ``reports`` anywhere, the list read along the index
its ORDER BY matches, and the first page's scan of the whole history stops after about a page of rows. Row
counts of the plan are asserted, never times.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text

from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import service as reports
from app.reports.models import Report
from app.review import listing, queries
from tests.factories import create_office, create_report, create_staff

CLOSED, OPEN = 3000, 120
OPEN_INDEX = "ix_reports_open_office_id_submitted_at_id"
TIME_INDEX = "ix_reports_office_id_submitted_at_id"
STATUS_INDEX = "ix_reports_office_id_status_submitted_at_id"
# The list's own statements (its ids in order); the rest are the rows' details, the tabs and the total.
LIST_STATEMENTS = ("SELECT reports.submitted_at, reports.id", "SELECT CASE", "SELECT coalesce")


def _load(template: Report, now: dt.datetime, other_office: int) -> None:
    """Copies of ``template`` (core inserts, victim section sealed again for each row): ``OPEN`` recent open
    reports, one in ten urgent, and ``CLOSED`` older closed ones, and as many of another office's; then the
    closed counter and VACUUM (ANALYZE)."""
    table, categories = Report.__table__, db.metadata.tables["report_categories"]
    row = dict(db.session.execute(select(table).where(table.c.id == template.id)).mappings().one())
    victim, vault = template.section("victim"), get_vault()
    rows, category_rows = [], []
    for n in range(2 * (OPEN + CLOSED)):
        theirs, m = divmod(n, OPEN + CLOSED)
        at = now - dt.timedelta(minutes=m + 1) if m < OPEN else now - dt.timedelta(days=2, minutes=m)
        copy = {**row, "id": uuid.uuid4(), "office_id": other_office if theirs else template.office_id,
                "tracking_no": f"QZBG-2025-{n:06d}", "client_key": f"plan:{n}",
                "submitted_at": at, "updated_at": at, "acknowledge_due_at": at + dt.timedelta(hours=24),
                "urgent": n % 10 == 0, "status": "reviewing", "acknowledged_at": at}
        if m >= OPEN:
            copy.update(status="closed", closed_at=at, close_reason="other")
        copy["victim_data"] = vault.encrypt(template.data_key, "reports", "victim_data", copy["id"], victim)
        rows.append(copy)
        category_rows.append({"report_id": copy["id"], "code": "abuse_injury"})
    db.session.execute(insert(table), rows)
    db.session.execute(insert(categories), category_rows)
    reports.recount_closed()
    db.session.commit()
    # VACUUM, as autovacuum does after a bulk load (index-only scans need the visibility map), then ANALYZE on its
    # own: a VACUUM (ANALYZE) that skips index cleanup leaves each index's tuple count as it was, and a partial
    # index's size is estimated from that count.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("reports", "report_categories", "closed_report_counts"):
            conn.execute(text(f"VACUUM {name}"))
            conn.execute(text(f"ANALYZE {name}"))


def _fresh_tables() -> None:
    """Empty ``reports`` and every table under it with TRUNCATE, as on a new server: the suite's other tests
    empty them with DELETE, and on a server without autovacuum (CI's) the indexes keep every page those tests
    filled, with tuple counts from whenever they were last vacuumed. The planner reads a partial index's size from
    its pages and that count, so a stale count made the open index look as big as the office's history."""
    db.session.commit()
    db.session.execute(text("TRUNCATE reports, closed_report_counts CASCADE"))
    db.session.commit()


@pytest.fixture
def inbox_data(app, backend_name) -> Actor:
    if backend_name != "postgresql":
        pytest.skip("the plans asserted are PostgreSQL's")
    _fresh_tables()
    now = dt.datetime.now(dt.UTC)
    template = create_report(status="new", now=now)
    user = create_staff(role="prosecutor")
    other = create_office()
    db.session.commit()
    _load(template, now, other.id)
    return Actor.staff(user)


def _sent(actor: Actor, filters: queries.Filters, now: dt.datetime) -> list[tuple[str, Any]]:
    """The statements (and parameters) one inbox page sends: its rows, then its tabs' counts and its total."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        rows = listing.inbox(actor, filters, now=now, vault=get_vault()).rows
        counts = queries.status_counts(actor, filters, now=now, vault=get_vault())
        queries.list_total(actor, filters, counts, now=now, vault=get_vault())
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    assert rows
    return [(s, p) for s, p in sent if " reports" in s]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _explain(statement: str, parameters: Any) -> list[dict[str, Any]]:
    raw = db.session.connection().exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
    document = raw.scalar_one()
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    return list(_nodes(plan))


def _on_reports(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [n for n in nodes if n.get("Relation Name") == "reports"]


def _plans(actor: Actor, filters: queries.Filters) -> dict[str, list[list[dict[str, Any]]]]:
    """The plans of the page's list statements (the bands' ids, in band order) and of its other statements."""
    out: dict[str, list[list[dict[str, Any]]]] = {"list": [], "other": []}
    for statement, parameters in _sent(actor, filters, dt.datetime.now(dt.UTC)):
        nodes = _explain(statement, parameters)
        scans = _on_reports(nodes)
        assert not [n for n in scans if n["Node Type"] == "Seq Scan"], statement
        kind = "list" if statement.startswith(LIST_STATEMENTS) else "other"
        out[kind].append(nodes)
    return out


def _indexes(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["Index Name"] for n in _on_reports(nodes) if "Index Name" in n}


def test_the_first_page_reads_the_open_index_and_stops_after_about_a_page(inbox_data):
    plans = _plans(inbox_data, queries.Filters())
    urgent_band, rest = plans["list"]
    assert _indexes(urgent_band) == {OPEN_INDEX}
    assert _indexes(rest) == {OPEN_INDEX}  # the 全部 tab lists open reports: never the closed history
    # The scan stops at the page: the page's rows and the urgent ones it skips.
    read = sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in _on_reports(rest))
    assert read <= listing.PAGE + OPEN // 10 + 2
    # The tabs: open statuses and overdue along the open index; the closed tab is the office's counter row; the
    # training queue's tab along the partial index of practice reports (none here: it reads nothing).
    # The total: the open index again.
    assert set().union(*(_indexes(nodes) for nodes in plans["other"])) <= {
        OPEN_INDEX, "pk_reports", "ix_reports_training_submitted_at"}
    counted = sum(n["Actual Rows"] for nodes in plans["other"] for n in _on_reports(nodes))
    assert counted < OPEN * 4 + listing.PAGE * 3


def test_a_status_tab_reads_along_an_index_of_that_status_or_of_open_reports(inbox_data):
    reviewing = _plans(inbox_data, queries.Filters(status="reviewing"))
    used = set().union(*(_indexes(nodes) for nodes in reviewing["list"]))
    assert used
    assert used <= {OPEN_INDEX, STATUS_INDEX, "ix_reports_status"}
    closed = _plans(inbox_data, queries.Filters(status="closed"))
    rest = closed["list"][-1]
    assert _indexes(rest) == {STATUS_INDEX}
    assert sum(n["Actual Rows"] for n in _on_reports(rest)) <= listing.PAGE + 1


def test_a_filtered_page_counts_the_closed_tab_only_up_to_the_cap(inbox_data, monkeypatch):
    monkeypatch.setattr(queries, "CLOSED_CAP", 50)
    plans = _plans(inbox_data, queries.Filters(urgent=True))  # one closed report in ten is urgent
    assert plans["list"]
    read = [sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in _on_reports(nodes))
            for nodes in plans["other"]]
    assert max(read) <= (50 + 1) * 10 + OPEN + 10  # the newest 51 closed urgent ones, not all 300


def test_the_training_tab_counts_along_the_partial_index_of_practice_reports(inbox_data):
    from sqlalchemy import func
    from sqlalchemy.dialects import postgresql

    stmt = queries.visible(inbox_data).where(queries.training_queue(True)).with_only_columns(func.count())
    compiled = stmt.compile(dialect=postgresql.psycopg.dialect())
    nodes = _explain(str(compiled), compiled.params)
    assert _indexes(nodes) == {"ix_reports_training_submitted_at"}
    assert sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in _on_reports(nodes)) == 0


@pytest.mark.parametrize("sort", ["submitted", "deadline", "status", "unit"])
def test_a_sorted_all_tab_reads_only_the_open_reports_whatever_the_history(inbox_data, sort):
    plans = _plans(inbox_data, queries.Filters(sort=sort))
    (listed,) = plans["list"]
    assert _indexes(listed) <= {OPEN_INDEX, "pk_reports"}
    read = sum(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in _on_reports(listed)
               if n.get("Index Name") != "pk_reports")
    assert read <= OPEN + 1  # the office's open reports at most, not its 3,000 closed ones
