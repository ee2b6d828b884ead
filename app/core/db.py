"""The transaction boundary: one commit per user action, in one place.

Services only flush. A view is wrapped in ``transactional`` (outermost, just under
the route decorator), so its answer is rendered inside the transaction and the
commit comes once, after it; an exception or an error answer (status 400 and up)
rolls everything back, unless the view called ``keep_on_error()`` (a failed login is still
counted and audited). A bulk action commits each of its items on its own (``each_its_own``).
CLI commands and the notify worker use ``unit_of_work``.

Write intent (SQLite). SQLite has one writer at a time, and a deferred
transaction that has read cannot safely become a writer: once another writer has
committed past its snapshot, the upgrade fails at once (SQLITE_BUSY_SNAPSHOT,
"database is locked"), whatever the busy timeout. So each transaction is one of:

- ``read``: a plain (deferred) ``BEGIN``; WAL readers neither wait for a writer
  nor hold one up. Views outside ``transactional``, and ``transactional`` views
  answering GET, HEAD or OPTIONS.
- ``write``: a plain ``BEGIN`` too, but just before its first write or locking
  read (``SELECT ... FOR UPDATE``, which PostgreSQL would lock and SQLite cannot),
  the read-only part so far is committed and ``BEGIN IMMEDIATE`` takes the write
  lock, waiting on the busy timeout. Token look-ups, validation, sealing and other
  plain reads run beside other writers; only the writing part is serialised. The
  plain reads before the lock see a snapshot a moment older than the writes:
  never weaker than PostgreSQL's READ COMMITTED, which the code must be correct
  under anyway. ``transactional`` views answering anything else, or
  ``@transactional(writes=True)``.
- ``serial``: ``BEGIN IMMEDIATE`` at once, serialised from its first read:
  ``unit_of_work`` (CLI commands, the notify worker) and code outside requests.

PostgreSQL ignores the intent: its transactions take row locks as they go.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

from flask import current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from app.extensions import db

_M = TypeVar("_M")

F = TypeVar("F", bound=Callable[..., Any])
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
READ, WRITE, SERIAL = "read", "write", "serial"
_intent: contextvars.ContextVar[str | None] = contextvars.ContextVar("qzbg_write_intent", default=None)


def current_intent() -> str:
    """``read``, ``write`` or ``serial`` (see the module docstring) for the transaction here."""
    intent = _intent.get()
    if intent is not None:
        return intent
    return READ if has_request_context() else SERIAL


@contextlib.contextmanager
def intent(value: str) -> Iterator[None]:
    """Transactions begun (and first writes made) inside this block have this intent."""
    token = _intent.set(value)
    try:
        yield
    finally:
        _intent.reset(token)


def _transactional(view: F, writes: bool | None) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        writing = writes if writes is not None else request.method not in READ_METHODS
        with intent(WRITE if writing else READ):
            try:
                response = current_app.make_response(view(*args, **kwargs))
            except BaseException:
                db.session.rollback()
                raise
            if response.status_code >= 400 and not g.pop("qzbg_keep_on_error", False):
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
    with intent(SERIAL):
        try:
            yield db.session()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise


@contextlib.contextmanager
def each_its_own() -> Iterator[None]:
    """One item of a bulk action (several reports in one request) as a transaction of its own, inside a
    ``transactional`` view: the request's work so far is committed first, the block is committed when it ends and
    rolled back (the exception going on) when it fails. So one item's refusal leaves the others done, and each item
    is stored whole or not at all, as if it had been a request of its own."""
    db.session.commit()
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def keep_on_error() -> None:
    """Commit this request's work although its answer is an error (a failed login is counted and audited)."""
    g.qzbg_keep_on_error = True


def by_text_id(model: type[_M], value: str) -> _M | None:
    """The row of ``model`` whose UUID primary key a URL names, or None when the text is no UUID or no row has it
    (a page answers both as not found)."""
    try:
        key = uuid.UUID(value)
    except ValueError:
        return None
    return db.session.get(model, key)
