"""SQLite as the single-file backend: WAL, foreign keys, a busy timeout, and the write lock taken only where a
transaction writes (the intents of app/core/db.py), so that writers queue instead of failing and reads never
wait for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text


def configure_sqlite(engine: Any) -> None:
    """WAL, foreign keys, a busy timeout; the write lock taken only where a transaction writes, so that
    writers queue instead of failing and reads never wait for it (intents: see app/core/db.py)."""
    from app.core.db import READ, SERIAL, current_intent
    from app.core.writequeue import queue_for

    database = engine.url.database
    queue = queue_for(database, SQLITE_BUSY_TIMEOUT) if database and database != ":memory:" else None

    def raw(connection: Any) -> Any:
        return getattr(connection, "dbapi_connection", connection)

    def begin_immediate(dbapi_connection: Any, run: Callable[[str], Any]) -> None:
        """BEGIN IMMEDIATE, after waiting for this connection's turn among the queued writers."""
        if queue is not None:
            queue.acquire(raw(dbapi_connection))
        try:
            run("BEGIN IMMEDIATE")
        except BaseException:
            if queue is not None:
                queue.release(raw(dbapi_connection))
            raise

    if queue is not None:
        # The queue is released once the transaction is over: after the COMMIT or ROLLBACK itself.
        dialect = engine.dialect
        base_commit, base_rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                base_commit(dbapi_connection)
            finally:
                queue.release(raw(dbapi_connection))

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                base_rollback(dbapi_connection)
            finally:
                queue.release(raw(dbapi_connection))

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

        @event.listens_for(engine, "close")
        @event.listens_for(engine, "close_detached")
        def on_close(dbapi_connection: Any, *_: Any) -> None:
            queue.release(raw(dbapi_connection))

        @event.listens_for(engine, "invalidate")
        def on_invalidate(dbapi_connection: Any, *_: Any) -> None:
            if dbapi_connection is not None:
                queue.release(raw(dbapi_connection))

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        serial = current_intent() == SERIAL
        if serial:
            begin_immediate(connection.connection.dbapi_connection, connection.exec_driver_sql)
        else:
            connection.exec_driver_sql("BEGIN")
        connection.info[_SQLITE_DEFERRED] = not serial

    @event.listens_for(engine, "before_cursor_execute")
    def lock_before_first_write(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if not connection.info.get(_SQLITE_DEFERRED) or not _writes_or_locks(statement, context):
            return
        connection.info[_SQLITE_DEFERRED] = False
        if current_intent() != READ:
            # Nothing written yet: end the read snapshot and wait for the write lock.
            cursor.execute("COMMIT")
            begin_immediate(cursor.connection, cursor.execute)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def on_end(connection: Any) -> None:
        connection.info.pop(_SQLITE_DEFERRED, None)


_SQLITE_DEFERRED = "qzbg.sqlite_deferred"
SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for the write lock (the queue, then SQLite's busy handler)
# A savepoint opens a nested write: the lock comes before it, never inside it. ANALYZE writes its statistics.
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "ANALYZE")
# Rows ANALYZE samples per index: the statistics stay approximate and the job's write lock short however long the
# history (SQLite's own advice for long-running applications).
ANALYSIS_LIMIT = 1000


def refresh_statistics(now: Any) -> bool:
    """The planner's statistics refreshed (a scheduled job; SQLite only, PostgreSQL's autovacuum keeps its own).

    Without statistics SQLite takes any index on ``office_id`` alike and never prefers a partial one: the inbox's
    open reports and the training queue were read along an index of the office's whole history. With them it reads
    the partial indexes (tests/review/test_partial_index_plans.py). Returns whether it ran."""
    from app.extensions import db

    if db.session.get_bind().dialect.name != "sqlite":
        return False
    db.session.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
    db.session.execute(text("ANALYZE"))
    return True


def _writes_or_locks(statement: str, context: Any) -> bool:
    """A write, or a read PostgreSQL would lock (FOR UPDATE, dropped from SQLite's SQL but kept on the query)."""
    if statement.lstrip()[:9].upper().startswith(_WRITE_VERBS):
        return True
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


