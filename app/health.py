"""Liveness and readiness probes.

``/readyz`` says which dependency is missing, in words fit for an operator and
free of secrets (no URL, host, user or driver message): the exception type only.
It also says whether a notify worker runs (``notify_worker``: ``ok``, ``down`` when
none has beaten for 2 minutes, with a ``detail``); that alone keeps the answer 200:
the app serves reports without the worker, and a load balancer must not take it out.
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
        from app.crypto.vault import get_vault

        state = keyring_state(current_app, get_vault())
        body["keyring"] = state
        if state == "mismatch":
            return _unavailable({**body, "detail": "keyring does not open the data keys stored in the database"})
        if state == "unchecked":
            return _unavailable({**body, "detail": "keyring not yet checked against the database"})
    body.update(_notify_worker())
    body["channels"] = _channels()
    db.session.rollback()  # end the read (on SQLite it holds the write lock)
    return {"status": "ok", **body}


def _channels() -> list[str]:
    """The notification channels whose settings are complete (and the sandbox): an operator sees at once that
    WeCom, e-mail or SMS is off. Names only, never a credential."""
    from app.notify.channels import configured_channels

    return configured_channels(current_app.config["QZBG"])


def _notify_worker() -> dict[str, Any]:
    from app.notify.heartbeat import worker_down

    try:
        down = worker_down()
    except SQLAlchemyError as exc:  # the table not there yet (migrations pending)
        db.session.rollback()
        return {"notify_worker": "unknown", "detail": f"notify worker state not readable: {type(exc).__name__}"}
    if down:
        return {"notify_worker": "down", "detail": "no notify worker has beaten for 2 minutes (通知服务未运行)"}
    return {"notify_worker": "ok"}
