"""The transaction boundary: one commit per user action, in one place.

Services only flush. A view is wrapped in ``transactional`` (outermost, just under
the route decorator), so its answer is rendered inside the transaction and the
commit comes once, after it; an exception or an error answer (status 400 and up)
rolls everything back, unless the view called ``keep_on_error()``. CLI commands and
the notify worker use ``unit_of_work``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import current_app, g
from sqlalchemy.orm import scoped_session

from app.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def transactional(view: F) -> F:
    """Commit the view's work once its answer is ready; roll back on an exception or an error answer."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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


@contextlib.contextmanager
def unit_of_work() -> Iterator[scoped_session[Any]]:
    """One transaction for a CLI command or a worker step: committed at the end, rolled back on error."""
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def keep_on_error() -> None:
    """Commit this request's work although its answer is an error (a failed login is counted and audited)."""
    g.qzbg_keep_on_error = True
