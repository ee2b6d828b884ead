"""Every partial index of ``reports`` is used, on both backends, by the statements as the app writes them.

A partial index helps only if the planner can prove the query's WHERE implies the index's; SQLite proves it only
when the query repeats the index's term as spelled (``WHERE training``, not ``training = 1``), so a count that
SQLAlchemy spelled its own way read the whole table at 100,000 reports. Here 100,000 reports of an office (its
history: closed real reports; some open; some practice ones) are loaded, and every statement that touches
``reports`` on the inbox's first page, its training queue's page and the practice reports' purge is given to the
backend's own planner (PostgreSQL ``EXPLAIN`` after ``ANALYZE``, as autovacuum keeps it; SQLite ``EXPLAIN QUERY
PLAN`` after the scheduled ``planner_statistics`` job, without which SQLite takes any index on ``office_id`` alike):
none scans the table, and each partial index is the one read by some of them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import current_app
from sqlalchemy import event, insert, select, text

from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify import jobs
from app.reports import service as reports
from app.reports.models import Report
from app.reports.training import expired_training
from app.review import listing, queries
from tests.factories import create_report, create_staff

pytestmark = pytest.mark.slow
HISTORY, OPEN, PRACTICE = 100_000, 150, 60


def partial_indexes(dialect: str) -> set[str]:
    return {index.name for index in Report.__table__.indexes if index.dialect_options[dialect]["where"] is not None}


def _load(template: Report, now: dt.datetime) -> None:
    """``HISTORY`` reports in all: ``OPEN`` open real ones and ``PRACTICE`` practice ones (recent, each sealed,
    as the pages open them), the rest closed real ones of the years before (carrying the template's sealed
    section: no page here opens them)."""
    table = Report.__table__
    row = dict(db.session.execute(select(table).where(table.c.id == template.id)).mappings().one())
    victim, vault = template.section("victim"), get_vault()
    batch: list[dict[str, Any]] = []
    for n in range(HISTORY):
        recent = n < OPEN + PRACTICE
        at = now - dt.timedelta(minutes=n + 1) if recent else now - dt.timedelta(days=8, minutes=n)
        copy = {**row, "id": uuid.uuid4(), "tracking_no": f"QZBG-2020-{n:06d}", "client_key": f"plans:{n}",
                "submitted_at": at, "updated_at": at, "acknowledge_due_at": at + dt.timedelta(hours=24),
                "urgent": n % 10 == 0, "status": "reviewing", "acknowledged_at": at, "training": False}
        if n >= OPEN + PRACTICE:
            copy.update(status="closed", closed_at=at, close_reason="other")
        if OPEN <= n < OPEN + PRACTICE:
            copy["training"] = True
        if recent:
            copy["victim_data"] = vault.encrypt(template.data_key, "reports", "victim_data", copy["id"], victim)
        batch.append(copy)
        if len(batch) == 5000:
            db.session.execute(insert(table), batch)
            batch = []
    if batch:
        db.session.execute(insert(table), batch)
    reports.recount_closed()
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in ("reports", "closed_report_counts"):
                conn.execute(text(f"VACUUM {name}"))
                conn.execute(text(f"ANALYZE {name}"))
    else:  # the scheduled job that keeps SQLite's statistics, as a deployment runs it
        job = next(j for j in jobs.REGISTRY if j.name == "planner_statistics")
        assert jobs.run_job(job, now, current_app.config["QZBG"]).status == "ok"


@pytest.fixture
def office(app: Any, backend_name: str) -> Actor:
    if backend_name == "postgresql":
        db.session.execute(text("TRUNCATE reports, closed_report_counts CASCADE"))  # fresh index statistics
        db.session.commit()
    now = dt.datetime.now(dt.UTC)
    template = create_report(status="new", now=now)
    user = create_staff(role="prosecutor")
    db.session.commit()
    _load(template, now)
    return Actor.staff(user)


def _sent(run: Any) -> list[tuple[str, Any]]:
    """The statements (and parameters) ``run()`` sends that read ``reports``."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return [(s, p) for s, p in sent if re.search(r"\bFROM reports\b|\bJOIN reports\b", s)]


def _page(actor: Actor, filters: queries.Filters) -> None:
    now = dt.datetime.now(dt.UTC)
    assert listing.inbox(actor, filters, now=now, vault=get_vault()).rows
    counts = queries.status_counts(actor, filters, now=now, vault=get_vault())
    queries.list_total(actor, filters, counts, now=now, vault=get_vault())


def _purge_query() -> None:
    db.session.scalars(expired_training(dt.datetime.now(dt.UTC)).order_by(Report.submitted_at).limit(500)).all()


def _plan(statement: str, parameters: Any) -> tuple[set[str], bool]:
    """(indexes of ``reports`` read, whether ``reports`` is scanned whole) in the backend's own plan."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        document = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
        plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]

        def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield node
            for child in node.get("Plans", []):
                yield from nodes(child)

        on_reports = [n for n in nodes(plan) if n.get("Relation Name") == "reports"]
        return ({n["Index Name"] for n in on_reports if "Index Name" in n},
                any(n["Node Type"] == "Seq Scan" for n in on_reports))
    details = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    read = (re.match(r"(?:SEARCH|SCAN) reports USING (?:COVERING )?INDEX (\w+)", d) for d in details)
    used = {match.group(1) for match in read if match}
    return used, any(re.fullmatch(r"SCAN reports", d) for d in details)


def test_every_partial_index_is_read_by_the_statements_as_written_and_none_scans_the_table(office, backend_name):
    statements = [
        *_sent(lambda: _page(office, queries.Filters())),
        *_sent(lambda: _page(office, queries.Filters(training=True))),
        *_sent(_purge_query),
    ]
    assert statements
    used: set[str] = set()
    for statement, parameters in statements:
        indexes, whole_table = _plan(statement, parameters)
        assert not whole_table, f"{backend_name} scans reports for: {statement}"
        used |= indexes
    dialect = "postgresql" if backend_name == "postgresql" else "sqlite"
    assert partial_indexes(dialect) == {"ix_reports_open_office_id_submitted_at_id", "ix_reports_training_submitted_at"}
    assert partial_indexes(dialect) <= used, f"{backend_name} never reads {partial_indexes(dialect) - used}"


def test_the_training_tab_count_reads_only_the_practice_index(office, backend_name):
    statements = _sent(lambda: queries.status_counts(office, queries.Filters(), now=dt.datetime.now(dt.UTC),
                                                     vault=get_vault()))
    practice = [(s, p) for s, p in statements if re.search(r"\breports\.training\b(?! =)", s)]
    assert practice, "the tabs' counts ask for the practice reports"
    for statement, parameters in practice:
        indexes, whole_table = _plan(statement, parameters)
        assert not whole_table, statement
        assert "ix_reports_training_submitted_at" in indexes, (backend_name, statement, indexes)
