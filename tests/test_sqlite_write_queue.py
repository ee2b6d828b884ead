"""SQLite writers queue for the write lock (app/core/writequeue.py) instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

import fcntl
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.core.db import unit_of_work
from app.core.writequeue import WriteQueue
from app.extensions import db
from app.reports.models import Report, TrackingCounter
from tests.factories import report_body


@pytest.fixture
def sqlite_app(app: Flask, backend_name: str) -> Flask:
    if backend_name != "sqlite":
        pytest.skip("about SQLite's locking")
    return app


def queue_taken_by_someone(app: Flask) -> bool:
    """Whether a writer holds the database's queue, seen as another process would see it (its own flock)."""
    path = os.path.realpath(db.engine.url.database) + "-writer.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_writing_transaction_holds_the_queue_until_it_commits(sqlite_app):
    db.session.rollback()
    with unit_of_work() as session:
        session.add(TrackingCounter(year=2011, last=1))
        session.flush()
        assert queue_taken_by_someone(sqlite_app)
    assert not queue_taken_by_someone(sqlite_app)


def test_a_writing_transaction_that_fails_leaves_the_queue_free(sqlite_app):
    db.session.rollback()
    def fail_halfway() -> None:
        with unit_of_work() as session:
            session.add(TrackingCounter(year=2012, last=1))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_halfway()
    assert not queue_taken_by_someone(sqlite_app)
    assert db.session.scalar(select(func.count()).select_from(TrackingCounter).where(TrackingCounter.year == 2012)) == 0


def test_a_submission_holds_the_queue_only_while_it_writes(sqlite_app, client, reporter):
    assert client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).status_code == 201
    assert not queue_taken_by_someone(sqlite_app)
    assert client.get("/api/v1/reports", headers=reporter.headers).status_code == 200
    assert not queue_taken_by_someone(sqlite_app)


def test_parallel_submissions_all_get_through_the_queue(sqlite_app, reporter):
    def submit(_: int) -> int:
        answer = sqlite_app.test_client().post("/api/v1/reports", json=report_body(), headers=reporter.headers)
        return answer.status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(submit, range(24)))
    assert statuses == [201] * 24
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Report)) == 24
    db.session.rollback()  # outside a request this read was serial: it held the queue itself
    assert not queue_taken_by_someone(sqlite_app)


def test_a_writer_that_cannot_join_the_queue_in_time_goes_on_without_it(tmp_path):
    queue = WriteQueue(str(tmp_path / "db-writer.lock"), timeout=0.05)
    other = os.open(tmp_path / "db-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process holds the queue and does not let go
        assert queue.acquire(object()) is False
    finally:
        os.close(other)
    first, second = object(), object()
    assert queue.acquire(first) is True
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(queue.acquire(second)))
    waiter.start()
    queue.release(second)  # not the holder: nothing happens
    queue.release(first)
    waiter.join(timeout=5)
    assert got == [True]
    queue.release(second)
