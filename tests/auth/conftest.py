"""Staff fixtures: accounts of every role, and a client that logs in through the real pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import g
from flask.testing import FlaskClient

from app.extensions import db
from tests.factories import STAFF_PASSWORD, create_staff

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: FlaskClient, path: str) -> str:
    g.pop("csrf_token", None)  # the test's app context outlives requests: Flask-WTF caches the token on g
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no csrf_token on {path} ({page.status_code})"
    return match.group(1)


def totp_now(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * offset_steps))


def post(client: FlaskClient, path: str, data: dict[str, Any], *, form_page: str | None = None) -> Any:
    token = csrf_of(client, form_page or path)
    return client.post(path, data={"csrf_token": token, **data})


def login(client: FlaskClient, user: Any, *, password: str = STAFF_PASSWORD, next_url: str | None = None,
          step: int = 0) -> Any:
    """Both steps, as a browser does; returns the last answer. A code is accepted once: a second login of the
    same user within 30 seconds passes ``step=1`` (the next code, within the allowed skew)."""
    page = "/login" + (f"?next={next_url}" if next_url else "")
    first = post(client, "/login", {"username": user.username, "password": password,
                                    **({"next": next_url} if next_url else {})}, form_page=page)
    if first.status_code != 303 or first.headers["Location"] not in ("/login/otp",):
        return first
    secret = user.unseal("totp_secret_data")
    return post(client, "/login/otp", {"otp": totp_now(secret, step)})


@pytest.fixture
def staff(app) -> Callable[..., Any]:
    """Build and commit a staff account: ``staff(role="lead")``."""

    def build(**kwargs: Any) -> Any:
        user = create_staff(**kwargs)
        db.session.commit()
        return user

    return build


@pytest.fixture
def logged_in(app, staff) -> Callable[..., tuple[FlaskClient, Any]]:
    """A new client logged in as a new account of ``role``."""

    def make(role: str = "prosecutor", **kwargs: Any) -> tuple[FlaskClient, Any]:
        user = staff(role=role, **kwargs)
        client = app.test_client()
        answer = login(client, user)
        assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
        return client, user

    return make
