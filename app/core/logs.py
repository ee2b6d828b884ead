"""JSON-lines logging with our own request id, one access line per request, and security events.

Log records carry no request bodies, no query strings and no personal data:
only method, route pattern, status, timing, the client address, opaque ids
(our request id, the reporter's UUID) and, for errors, exception types and the
app's frames. A client's ``X-Request-ID`` is kept beside ours, sanitised, never
used as ours: a client must not be able to make its requests look like others.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from sqlalchemy import inspect

_CLIENT_REQUEST_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:/+=-]")
CLIENT_REQUEST_ID_MAX = 64
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
security_log = logging.getLogger("qzbg.security")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Exception type only: messages and locals can quote personal data.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id")
        except RuntimeError:  # outside a request or app context
            record.request_id = None
        return True


JsonFormatter.converter = time.gmtime  # type: ignore[assignment]


def sanitise_client_request_id(raw: str) -> str | None:
    """A client's request id fit to log: safe ASCII only, at most 64 characters; None when absent."""
    if not raw:
        return None
    cleaned = _CLIENT_REQUEST_ID_UNSAFE.sub("_", raw[: CLIENT_REQUEST_ID_MAX * 4])
    return cleaned[:CLIENT_REQUEST_ID_MAX]


def reporter_id() -> str | None:
    """The authenticated reporter's UUID, read from the identity map (no query, even after a rollback)."""
    reporter = g.get("reporter")
    if reporter is None:
        return None
    identity = inspect(reporter).identity
    return str(identity[0]) if identity else None


def request_context_fields() -> dict[str, Any]:
    """Who and where, for the access line and security events: address, route, reporter, client's id."""
    if not has_request_context():
        return {}
    return {
        "client_addr": request.remote_addr,
        "method": request.method,
        # The route pattern, never the concrete path or query string.
        "route": request.url_rule.rule if request.url_rule else None,
        "reporter_id": reporter_id(),
        "client_request_id": g.get("client_request_id"),
    }


def security_event(event: str, **fields: Any) -> None:
    """A warning on ``qzbg.security`` (``security.lookup_failed``, ``security.rate_limited``, ...):
    fixed event names and opaque fields only, never input or personal data."""
    security_log.warning(event, extra={**request_context_fields(), **fields})


def configure_logging(app: Flask, level: str) -> None:
    """Send the ``qzbg`` loggers to stderr as JSON lines; time every request."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("qzbg")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = True  # lets pytest's caplog see the records too
    # Flask's own logger (unhandled exceptions) writes full tracebacks with messages: route it through
    # the JSON formatter too, which keeps the exception type only.
    app.logger.handlers[:] = [handler]
    app.logger.propagate = False
    access = logging.getLogger("qzbg.access")

    @app.before_request
    def assign_request_id() -> None:
        g.request_id = uuid.uuid4().hex
        g.pop("reporter", None)  # set by the bearer check of this request only
        g.client_request_id = sanitise_client_request_id(request.headers.get("X-Request-ID", ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        started = g.get("request_started")
        access.info(
            "request",
            extra={
                **request_context_fields(),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )
        return response
