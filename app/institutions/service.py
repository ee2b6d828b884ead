"""Register institutions, make, rotate and revoke their keys, and tell a signed request's institution.

Every failure of a signed request is the same 401 ``unauthorized`` (which check failed goes to the log, never to
the caller), and a refused request stores nothing: the nonce is written in the request's transaction, which an
error answer rolls back.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.core.actor import Actor
from app.crypto.vault import DecryptionError, Vault
from app.errors import NotFoundError, UnauthorizedError, ValidationError
from app.extensions import db
from app.institutions import signing
from app.institutions.models import Institution, InstitutionKey, InstitutionNonce
from app.offices.queries import default_office
from app.units.models import Unit

log = logging.getLogger("qzbg.institutions")
HEADERS = ("X-QZBG-Key-Id", "X-QZBG-Timestamp", "X-QZBG-Nonce", "X-QZBG-Signature")
REFUSED = "签名无效或已过期"
CODE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _new_key(institution: Institution, vault: Vault, now: dt.datetime) -> tuple[str, str]:
    key_id, secret = f"ik{secrets.token_hex(10)}", secrets.token_urlsafe(32)
    db.session.add(InstitutionKey(
        id=key_id, institution_id=institution.id, created_at=now,
        secret_data=vault.encrypt(institution.data_key, "institution_keys", "secret_data", key_id, secret),
    ))
    return key_id, secret


def add(code: str, name: str, *, unit_code: str | None, vault: Vault, now: dt.datetime,
        actor: Actor | None = None, office_id: int | None = None) -> tuple[str, str]:
    """A new institution with its first key: (key id, secret), the secret shown this once. ``office_id`` (an
    administrator's office): the unit must be one of its units, and a hotline belongs to it."""
    code, name = (code or "").strip(), (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not (1 <= len(code) <= 32 and set(code) <= CODE_CHARS):
        errors["code"] = ["代码须为1至32个英文字母、数字或 ._- 字符"]
    if not 1 <= len(name) <= 100:
        errors["name"] = ["名称须为1至100个字符"]
    unit = None
    if unit_code:
        unit = db.session.scalars(select(Unit).where(Unit.code == unit_code.strip())).one_or_none()
        if unit is None or not unit.active or (office_id is not None and unit.office_id != office_id):
            errors["unit"] = ["找不到该成员单位或已停用"]
    if not errors and db.session.scalar(select(Institution.id).where(Institution.code == code)) is not None:
        errors["code"] = ["该代码已被使用"]
    if errors:
        raise ValidationError(fields=errors)
    institution = Institution(id=uuid.uuid4(), code=code, name=name, unit_id=unit.id if unit else None,
                              office_id=unit.office_id if unit else (office_id or default_office().id), active=True,
                              data_key=vault.new_data_key(), created_at=now)
    db.session.add(institution)
    db.session.flush()
    made = _new_key(institution, vault, now)
    audit.record(actor or Actor.system(), "institution.add", now=now, target_type="institution", target_id=code,
                 office_id=institution.office_id)
    return made


def rotate(code: str, *, vault: Vault, now: dt.datetime, actor: Actor | None = None,
           office_id: int | None = None) -> tuple[str, str]:
    """A second key beside the ones in use (both valid until one is revoked)."""
    institution = db.session.scalars(select(Institution).where(Institution.code == code[:32])).one_or_none()
    if institution is None or (office_id is not None and institution.office_id != office_id):
        raise NotFoundError("找不到该机构")
    made = _new_key(institution, vault, now)
    audit.record(actor or Actor.system(), "institution.rotate", now=now, target_type="institution", target_id=code,
                 office_id=institution.office_id)
    return made


def revoke(key_id: str, *, now: dt.datetime, actor: Actor | None = None,
           office_id: int | None = None) -> InstitutionKey:
    key = db.session.get(InstitutionKey, key_id[:40])
    if key is None or (office_id is not None and key.institution.office_id != office_id):
        raise NotFoundError("找不到该密钥")
    key.revoked_at = key.revoked_at or now
    audit.record(actor or Actor.system(), "institution.revoke", now=now, target_type="institution_key",
                 target_id=key_id, office_id=key.institution.office_id)
    return key


def of_office(office_id: int) -> list[Institution]:
    return list(db.session.scalars(select(Institution).where(Institution.office_id == office_id)
                                   .order_by(Institution.code)))


def keys_of(institution: Institution) -> list[InstitutionKey]:
    return list(db.session.scalars(select(InstitutionKey).where(InstitutionKey.institution_id == institution.id)
                                   .order_by(InstitutionKey.created_at)))


def _refuse(reason: str) -> UnauthorizedError:
    log.warning("security.institution_refused", extra={"reason": reason})
    error = UnauthorizedError(REFUSED)
    error.headers["WWW-Authenticate"] = 'QZBG-HMAC realm="institutional"'
    return error


def authenticate(method: str, path: str, headers: Mapping[str, str], body: bytes, *, vault: Vault,
                 now: dt.datetime, algorithm: str) -> Institution:
    """The institution that signed this request, its nonce recorded; else UnauthorizedError. ``headers``: the
    request's ``HEADERS``, by those names."""
    key_id = headers.get("X-QZBG-Key-Id", "")
    timestamp = headers.get("X-QZBG-Timestamp", "")
    nonce = headers.get("X-QZBG-Nonce", "")
    signature = headers.get("X-QZBG-Signature", "")
    if not (key_id and timestamp and nonce and signature):
        raise _refuse("missing_header")
    if not (timestamp.isdigit() and len(timestamp) <= 12):
        raise _refuse("bad_timestamp")
    if abs(now.timestamp() - int(timestamp)) > signing.WINDOW_SECONDS:
        raise _refuse("stale_timestamp")
    if not signing.NONCE.match(nonce):
        raise _refuse("bad_nonce")
    key = db.session.get(InstitutionKey, key_id[:40])
    if key is None or key.revoked_at is not None or not key.institution.active:
        raise _refuse("unknown_key")
    try:
        secret = vault.decrypt(key.institution.data_key, "institution_keys", "secret_data", key.id,
                               key.secret_data)
    except DecryptionError:
        raise _refuse("key_unreadable") from None
    message = signing.canonical(method, path, timestamp, nonce, body)
    if not signing.matches(secret.encode("utf-8"), message, signature, algorithm=algorithm):
        raise _refuse("bad_signature")
    db.session.execute(delete(InstitutionNonce).where(
        InstitutionNonce.key_id == key.id,
        InstitutionNonce.seen_at < now - dt.timedelta(seconds=2 * signing.WINDOW_SECONDS)))
    if db.session.get(InstitutionNonce, (key.id, nonce)) is not None:
        raise _refuse("nonce_replayed")
    try:
        with db.session.begin_nested():
            db.session.add(InstitutionNonce(key_id=key.id, nonce=nonce, seen_at=now))
    except IntegrityError:  # the same nonce in a request running beside this one
        raise _refuse("nonce_replayed") from None
    return key.institution
