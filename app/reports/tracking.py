"""Tracking numbers ``QZBG-<year>-<6-digit sequence>``: unique, increasing, never reused; gaps allowed.

The year is China Standard Time's. The per-year counter row is advanced with one
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (the year's row is created by
its first number).

PostgreSQL: the number is taken on a connection of its own, in a one-statement
autocommit transaction, so the counter row is locked only for that statement and
submissions never queue behind each other's COMMIT. A submission that then rolls
back leaves a gap (its number is not handed out again). That connection commits
with ``synchronous_commit off``, saving a WAL flush per number: the new value is
visible to the next allocation at once, and it is durable before any report
carrying it is, because the report's own (synchronous) COMMIT comes later in the
write-ahead log and flushing it flushes the counter too. A database crash can
only make the counter forget numbers that no stored report carries and nobody was
shown (answers go out after COMMIT), so no stored number is ever given twice.
The counter engine has a small pool of its own (a request never waits for a
second connection of the main pool while holding one) and no pre-ping: a dropped
connection is retried once on a fresh one.

SQLite: writers run one at a time (the write lock is taken before a writing
transaction's first write, which this is; see ``app/core/db.py``), so the number
is taken in the submitting transaction and a rolled-back submission leaves no gap.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.reports.models import TrackingCounter

CST = dt.timezone(dt.timedelta(hours=8))
# The counter engine of each main engine (one per process in production; the suite's apps share theirs).
_COUNTER_ENGINES: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_COUNTER_ENGINES_LOCK = threading.Lock()


def tracking_year(now: dt.datetime) -> int:
    return now.astimezone(CST).year


def _advance(year: int, dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(TrackingCounter).values(year=year, last=1)
    return stmt.on_conflict_do_update(
        index_elements=[TrackingCounter.year], set_={"last": TrackingCounter.last + 1}
    ).returning(TrackingCounter.last)


def counter_engine() -> Engine:
    """The PostgreSQL engine numbers are taken on (autocommit, its own pool), made once per main engine."""
    main = db.engine
    engine = _COUNTER_ENGINES.get(main)
    if engine is not None:
        return engine
    with _COUNTER_ENGINES_LOCK:  # two first submissions at once make one engine, not two
        engine = _COUNTER_ENGINES.get(main)
        if engine is None:
            engine = _make_counter_engine(main)
            _COUNTER_ENGINES[main] = engine
    return engine


def _make_counter_engine(main: Engine) -> Engine:
    engine = create_engine(
        main.url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=8, pool_timeout=10,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def asynchronous_commit(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")

    @event.listens_for(main, "engine_disposed")
    def dispose_with_main(disposed: Engine) -> None:
        engine.dispose()

    return engine


def _take_on_own_connection(year: int) -> int:
    stmt = _advance(year, "postgresql")
    for attempt in (1, 2):
        try:
            with counter_engine().connect() as conn:
                return int(conn.execute(stmt).scalar_one())
        except DBAPIError as exc:
            # A connection dropped by a database restart: once more on a fresh one (a gap at most).
            if attempt == 2 or not exc.connection_invalidated:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def next_tracking_no(now: dt.datetime) -> str:
    """Allocate the next number of ``now``'s year (China Standard Time)."""
    year = tracking_year(now)
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        sequence = _take_on_own_connection(year)
    else:
        sequence = int(db.session.execute(_advance(year, dialect)).scalar_one())
    return f"QZBG-{year}-{sequence:06d}"
