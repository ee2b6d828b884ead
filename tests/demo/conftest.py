"""A training deployment's app, its seeded demo data, and its demo accounts logging in through the real pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from app.demo import reset, snapshot

ACCOUNT = re.compile(r"^demo account: (\S+) (\S+) ([A-Z2-7]{32}|-) (\S+)$")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def training_app(make_app: Any) -> Iterator[Flask]:
    """The app with ``QZBG_TRAINING=1``; the snapshot and the reset's progress file (in the instance directory
    every test of this backend shares) are removed afterwards."""
    application = make_app(training=True)
    yield application
    settings = application.config["QZBG"]
    for leftover in (snapshot.path(settings), reset.status_path(settings)):
        leftover.unlink(missing_ok=True)


def demo_lines(output: str) -> dict[str, tuple[str, str, str]]:
    """username -> (password, TOTP secret or -, role) of every ``demo account:`` line."""
    return {match[1]: (match[2], match[3], match[4]) for match in map(ACCOUNT.match, output.splitlines()) if match}


@pytest.fixture
def seeded(training_app: Flask) -> dict[str, tuple[str, str, str]]:
    """``flask demo seed`` with a few reports; the accounts it printed."""
    result = training_app.test_cli_runner().invoke(args=["demo", "seed", "--reports", "8"])
    assert result.exit_code == 0, result.output
    return demo_lines(result.output)


def csrf(client: FlaskClient, path: str) -> str:
    g.pop("csrf_token", None)  # the test's app context outlives requests: Flask-WTF caches the token on g
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


@dataclasses.dataclass
class Desk:
    """A browser logged in as one demo account, with the credentials ``make demo`` printed."""

    client: FlaskClient
    username: str
    password: str
    secret: str

    def code(self, offset: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * offset))

    def log_in(self, *, next_url: str | None = None, offset: int = 0) -> Any:
        """Both login steps; a code is accepted once, so a second login of the account passes ``offset=1``."""
        page = "/login" + (f"?next={next_url}" if next_url else "")
        first = self.client.post("/login", data={"csrf_token": csrf(self.client, page), "username": self.username,
                                                 "password": self.password, **({"next": next_url} if next_url else {})})
        if self.secret == "-":  # a role without a second factor: logged in already
            return first
        assert (first.status_code, first.headers.get("Location")) == (303, "/login/otp"), first.status_code
        return self.client.post("/login/otp", data={"csrf_token": csrf(self.client, "/login/otp"),
                                                    "otp": self.code(offset)})

    def post(self, path: str, data: dict[str, str] | None = None, *, form_page: str) -> Any:
        return self.client.post(path, data={"csrf_token": csrf(self.client, form_page), **(data or {})})


@pytest.fixture
def desk(training_app: Flask, seeded: dict[str, tuple[str, str, str]]) -> Any:
    """``desk("demo.trainer")``: a new browser logged in as that demo account."""

    def make(username: str) -> Desk:
        password, secret, _role = seeded[username]
        person = Desk(training_app.test_client(), username, password, secret)
        assert person.log_in().status_code == 303
        return person

    return make
