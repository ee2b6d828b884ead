"""The request class and the body limits: bodies over the limit are refused however they are sent, and upload parts
wait in an encrypted spool, never in clear in a temporary file."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from app.core.spool import EphemeralSpool

JSON_BODY_LIMIT = 1024 * 1024
# Endpoints that take file uploads, and how many files each may carry at most.
UPLOAD_ENDPOINTS = {"api_v1.upload_attachment": 1, "reports.report_form": 9, "admin.import_units": 1}


class _BodyLimit(LimitedStream):
    """A body without a declared length (chunked) read up to the limit: one byte more is a 413.

    Werkzeug's own stream stops reading at ``max_content_length`` and reports the
    end of the body, so a longer chunked body would be silently cut to the limit.
    """

    def on_exhausted(self) -> None:
        try:
            more = self._stream.read(1)
        except (OSError, ValueError) as exc:  # a broken chunk: the client's fault, as Werkzeug treats it
            self.on_disconnect(error=exc)
            return
        if more:
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class QzbgRequest(Request):
    """Bodies over the limit are refused however they are sent; upload parts wait in an encrypted spool,
    never in clear in a temporary file."""

    @cached_property
    def stream(self) -> Any:
        """As Werkzeug's, but a chunked body (the server terminates the input) over
        ``max_content_length`` is a 413 like a declared length, not cut to the limit."""
        if self.shallow:
            raise RuntimeError("This request was created with 'shallow=True': reading the body is disabled.")
        limit = self.max_content_length
        if limit is not None and self.content_length is None and "wsgi.input_terminated" in self.environ:
            return _BodyLimit(self.environ["wsgi.input"], limit, is_max=True)
        return get_input_stream(self.environ, max_content_length=limit)

    def _get_file_stream(self, *args: Any, **kwargs: Any) -> Any:
        spool = EphemeralSpool()
        self.__dict__.setdefault("_qzbg_spools", []).append(spool)
        return spool

    def close_spools(self) -> None:
        """Close every spool, also those of a request refused halfway through parsing."""
        for spool in self.__dict__.pop("_qzbg_spools", []):
            spool.close()



def register_body_limits(app: Flask, max_attachment_bytes: int) -> None:
    """The request class, the bigger body of the upload endpoints, and the spools closed after every request.
    Registered before CSRF and the limiter, which read the form."""
    app.request_class = QzbgRequest

    @app.before_request
    def set_body_limit() -> None:
        files = UPLOAD_ENDPOINTS.get(request.endpoint or "")
        if files:
            request.max_content_length = files * max_attachment_bytes + JSON_BODY_LIMIT

    @app.teardown_request
    def close_upload_spools(exc: BaseException | None) -> None:
        if isinstance(request, QzbgRequest):
            request.close_spools()
