"""A staff account and its pages over HTTP, for the benches of staff pages (inbox, statistics).

The account is a prosecutor of the default office with TOTP set up; ``login`` goes through both login steps
as a browser does (CSRF token, then a TOTP code) and returns the session cookies; ``measure`` times GETs.
"""

from __future__ import annotations

import datetime as dt
import http.client
import re
import time
import urllib.parse

from bench.common import HOST, BenchError

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def create_prosecutor(username: str, password: str, display_name: str) -> str:
    """A prosecutor of the default office with TOTP enrolled (in the caller's app context): its TOTP secret.
    Committed."""
    from app.auth import service
    from app.crypto.vault import get_vault
    from app.extensions import db
    from app.offices import queries as offices

    now = dt.datetime.now(dt.UTC)
    user = service.create_user(
        service.NewUser(username=username, role="prosecutor", office=offices.default_office(),
                        display_name=display_name),
        password, actor=None, now=now, vault=get_vault(),
    )
    secret = service.enrolment_secret(user)
    user.totp_enrolled_at = now
    db.session.commit()
    return secret


def _cookies(response: http.client.HTTPResponse, jar: dict[str, str]) -> None:
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            pair = value.split(";", 1)[0]
            key, _, val = pair.partition("=")
            jar[key.strip()] = val.strip()


def request(port: int, method: str, path: str, jar: dict[str, str],
            form: dict[str, str] | None = None) -> tuple[int, str]:
    """One request on a connection of its own, with the jar's cookies (updated from the answer)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    _cookies(response, jar)
    conn.close()
    return response.status, text


def login(port: int, username: str, password: str, secret: str, step: int) -> dict[str, str]:
    """Both login steps over HTTP: the session cookies. ``step`` picks a TOTP window of its own for each login
    (a code is accepted once only)."""
    import pyotp

    jar: dict[str, str] = {}
    for path, form in (("/login", {"username": username, "password": password}), ("/login/otp", None)):
        status, page = request(port, "GET", path, jar)
        match = CSRF.search(page)
        if status != 200 or not match:
            raise BenchError(f"GET {path} answered {status} without a form")
        if form is None:
            at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30 * step)
            form = {"otp": pyotp.TOTP(secret).at(at)}
        status, page = request(port, "POST", path, jar, {"csrf_token": match.group(1), **form})
        if status != 303:
            raise BenchError(f"POST {path} answered {status}: {page[:200]!r}")
    return jar


def measure(port: int, jar: dict[str, str], path: str, requests: int) -> tuple[list[float], int]:
    """``requests`` GETs of ``path`` after a warm-up, one at a time: sorted latencies (ms) and the number of
    report rows on the last page."""
    latencies = []
    rows = 0
    warm = max(5, requests // 10)
    for i in range(warm + requests):
        started = time.perf_counter()
        status, page = request(port, "GET", path, jar)
        elapsed = time.perf_counter() - started
        if status != 200:
            raise BenchError(f"GET {path} answered {status}: {page[:300]!r}")
        if i >= warm:
            latencies.append(elapsed * 1000)
        rows = page.count("data-report-id=")
    return sorted(latencies), rows
