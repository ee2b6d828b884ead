"""The keys on an app: the start-up check that the keyring opens the stored data keys, and the request hook that
fails closed until it is known to."""

from __future__ import annotations

import logging

from flask import Flask, request
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.crypto.service import VERIFIED, keyring_state, verify
from app.crypto.vault import get_vault
from app.errors import ServiceUnavailableError, UpstreamUnavailableError
from app.extensions import db

log = logging.getLogger("qzbg.crypto")


def check_keyring_matches_database(app: Flask) -> None:
    """Start-up check: a keyring that cannot unwrap the stored data keys stops the app.

    When the database cannot be asked (down, or no tables before ``db upgrade``) the
    check is left to the first request (``require_verified_keyring``).
    """
    with app.app_context():
        try:
            verify(get_vault())
            app.extensions[VERIFIED] = True
        except (OperationalError, ProgrammingError):
            pass
        finally:
            # gunicorn forks workers after this (preload_app): none may inherit this connection.
            db.session.remove()
            db.engine.dispose()


def register_keyring_check(app: Flask) -> None:
    """Fail closed: until the keyring is known to open the stored data keys, requests that could
    read or write personal data get a 503 instead of being served under a wrong keyring. While the
    database cannot be asked that is a 503 too (``service_unavailable``, as for any database outage)."""

    @app.before_request
    def require_verified_keyring() -> None:
        # /readyz runs the same check itself, to say which part is missing.
        if request.endpoint in ("health.healthz", "health.readyz", "static"):
            return
        state = keyring_state(app, get_vault())
        if state == "mismatch":
            log.error("keyring_mismatch")
            message = "系统密钥配置异常，暂时无法处理，请联系管理员"
            raise UpstreamUnavailableError(message, headers={"Retry-After": "60"})
        if state == "unchecked":
            log.error("keyring_unchecked_database_unavailable")
            raise ServiceUnavailableError()
