"""Refuse, before any view or query, request text no form or query parameter may carry.

NUL (U+0000) cannot be stored in a PostgreSQL text value (psycopg refuses it with
a DataError, a 500 before this guard) and no field of ours accepts it. The HTML
pages read ``request.form`` and ``request.args`` themselves, so there a NUL in
the query string or the form (names, values, upload file names) is a 400 at the
door, on every backend alike. The JSON API reads its query strings and bodies
only through marshmallow schemas, which clean control characters out of texts
(a documented rule: ``?q=%00`` is no filter, not an error). In any path nothing
can be found under a name with a NUL: 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, request
from werkzeug.datastructures import FileStorage, MultiDict

from app.errors import BadRequestError, NotFoundError

MESSAGE = "请求中含有无效字符，请检查后重新提交"


def _has_nul(texts: Iterable[str | None]) -> bool:
    return any(text and "\x00" in text for text in texts)


def _pairs(multidict: MultiDict[str, Any]) -> Iterator[str | None]:
    for key, value in multidict.items(multi=True):
        yield key
        yield value.filename if isinstance(value, FileStorage) else value


def request_has_nul() -> bool:
    """Every name and value of an HTML page's query string and form, repeated ones included.

    CSRF protection has parsed the form already; the API's bodies (an attachment upload too) are
    parsed after the bearer check, by their schemas, never here."""
    if request.path.startswith("/api/"):
        return False
    if _has_nul(_pairs(request.args)):
        return True
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _has_nul(_pairs(request.form)) or _has_nul(_pairs(request.files))
    return False


def register_input_guard(app: Flask) -> None:
    """Runs after the body limits are set (reading the form parses the body)."""

    @app.before_request
    def refuse_nul() -> None:
        if "\x00" in request.path:
            raise NotFoundError()
        if request_has_nul():
            raise BadRequestError(MESSAGE)
