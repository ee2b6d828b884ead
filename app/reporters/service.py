"""Reporter accounts and bearer tokens.

Tokens are 256-bit random strings; only their SHA-256 is stored, so a database
dump yields no usable token. WeChat login (a later issue) only has to call
``find_or_create_by_openid`` and ``issue_token``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from app.crypto.vault import Vault
from app.errors import UnauthorizedError
from app.extensions import db
from app.reporters.models import Reporter, ReporterSession

TOKEN_PREFIX = "qzr_"  # noqa: S105 - a marker for token scanners, not a secret


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def find_or_create_by_openid(openid: str, *, now: dt.datetime, vault: Vault) -> Reporter:
    """The reporter with this openid, created (openid sealed, blind-indexed) if new."""
    bidx = vault.blind_index("openid", openid)
    find = select(Reporter).where(Reporter.openid_bidx == bidx)
    reporter = db.session.scalars(find).one_or_none()
    if reporter is None:
        reporter = Reporter(id=uuid.uuid4(), data_key=vault.new_data_key(), created_at=now, openid_bidx=bidx)
        reporter.seal("openid_data", openid)
        try:
            with db.session.begin_nested():
                db.session.add(reporter)
        except IntegrityError:
            # The same user's parallel first login (wx.login twice at launch) created it just now.
            reporter = db.session.scalars(find).one()
    reporter.last_login_at = now
    db.session.flush()
    return reporter


def issue_token(reporter: Reporter, *, now: dt.datetime, ttl: dt.timedelta) -> tuple[str, int]:
    """A new bearer token for ``reporter`` and its lifetime in seconds."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ReporterSession(reporter_id=reporter.id, token_hash=_token_hash(token), created_at=now, expires_at=now + ttl)
    )
    db.session.flush()
    return token, int(ttl.total_seconds())


def authenticate(token: str, *, now: dt.datetime) -> Reporter:
    """The reporter a live token belongs to; UnauthorizedError otherwise.

    One statement through the unique index on the token hash; the reporter's data
    key is loaded only if a view unseals something.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise UnauthorizedError("登录已失效，请重新登录")
    reporter = db.session.scalars(
        select(Reporter)
        .join(ReporterSession, ReporterSession.reporter_id == Reporter.id)
        .where(
            ReporterSession.token_hash == _token_hash(token),
            ReporterSession.revoked_at.is_(None),
            ReporterSession.expires_at > now,
        )
        .options(lazyload(Reporter.data_key))
    ).one_or_none()
    if reporter is None:
        raise UnauthorizedError("登录已失效，请重新登录")
    return reporter


def revoke(token: str, *, now: dt.datetime) -> None:
    """End a token's session (logout); the token then answers 401."""
    session = db.session.scalars(
        select(ReporterSession).where(ReporterSession.token_hash == _token_hash(token))
    ).one_or_none()
    if session is not None and session.revoked_at is None:
        session.revoked_at = now
        db.session.flush()
