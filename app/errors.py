"""The error hierarchy, and how an error renders (the handlers are app/core/errorhandlers.py).

Services raise ``AppError`` subclasses. Under ``/api/`` every error, Flask's own
404/405/413 included, becomes the JSON envelope of CONTRACT.md; elsewhere a
zh-CN HTML page. A database that cannot be reached (down, a cut connection, a
SQLite file that cannot be opened) is a 503 ``service_unavailable`` with
``Retry-After``, never a 500, and the session is discarded so the next request
starts on a fresh connection. In tests unexpected exceptions propagate
(PROPAGATE_EXCEPTIONS) instead of being hidden behind a 500 page.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from typing import Any

import psycopg
from flask import current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import exc as sa_exc

from app.extensions import db, limiter

log = logging.getLogger("qzbg.errors")


class AppError(Exception):
    """An error a user can act on: a code, a status and a zh-CN message."""

    code = "bad_request"
    status = 400
    message = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields
        self.headers = headers or {}


class BadRequestError(AppError):
    code, status, message = "bad_request", 400, "请求格式有误，请检查后重试"


class UnsupportedMediaTypeError(AppError):
    code, status, message = "unsupported_media_type", 415, "请求内容类型不受支持，请以 application/json 提交"


class ValidationError(AppError):
    code, status, message = "validation_error", 422, "提交内容有误，请检查标记的项目"


class UnauthorizedError(AppError):
    code, status, message = "unauthorized", 401, "请先登录后再操作"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers.setdefault("WWW-Authenticate", "Bearer")  # every 401 (RFC 9110 section 15.5.2)


class ForbiddenError(AppError):
    code, status, message = "forbidden", 403, "您没有权限进行此操作"


class NotFoundError(AppError):
    code, status, message = "not_found", 404, "找不到请求的内容，请检查链接是否正确"


class ConflictError(AppError):
    code, status, message = "conflict", 409, "内容已被修改，请刷新后重试"


class PayloadTooLargeError(AppError):
    code, status, message = "payload_too_large", 413, "提交的内容过大，请压缩或分开提交"


class RateLimitedError(AppError):
    code, status, message = "rate_limited", 429, "操作过于频繁，请稍后再试"


class UpstreamUnavailableError(AppError):
    code, status, message = "upstream_unavailable", 503, "服务暂时不可用，请稍后再试"


class ServiceUnavailableError(AppError):
    """Our own database or storage cannot take the request now (full, read-only, down): try again later."""

    code, status, message = "service_unavailable", 503, "服务暂时不可用，请稍后再试"

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, fields=fields, headers={"Retry-After": "30", **(headers or {})})


class InternalError(AppError):
    code, status, message = "internal_error", 500, "系统内部错误，请稍后再试；如持续出现请联系管理员"


# Flask/Werkzeug's own errors, mapped by status.
HTTP_TO_APP: dict[int, type[AppError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: ValidationError,
    429: RateLimitedError,
    503: UpstreamUnavailableError,
}


class MethodNotAllowedError(AppError):
    code, status, message = "method_not_allowed", 405, "不支持该请求方法"


HTTP_TO_APP[405] = MethodNotAllowedError

# Our own database out of reach: the server is down or restarting, a connection was cut, the pool is
# exhausted, or a SQLite file cannot be opened or read ("unable to open database file", "disk I/O error").
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)
RETRY_AFTER_STATUSES = (429, 503)
DEFAULT_RETRY_AFTER = "30"


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict -> {"victim.age": ["..."]}; a section's own error is keyed by the section."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            # {"victim": {"_schema": [...]}} (victim is not an object) is keyed "victim".
            path = prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            for sub, texts in flatten_messages(value, path).items():
                flat.setdefault(sub, []).extend(texts)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_schema"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for key, value in flatten_messages(item, prefix).items():
                flat.setdefault(key, []).extend(value)
    else:
        flat[prefix or "_schema"] = [str(messages)]
    return flat


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def safe_path(path: str, limit: int = 80) -> str:
    """A field path fit to echo: an unknown field's name is the client's text (lone surrogates,
    control characters, any length)."""
    text = path.encode("utf-8", "backslashreplace").decode("utf-8")
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


def render_error(error: AppError) -> ResponseReturnValue:
    request_id = g.get("request_id", "")
    if error.status in RETRY_AFTER_STATUSES:
        error.headers.setdefault("Retry-After", DEFAULT_RETRY_AFTER)
    if wants_json():
        body: dict[str, Any] = {"code": error.code, "message": error.message, "request_id": request_id}
        if error.fields:
            body["fields"] = {safe_path(path): messages for path, messages in error.fields.items()}
        return {"error": body}, error.status, error.headers
    if error.status in (403, 404) and request.path.startswith(STAFF_PATHS):
        staff_page = _staff_error_page(error, request_id)
        if staff_page is not None:
            return staff_page, error.status, error.headers
    html = render_template("error.html", error=error, request_id=request_id)
    return html, error.status, error.headers


# The staff side's paths: a refusal or an absence there is shown in the staff layout, with a link to the user's
# own first page instead of the public report form.
STAFF_PATHS = ("/review", "/admin", "/account", "/unit", "/training", "/setup", "/login", "/logout")
STAFF_ERROR_PAGE = "qzbg.staff_error_page"


def _staff_error_page(error: AppError, request_id: str) -> str | None:
    """The staff side's page for ``error`` (``app.auth.templating`` registers it on the app: plumbing does not
    import the features); None when there is none or it failed (the staff layout reads the session's user from
    the database), and the plain page follows."""
    render = current_app.extensions.get(STAFF_ERROR_PAGE)
    if render is None:
        return None
    try:
        return str(render(error, request_id))
    except Exception:  # noqa: BLE001 - an error page must not fail; the plain one follows
        log.warning("staff_error_page_failed")
        return None


def discard_session() -> None:
    """Roll back and drop the request's session: its connection may be dead, and the next use must
    check out a fresh one (the pool pre-pings) instead of failing on a half-finished transaction."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection can fail its rollback too; remove() still runs
        log.debug("rollback_failed")
    db.session.remove()


def seconds_until_reset() -> int:
    """Retry-After of a 429: until the latest window among the limits this request exhausted resets."""
    limits = [limiter.current_limit, *limiter.current_limits]
    # window = (reset time, remaining); RequestLimit.reset_at would add a second of rounding.
    resets = [lim.window[0] for lim in limits if lim is not None and (lim.breached or lim.window[1] <= 0)]
    if not resets:
        return 60
    return max(1, math.ceil(max(resets) - time.time()))
