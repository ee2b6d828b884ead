"""JSON-lines logging with a request id, and one access line per request.

Log records carry no request bodies, no query strings and no personal data:
only method, route pattern, status, timing and ids.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


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
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
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
                "method": request.method,
                # The route pattern, never the concrete path or query string.
                "route": request.url_rule.rule if request.url_rule else None,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )
        return response
