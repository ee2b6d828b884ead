"""TOTP (RFC 6238) second factor, with pyotp; a code is accepted once only, one step of clock skew allowed."""

from __future__ import annotations

import datetime as dt

import pyotp

ISSUER = "强制报告"
STEP = 30


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, base32


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime, *, after: int) -> int | None:
    """The time step whose code ``code`` is (now, or one step either side), if later than ``after``."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP
    for step in (current - 1, current, current + 1):
        if step > after and pyotp.utils.strings_equal(totp.at(step * STEP), code):
            return step
    return None
