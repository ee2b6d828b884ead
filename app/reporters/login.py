"""Mini-program login and phone verification, through WeChat (app.clients.wechat)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from app.clients.wechat import WeChatInvalidCode, get_gateway
from app.crypto.vault import Vault
from app.errors import ValidationError
from app.extensions import db
from app.reporters import service as reporters
from app.reporters.models import Reporter


@dataclasses.dataclass(frozen=True)
class Login:
    reporter: Reporter
    token: str
    expires_in: int


def login(code: str, *, now: dt.datetime, ttl: dt.timedelta, vault: Vault) -> Login:
    """jscode2session, then the reporter by openid (created if new), then a bearer token.

    The session_key is sealed and kept (never returned); nothing is committed here.
    """
    openid, session_key = get_gateway().code_to_session(code)
    reporter = reporters.find_or_create_by_openid(openid, now=now, vault=vault)
    reporter.seal("session_key_data", session_key)
    token, expires_in = reporters.issue_token(reporter, now=now, ttl=ttl)
    return Login(reporter, token, expires_in)


def _end_read_transaction() -> None:
    """End the transaction the bearer-token look-up opened, before waiting on WeChat: on SQLite it
    holds the write lock (BEGIN IMMEDIATE), so every report would queue behind a slow WeChat, and
    on any backend it holds a pooled connection. Nothing is written yet, so nothing is lost; the
    reporter reloads on next use."""
    if db.session.new or db.session.dirty or db.session.deleted:
        raise RuntimeError("unflushed changes before a WeChat call")
    db.session.rollback()


def mask_phone(number: str) -> str:
    return number[:3] + "****" + number[-4:] if len(number) >= 7 else "****"


def verify_phone(reporter: Reporter, code: str, *, now: dt.datetime, vault: Vault) -> str:
    """getuserphonenumber; the number sealed with a blind index. Returns it masked.

    A bad, used or foreign phone code is the body's fault (422 on ``code``), not the session's:
    a 401 here would make the mini-program log the user out.
    """
    _end_read_transaction()
    try:
        number = get_gateway().phone_number(code)
    except WeChatInvalidCode:
        raise ValidationError(fields={"code": ["手机号授权凭证无效或已使用，请重新点击获取手机号"]}) from None
    reporter.seal("phone_data", number)
    reporter.phone_bidx = vault.blind_index("phone", number)
    reporter.phone_verified_at = now
    db.session.flush()
    return mask_phone(number)
