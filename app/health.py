"""Liveness and readiness probes.

``/readyz`` says which dependency is missing, in words fit for an operator and
free of secrets (no URL, host, user or driver message): the exception type only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.errors import DATABASE_UNAVAILABLE, DEFAULT_RETRY_AFTER, discard_session
from app.extensions import db

bp = Blueprint("health", __name__)
_DATABASE_DOWN: tuple[type[Exception], ...] = (SQLAlchemyError, *DATABASE_UNAVAILABLE)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process answers."""
    return {"status": "ok"}


def _unavailable(body: dict[str, Any]) -> ResponseReturnValue:
    discard_session()
    return {"status": "unavailable", **body}, 503, {"Retry-After": DEFAULT_RETRY_AFTER}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database answers, and the keyring opens the data keys stored in it."""
    dialect = db.engine.dialect.name
    try:
        db.session.execute(text("SELECT 1"))
    except _DATABASE_DOWN as exc:
        return _unavailable(
            {"database": "down", "detail": f"database ({dialect}) not reachable: {type(exc).__name__}"}
        )
    body: dict[str, Any] = {"database": "ok"}
    if "qzbg.vault" in current_app.extensions:
        from app.crypto.service import keyring_state

        state = keyring_state(current_app)
        body["keyring"] = state
        if state == "mismatch":
            return _unavailable({**body, "detail": "keyring does not open the data keys stored in the database"})
        if state == "unchecked":
            return _unavailable({**body, "detail": "keyring not yet checked against the database"})
    db.session.rollback()  # end the read (on SQLite it holds the write lock)
    return {"status": "ok", **body}
