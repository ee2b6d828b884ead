"""Column types shared by the models, and a condition spelled as partial indexes need it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ColumnElement, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which drops offsets) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Holds(ColumnElement[bool]):
    """A boolean column as a condition, spelled as the column alone on every backend (``WHERE training``).

    SQLAlchemy writes a bare boolean column as ``training = 1`` on SQLite, and SQLite uses a partial index only
    when the query repeats the index's WHERE term as spelled: ``ix_reports_training_submitted_at`` is partial on
    ``training``, so ``training = 1`` read the whole table. PostgreSQL reads both the same."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]
    _is_implicitly_boolean = True  # a condition already: not to be compared with 1
    type = Boolean()

    def __init__(self, column: Any) -> None:
        self.column = coercions.expect(roles.ExpressionElementRole, column)


@compiles(Holds)
def _compile_holds(element: Holds, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))
