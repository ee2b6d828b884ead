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
    return _flock_taken(os.path.realpath(db.engine.url.database) + "-writer.lock")


def _flock_taken(path: str | os.PathLike[str]) -> bool:
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


def test_threads_that_first_write_at_once_in_a_new_process_all_get_their_turn(tmp_path, monkeypatch):
    """A fresh gunicorn worker's first writers arrive together. Each set up "this process's" lock file and
    mutex of its own, so one held an flock on a descriptor nobody would unlock: every writer after it, in
    every process, waited the full timeout (a login unanswered for 30 s, a bench submission timed out)."""
    import app.core.writequeue as writequeue

    real_open = os.open

    def slow_open(*args, **kwargs):  # the window between "new process?" and "set up" as wide as a busy host's
        threading.Event().wait(0.02)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(writequeue.os, "open", slow_open)
    queue = WriteQueue(str(tmp_path / "db-writer.lock"), timeout=1.0)
    start = threading.Barrier(6)
    holding, most, lock = 0, 0, threading.Lock()

    def first_write(_: int) -> bool:
        nonlocal holding, most
        connection = object()
        start.wait()
        joined = queue.acquire(connection)
        with lock:
            holding += 1
            most = max(most, holding)
        threading.Event().wait(0.005)
        with lock:
            holding -= 1
        queue.release(connection)
        return joined

    with ThreadPoolExecutor(max_workers=6) as pool:
        joined = list(pool.map(first_write, range(6)))
    assert joined == [True] * 6  # nobody timed out and went on without the queue
    assert most == 1  # one writer at a time
    monkeypatch.undo()
    assert not _flock_taken(tmp_path / "db-writer.lock")  # nothing left held once all are done


def test_a_forked_child_neither_inherits_the_parents_turn_nor_keeps_its_lock(tmp_path):
    """The parent holds the queue when it forks: the child waits for the parent's turn to end, then writes."""
    queue = WriteQueue(str(tmp_path / "db-writer.lock"), timeout=5.0)
    parent = object()
    assert queue.acquire(parent)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it joined the queue, then leave at once
        try:
            joined = queue.acquire(parent)  # the same object: still not the child's turn
            os.write(write, b"1" if joined else b"0")
            queue.release(parent)
        finally:
            os._exit(0)
    os.close(write)
    threading.Event().wait(0.2)
    assert _flock_taken(tmp_path / "db-writer.lock")  # the parent's turn still holds
    queue.release(parent)
    with os.fdopen(read, "rb") as fh:
        assert fh.read() == b"1"
    os.waitpid(pid, 0)
    assert not _flock_taken(tmp_path / "db-writer.lock")

