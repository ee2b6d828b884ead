"""SQLite takes the write lock only in transactions that write: reads never wait for a writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import event, text

from app.core.db import transactional, unit_of_work
from app.extensions import db
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


def test_a_submission_begins_immediate_and_a_read_begins_deferred(sqlite_app, client, reporter):
    client.get("/api/v1/me", headers=reporter.headers)  # the app's first request also checks the keyring
    db.session.rollback()
    with begins() as submitting:
        created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    with begins() as reading:
        client.get(f"/api/v1/reports/{created.json['id']}", headers=reporter.headers)
    assert created.status_code == 201
    assert submitting == ["BEGIN IMMEDIATE"]
    assert reading == ["BEGIN"]


def test_a_get_view_marked_as_writing_and_a_unit_of_work_begin_immediate(sqlite_app):
    @transactional(writes=True)
    def storing_on_get():
        db.session.execute(text("SELECT 1"))
        return "ok"

    @transactional
    def reading_get():
        db.session.execute(text("SELECT 1"))
        return "ok"

    db.session.rollback()
    with begins() as seen:
        with sqlite_app.test_request_context("/", method="GET"):
            storing_on_get()
            reading_get()
        with unit_of_work() as session:
            session.execute(text("SELECT 1"))
    assert seen == ["BEGIN IMMEDIATE", "BEGIN", "BEGIN IMMEDIATE"]


def test_work_outside_any_request_still_begins_immediate(sqlite_app):
    """CLI commands and scripts that read then write must not meet a lock upgrade."""
    db.session.rollback()
    with begins() as seen:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    assert seen == ["BEGIN IMMEDIATE"]
