"""Security headers on every answer: HTML pages, the poster, PNGs, error pages and the JSON API.

Pages carry no inline script or style (the CSP forbids both); framing is refused
twice (``frame-ancestors`` and ``X-Frame-Options`` for older browsers). The
Referrer-Policy is ``no-referrer`` (report and staff URLs name reports), so
Flask-WTF's HTTPS Referer check is off (``WTF_CSRF_SSL_STRICT``): the CSRF token
and SameSite cookies protect every form. HSTS only when the public URL is HTTPS.
``Retry-After`` is only for 429 and 503 (CONTRACT.md).
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
HSTS = "max-age=31536000; includeSubDomains"
RETRY_AFTER_STATUSES = (429, 503)


def register_security_headers(app: Flask, *, hsts: bool) -> None:
    """One after_request for the whole app; ``hsts`` (a site served over HTTPS) adds Strict-Transport-Security."""
    headers = dict(SECURITY_HEADERS)
    if hsts:
        headers["Strict-Transport-Security"] = HSTS

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        for name, value in headers.items():
            response.headers[name] = value
        if response.status_code not in RETRY_AFTER_STATUSES:
            response.headers.pop("Retry-After", None)
        return response
