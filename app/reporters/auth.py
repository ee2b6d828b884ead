"""``Authorization: Bearer`` for the JSON API."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from app.errors import UnauthorizedError
from app.reporters.models import Reporter
from app.reporters.service import authenticate

F = TypeVar("F", bound=Callable[..., Any])


def current_reporter() -> Reporter:
    reporter: Reporter = g.reporter
    return reporter


def current_token() -> str:
    """The bearer token of this request (after ``reporter_required``)."""
    token: str = g.bearer_token
    return token


def reporter_required(view: F) -> F:
    """Resolve the bearer token to ``g.reporter`` (and keep it as ``g.bearer_token``) before the view runs."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError("请先登录后再操作")
        g.reporter = authenticate(token.strip(), now=dt.datetime.now(dt.UTC))
        g.bearer_token = token.strip()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
