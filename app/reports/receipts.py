"""The 查询码 on its way to the receipt page: sealed in the session cookie, shown once.

Flask's session cookie is only signed, so the code is sealed with a key derived
from the app's secret key, kept per form (two tabs, two receipts), and dropped
when the receipt shows it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

RECEIPT_TTL = 3600  # seconds a sealed 查询码 waits in the session for its receipt page
OPEN_FORMS = 10  # rendered forms a session remembers (each with its 查询码)


def _receipt_box() -> Fernet:
    """Authenticated encryption for the 查询码 in the session cookie, keyed from the app's secret key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/receipt-cookie").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(text: str) -> str:
    """``text`` sealed for the session cookie (which Flask only signs)."""
    return _receipt_box().encrypt(text.encode()).decode()


def _open_sealed(sealed: str | None, *, ttl: int | None) -> str | None:
    if not sealed:
        return None
    try:
        return _receipt_box().decrypt(sealed.encode(), ttl=ttl).decode()
    except (InvalidToken, ValueError):
        return None


def unseal(sealed: str | None, *, ttl: int | None) -> str | None:
    """What ``seal`` sealed, if it is ours and younger than ``ttl`` seconds; else None."""
    return _open_sealed(sealed, ttl=ttl)


def open_form(session: Any, form_key: str) -> None:
    """A form was rendered: its 查询码 is made now and waits, sealed, in this browser's session.

    Every answer to this one form (a double or triple tap, a retry after a lost
    answer) is then stored with, and shows, the same code. Only this browser ever
    holds it: someone who learns the form key (it is in the receipt URL) gets none.
    """
    from app.reports.service import make_status_code

    forms = dict(session.get("form_codes") or {})
    while len(forms) >= OPEN_FORMS:
        forms.pop(next(iter(forms)))
    forms[form_key] = _receipt_box().encrypt(make_status_code().encode()).decode()
    session["form_codes"] = forms
    session.setdefault("browser_id", secrets.token_urlsafe(12))


def browser_id(session: Any) -> str | None:
    """A random id of this browser session (given with its first form), for the per-browser intake limit."""
    value = session.get("browser_id")
    return f"browser:{value}" if value else None


def form_status_code(session: Any, form_key: str) -> str | None:
    """The 查询码 made for this form when this browser was given it; None for any other browser."""
    sealed = (session.get("form_codes") or {}).get(form_key)
    return _open_sealed(sealed, ttl=None)


def submitted(session: Any, form_key: str) -> None:
    """The form was stored: its code moves to the receipt, to be shown once."""
    forms = dict(session.get("form_codes") or {})
    sealed = forms.pop(form_key, None)
    if sealed is None:
        return
    session["form_codes"] = forms
    receipts = session.get("receipts") or {}
    # Re-sealed now: the receipt must be opened within RECEIPT_TTL of the submission.
    code = _open_sealed(sealed, ttl=None)
    if code:
        session["receipts"] = {**receipts, form_key: _receipt_box().encrypt(code.encode()).decode()}


def take_for_receipt(session: Any, form_key: str) -> str | None:
    """The code waiting for this form's receipt, once: a reload, or the next person at a shared computer,
    no longer sees it."""
    waiting = dict(session.get("receipts") or {})
    sealed = waiting.pop(form_key, None)
    if sealed is not None:
        session["receipts"] = waiting
    return _open_sealed(sealed, ttl=RECEIPT_TTL)
