"""One-time setup links: the way into an account without anyone typing its owner's password.

An administrator creates an account (or resets a forgotten password, or gives a member unit's liaison a login)
and is shown ``<QZBG_PUBLIC_URL>/setup/<token>`` once; the person opens it, chooses a password under the rules of
``passwords.problems``, and goes on to the TOTP enrolment of the login. Only the token's SHA-256 is stored; a link
works once, for ``LINK_TTL``, and issuing a new one for the account withdraws the old. Until its owner uses the
link an account has no password at all (``passwords.UNUSABLE``), so nothing can log in to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import select, update

from app.audit import service as audit
from app.auth import passwords, service, sessions
from app.auth.models import SetupLink, StaffUser
from app.auth.service import NewUser
from app.core.actor import Actor
from app.crypto.vault import Vault
from app.errors import ValidationError
from app.extensions import db
from app.offices.models import Office

LINK_TTL = dt.timedelta(hours=72)
PURPOSES = ("create", "reset_password", "first_admin")
MISMATCH = "两次输入的密码不一致"


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/setup/{token}"


def issue(user: StaffUser, purpose: str, *, actor: Actor | None, now: dt.datetime) -> str:
    """A new link for ``user`` (any unused one withdrawn); returns the token, which is never stored."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    db.session.execute(update(SetupLink).where(SetupLink.user_id == user.id, SetupLink.used_at.is_(None))
                       .values(used_at=now))
    token = secrets.token_urlsafe(32)
    db.session.add(SetupLink(id=uuid.uuid4(), user_id=user.id, token_hash=_hash(token), purpose=purpose,
                             created_at=now, expires_at=now + LINK_TTL,
                             created_by=actor.id if actor is not None else None))
    db.session.flush()
    audit.record(actor, "user.setup_link", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)
    return token


def find(token: str, now: dt.datetime) -> SetupLink | None:
    """The link of ``token`` if it is unused, unexpired and its account active; else None (the caller answers 404
    alike for an unknown, used or expired link)."""
    if not token or len(token) > 100:
        return None
    link = db.session.scalars(select(SetupLink).where(SetupLink.token_hash == _hash(token))).one_or_none()
    if link is None or link.used_at is not None or link.expires_at <= now or not link.user.active:
        return None
    return link


def complete(link: SetupLink, password: str, password2: str, *, now: dt.datetime) -> StaffUser:
    """The owner's password set through ``link``, which is then used up; every session of the account ends."""
    user = link.user
    weak = passwords.problems(password, username=user.username, display_name=user.display_name)
    if not weak and password != password2:
        raise ValidationError(fields={"password2": [MISMATCH]})
    if weak:
        raise ValidationError(fields={"password": weak})
    user.password_hash, user.password_changed_at = passwords.hash_password(password), now
    user.failed_logins, user.locked_until = 0, None
    link.used_at = now
    sessions.end_all(user.id, now, "password_changed")
    owner = Actor.staff(user)
    audit.record(owner, "user.setup_complete", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)
    return user


def set_no_password(user: StaffUser, *, now: dt.datetime) -> None:
    """The account waits for its link: no password can log in to it, and every session ends."""
    user.password_hash, user.password_changed_at = passwords.UNUSABLE, now
    sessions.end_all(user.id, now, "password_reset")


FIRST_ADMIN = "admin"


def create_account(new: NewUser, *, actor: Actor | None, now: dt.datetime, vault: Vault,
                   training: bool = False) -> tuple[StaffUser, str]:
    """A new account under ``service.create_user``'s rules, with no password until its owner opens the returned
    link's token."""
    user = service.create_user(new, secrets.token_urlsafe(24), actor=actor, now=now, vault=vault, training=training)
    set_no_password(user, now=now)
    return user, issue(user, "create", actor=actor, now=now)


def has_administrator() -> bool:
    """An active administrator who has a password (one still waiting for a setup link does not count)."""
    return db.session.scalar(select(StaffUser.id).where(
        StaffUser.role == "admin", StaffUser.active.is_(True), StaffUser.password_hash != passwords.UNUSABLE,
    ).limit(1)) is not None


def first_administrator(office: Office, *, now: dt.datetime, vault: Vault) -> str | None:
    """On a database with no administrator: the token of a setup link for ``admin`` of ``office`` (the account
    made, or a waiting one given a new link); None when an administrator is there."""
    if has_administrator():
        return None
    user = service.find_by_username(FIRST_ADMIN)
    if user is None:
        user, _ = create_account(NewUser(username=FIRST_ADMIN, role="admin", office=office, display_name="系统管理员"),
                                 actor=Actor.system(), now=now, vault=vault)
    elif user.role != "admin" or not user.active:
        raise ValidationError(f"已有名为 {FIRST_ADMIN} 的账号，但它不是有效的管理员账号；"
                              "请用 flask users create 新建管理员")
    return issue(user, "first_admin", actor=Actor.system(), now=now)
