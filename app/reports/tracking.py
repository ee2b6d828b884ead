"""Tracking numbers ``QZBG-<year>-<6-digit sequence>``, unique under concurrency.

The per-year counter row is incremented with ``UPDATE ... RETURNING``: PostgreSQL
holds the row lock until the submitting transaction commits, SQLite runs writers
one at a time (``BEGIN IMMEDIATE``), so two reports never share a number, and a
rolled-back submission never leaves a number that a stored report carries.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.reports.models import TrackingCounter

CST = dt.timezone(dt.timedelta(hours=8))


def next_tracking_no(now: dt.datetime) -> str:
    """Allocate the next number of ``now``'s year (China Standard Time) in the current transaction."""
    year = now.astimezone(CST).year
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(TrackingCounter).values(year=year, last=0).on_conflict_do_nothing())
    sequence = db.session.execute(
        update(TrackingCounter)
        .where(TrackingCounter.year == year)
        .values(last=TrackingCounter.last + 1)
        .returning(TrackingCounter.last)
    ).scalar_one()
    return f"QZBG-{year}-{sequence:06d}"
