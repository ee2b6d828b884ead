"""Where every error becomes a response: the handlers of ``app.errors``' hierarchy, Flask's own errors, CSRF
failures, 429s and an unreachable database, registered on the app in one place."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from flask import Flask
from flask.typing import ResponseReturnValue
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.core.logs import security_event
from app.errors import (
    DATABASE_UNAVAILABLE,
    HTTP_TO_APP,
    AppError,
    BadRequestError,
    InternalError,
    RateLimitedError,
    ServiceUnavailableError,
    ValidationError,
    discard_session,
    flatten_messages,
    render_error,
    seconds_until_reset,
)

log = logging.getLogger("qzbg.errors")
_APP_ROOT = Path(__file__).resolve().parent.parent


def _from_http(exc: HTTPException) -> AppError:
    status = exc.code or 500
    cls = HTTP_TO_APP.get(status)
    if cls is None:
        return InternalError() if status >= 500 else BadRequestError()
    if isinstance(exc, RateLimitExceeded):
        return RateLimitedError()
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages is not None:
        # webargs puts the schema errors under the location ("json", "form", ...).
        locations = ("json", "form", "query", "files")
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in locations:
            messages = next(iter(messages.values()))
        return ValidationError(fields=flatten_messages(messages))
    if status == 400 and messages is not None:
        return BadRequestError("请求内容不是有效的 JSON，请检查后重试")
    return cls()


def app_frames(tb: Any) -> list[str]:
    """``app/...py:line function`` for the frames of our own code: where in the app it went wrong."""
    frames = []
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename).resolve()
        if path.is_relative_to(_APP_ROOT):
            frames.append(f"{path.relative_to(_APP_ROOT.parent)}:{frame.lineno} {frame.name}")
    return frames


def _raised_at(tb: Any) -> str | None:
    """The innermost frame (often a library's), shortened to the package path."""
    frames = traceback.extract_tb(tb)
    if not frames:
        return None
    last = frames[-1]
    name = last.filename.split("site-packages/")[-1] if "site-packages/" in last.filename else Path(last.filename).name
    return f"{name}:{last.lineno} {last.name}"


def register_error_handlers(app: Flask) -> None:
    """Map every error to the envelope or the error page, in one place."""

    @app.errorhandler(AppError)
    def handle_app_error(error: AppError) -> ResponseReturnValue:
        if error.status >= 500:
            log.error("app_error", extra={"error_code": error.code})
        return render_error(error)

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError) -> ResponseReturnValue:
        # Flask-WTF's description is its own fixed English sentence ("The CSRF token is missing."), never input.
        security_event("security.csrf_failed", reason=error.description)
        return render_error(BadRequestError("页面已过期或来源无效，请刷新页面后重新提交"))

    def handle_database_unavailable(error: Exception) -> ResponseReturnValue:
        discard_session()
        # The type and where, never the message: it can name hosts, users or quote parameters.
        log.error(
            "database_unavailable",
            extra={"exception": type(error).__name__, "frames": app_frames(error.__traceback__)},
        )
        return render_error(ServiceUnavailableError())

    for exc_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(exc_class, handle_database_unavailable)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException) -> ResponseReturnValue:
        app_error = _from_http(error)
        if isinstance(error, RateLimitExceeded):
            app_error.headers["Retry-After"] = str(seconds_until_reset())
            security_event("security.rate_limited", limit=str(error.limit.limit))
        elif error.code == 429:
            retry = error.get_response().headers.get("Retry-After")
            app_error.headers.setdefault("Retry-After", retry or "60")
        valid_methods = getattr(error, "valid_methods", None)
        if error.code == 405 and valid_methods:
            app_error.headers["Allow"] = ", ".join(valid_methods)
        return render_error(app_error)

    @app.errorhandler(500)
    def handle_internal_error(error: Exception) -> ResponseReturnValue:
        original = getattr(error, "original_exception", None) or error
        if isinstance(original, DATABASE_UNAVAILABLE):
            return handle_database_unavailable(original)
        discard_session()
        # The type and where it was raised in our code, never the message: messages can quote data.
        log.error(
            "unhandled_exception",
            extra={
                "exception": type(original).__name__,
                "frames": app_frames(original.__traceback__),
                "raised_at": _raised_at(original.__traceback__),
            },
        )
        return render_error(InternalError())
