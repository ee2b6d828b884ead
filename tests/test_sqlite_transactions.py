"""SQLite takes the write lock only in transactions that write: reads never wait for a writer."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError

from app.core.db import READ, intent, transactional, unit_of_work
from app.extensions import db
from app.reports import service
from app.reports.models import TrackingCounter
from tests.factories import report_body


@pytest.fixture
def sqlite_app(app: Flask, backend_name: str) -> Flask:
    if backend_name != "sqlite":
        pytest.skip("about SQLite's locking")
    return app


@contextmanager
def begins() -> Iterator[list[str]]:
    """The BEGIN statements the app's engine sends meanwhile."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@contextmanager
def commit_elsewhere(year: int) -> None:
    """Another connection writes and commits, moving the database past any open read snapshot."""
    other = sqlite3.connect(db.engine.url.database, isolation_level=None)
    other.execute("INSERT INTO tracking_counters (year, last) VALUES (?, 1)", (year,))
    other.close()


@contextmanager
def write_lock_held_elsewhere() -> Iterator[None]:
    """Another connection (another worker process, say) in the middle of a write transaction."""
    other = sqlite3.connect(db.engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO tracking_counters (year, last) VALUES (1999, 1)")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_reads_are_answered_while_another_connection_holds_the_write_lock(sqlite_app, client, reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert created.status_code == 201
    db.session.rollback()

    with write_lock_held_elsewhere():
        listed = client.get("/api/v1/reports", headers=reporter.headers)
        detail = client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers)

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [created.json["id"]]
    assert detail.status_code == 200


def test_a_submission_is_checked_and_sealed_beside_another_writer_and_waits_only_to_write(
    sqlite_app, client, reporter, monkeypatch
):
    client.get("/api/v1/me", headers=reporter.headers)  # the app's first request also checks the keyring
    db.session.rollback()
    reached_first_write = threading.Event()
    take_number = service.next_tracking_no

    def numbering(now):
        reached_first_write.set()
        return take_number(now)

    monkeypatch.setattr(service, "next_tracking_no", numbering)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with write_lock_held_elsewhere():
            answer = pool.submit(
                lambda: sqlite_app.test_client().post("/api/v1/reports", json=report_body(), headers=reporter.headers)
            )
            # Token, validation, sealing and the idempotency read all ran while the lock was held elsewhere.
            # (The wait only guards against a hang: with the lock taken at the first read it never comes.)
            assert reached_first_write.wait(timeout=20)
        assert answer.result().status_code == 201


@pytest.mark.parametrize("locking_read", [False, True], ids=["write", "select-for-update"])
def test_a_writing_transaction_that_read_before_another_writer_committed_still_writes(sqlite_app, locking_read):
    @transactional(writes=True)
    def read_then_write():
        db.session.scalar(select(func.count()).select_from(TrackingCounter))
        commit_elsewhere(2001)
        if locking_read:
            seen = db.session.scalars(select(TrackingCounter.year).with_for_update()).all()
            assert seen == [2001]  # the locking read sees what was committed meanwhile
        db.session.add(TrackingCounter(year=2002, last=1))
        db.session.flush()
        return "ok"

    db.session.rollback()
    with sqlite_app.test_request_context("/", method="GET"):
        assert read_then_write().status_code == 200
    assert sorted(db.session.scalars(select(TrackingCounter.year))) == [2001, 2002]


def test_a_read_transaction_that_writes_after_another_writer_committed_fails_which_is_why_intent_matters(
    sqlite_app,
):
    db.session.rollback()
    with sqlite_app.test_request_context("/", method="GET"), intent(READ):
        db.session.scalar(select(func.count()).select_from(TrackingCounter))
        commit_elsewhere(2003)
        db.session.add(TrackingCounter(year=2004, last=1))
        with pytest.raises(OperationalError, match="database is locked"):
            db.session.flush()
        db.session.rollback()


def test_a_unit_of_work_and_work_outside_requests_are_serialised_from_their_first_read(sqlite_app):
    """CLI commands and the worker keep their behaviour: one at a time, from the start."""
    db.session.rollback()
    with begins() as seen:
        with unit_of_work() as session:
            session.execute(text("SELECT 1"))
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    assert seen == ["BEGIN IMMEDIATE", "BEGIN IMMEDIATE"]


def test_reads_begin_deferred(sqlite_app, client, reporter):
    client.get("/api/v1/me", headers=reporter.headers)
    db.session.rollback()
    with begins() as seen:
        assert client.get("/api/v1/reports", headers=reporter.headers).status_code == 200
    assert seen == ["BEGIN"]
