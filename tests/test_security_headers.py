"""Every answer carries the security headers: pages, the poster, PNGs, static files, the JSON API, errors."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from app.core.headers import CONTENT_SECURITY_POLICY

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
SAMPLES = {"filename": "site.css", "report_id": str(uuid.uuid4()), "scene": "hosp-001", "key": "B" * 24,
           "code": "hosp-001", "username": "nobody", "attachment_id": str(uuid.uuid4()),
           "transfer_id": str(uuid.uuid4()), "unit_id": "1", "liaison_id": str(uuid.uuid4()),
           "token": "no-such-setup-link", "case_id": str(uuid.uuid4()), "unit_code": "hosp-001",
           "export_id": str(uuid.uuid4())}
TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def assert_security_headers(response, *, hsts: bool = False) -> None:
    where = f"{response.request.method} {response.request.path} -> {response.status_code}"
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (where, name)
    assert ("Strict-Transport-Security" in response.headers) is hsts, where
    assert "Retry-After" not in response.headers or response.status_code in (429, 503), where


def get_urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:\w+(?:\([^)]*\))?:)?{name}>", SAMPLES[name], path)
        urls.append(path)
    return urls


def test_the_policy_forbids_inline_script_and_style_and_framing():
    directives = dict(d.strip().split(" ", 1) for d in CONTENT_SECURITY_POLICY.split(";"))
    assert directives == {
        "default-src": "'self'", "img-src": "'self' data:", "form-action": "'self'",
        "frame-ancestors": "'none'", "base-uri": "'none'", "object-src": "'none'",
    }
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_every_get_route_answers_with_the_security_headers(app, unit, reporter):
    client = app.test_client()
    urls = get_urls(app)
    assert len(urls) >= 15
    statuses = set()
    for url in urls:
        response = client.get(url, headers=reporter.headers)
        assert response.status_code != 500, url
        statuses.add(response.status_code)
        assert_security_headers(response)
        response.close()  # static files are streamed
    assert {200, 404} <= statuses  # pages, the poster, PNGs, and errors (an unknown report) alike


def test_error_pages_and_envelopes_carry_the_security_headers(app):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    client = app.test_client()
    answers = [
        client.get("/nothing-here"), client.get("/api/v1/nothing-here"), client.get("/units/unknown/poster"),
        client.delete("/api/v1/categories"), client.post("/report/status", data={}), client.get("/_boom"),
        client.post("/api/v1/reports", json={}),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404, 405, 400, 500, 401]
    for answer in answers:
        assert_security_headers(answer)


def test_hsts_is_sent_only_when_the_public_url_is_https(make_app):
    plain = make_app()
    secure = make_app(public_url="https://qzbg.example.cn")
    assert_security_headers(plain.test_client().get("/healthz"))
    with secure.app_context():
        answers = [secure.test_client().get(path) for path in ("/healthz", "/report", "/nothing-here")]
    for answer in answers:
        assert_security_headers(answer, hsts=True)
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_report_pages_stay_no_store_and_the_poster_does_not(client, unit):
    assert client.get("/report").headers["Cache-Control"] == "no-store"
    assert client.get("/report/status").headers["Cache-Control"] == "no-store"
    assert client.get("/units/hosp-001/poster").headers.get("Cache-Control") != "no-store"


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_no_template_has_inline_script_or_style(template):
    text = (TEMPLATES / template).read_text()
    assert "<style" not in text
    assert not re.search(r"\sstyle=", text)
    assert not re.search(r"<script(?![^>]*\ssrc=)", text)
    assert not re.search(r"\son[a-z]+=", text)
    assert "javascript:" not in text


STATIC = TEMPLATES.parent / "static"


@pytest.mark.parametrize("path", sorted([*TEMPLATES.rglob("*.html"), *STATIC.glob("*.css"), *STATIC.glob("*.js")]),
                         ids=lambda p: p.name)
def test_no_template_or_asset_loads_anything_from_another_host(path):
    """No CDN: every script, stylesheet, font and image comes from our own static files (or a data: URI)."""
    text = path.read_text()
    assert not re.search(r"""\s(?:src|href|action)=["']?(?:[a-z][a-z0-9+.-]*:)?//""", text, re.I)
    assert not re.search(r"""(?:@import|url\()\s*["']?(?:[a-z][a-z0-9+.-]*:)?//""", text, re.I)


def test_the_poster_takes_its_style_from_a_static_file(client, unit):
    page = client.get("/units/hosp-001/poster")
    assert page.status_code == 200
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.get_data(as_text=True)).group(1)
    css = client.get(href)
    assert css.status_code == 200
    assert "@page" in css.get_data(as_text=True)
    css.close()
