"""The transaction boundary: one commit per user action, in one place.

Services only flush. A view is wrapped in ``transactional`` (outermost, just under
the route decorator), so its answer is rendered inside the transaction and the
commit comes once, after it; an exception or an error answer (status 400 and up)
rolls everything back. CLI commands and the notify worker use ``unit_of_work``.

Write intent (SQLite): a transaction that will write starts with ``BEGIN
IMMEDIATE``, taking the write lock at its first statement, so writers queue on the
busy timeout instead of failing. Every other transaction starts with a plain
(deferred) ``BEGIN`` and takes no lock: WAL readers neither wait for a writer nor
hold one up. A deferred transaction must not write after it has read: SQLite
cannot upgrade a read snapshot that another writer has moved past
(SQLITE_BUSY_SNAPSHOT, "database is locked", at once, whatever the busy timeout).
So the intent is decided before the transaction begins:

- ``transactional`` views write unless the request is GET, HEAD or OPTIONS;
  ``@transactional(writes=True)`` for a GET that writes;
- ``unit_of_work`` and code outside any request (CLI, worker, shell) write;
- other views (reads, never under ``transactional``) do not.

PostgreSQL ignores the intent: its transactions take row locks as they go.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

from flask import current_app, has_request_context, request
from sqlalchemy.orm import Session

from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_write_intent: contextvars.ContextVar[bool | None] = contextvars.ContextVar("qzbg_write_intent", default=None)


def writes_expected() -> bool:
    """Whether the transaction about to begin will write (SQLite: BEGIN IMMEDIATE rather than BEGIN)."""
    intent = _write_intent.get()
    if intent is not None:
        return intent
    return not has_request_context()


@contextlib.contextmanager
def write_intent(writes: bool) -> Iterator[None]:
    """Transactions begun inside this block are (or are not) write transactions."""
    token = _write_intent.set(writes)
    try:
        yield
    finally:
        _write_intent.reset(token)


def _end_read_before_write() -> None:
    """A read begun before a writing view (a before_request hook) would have to upgrade: end it first."""
    session = db.session()
    if session.in_transaction() and not (session.new or session.dirty or session.deleted) and (
        session.get_bind().dialect.name == "sqlite"
    ):
        session.rollback()


def _transactional(view: F, writes: bool | None) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        intent = writes if writes is not None else request.method not in READ_METHODS
        with write_intent(intent):
            if intent:
                _end_read_before_write()
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except BaseException:
                db.session.rollback()
                raise
            if response.status_code >= 400:
                db.session.rollback()
            else:
                try:
                    db.session.commit()
                except BaseException:
                    db.session.rollback()
                    raise
            return response

    return wrapper  # type: ignore[return-value]


@overload
def transactional(view: F, /) -> F: ...
@overload
def transactional(*, writes: bool | None = None) -> Callable[[F], F]: ...


def transactional(view: F | None = None, /, *, writes: bool | None = None) -> F | Callable[[F], F]:
    """Commit the view's work once its answer is ready; roll back on an exception or an error answer.

    ``@transactional`` or ``@transactional(writes=True)`` (a GET that writes); see the module docstring.
    """
    if view is not None:
        return _transactional(view, writes)
    return lambda inner: _transactional(inner, writes)


@contextlib.contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for a CLI command or a worker step: committed at the end, rolled back on error."""
    with write_intent(True):
        try:
            yield db.session()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
