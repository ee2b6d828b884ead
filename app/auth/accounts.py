"""What an office administrator does to an account beyond ``service`` (create, lock, role, TOTP): reactivate it,
set where its notifications go, and the office's list filtered by role and state. Every change is audited in the
caller's transaction."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from app.audit import service as audit
from app.auth import passwords
from app.auth.models import ROLE_LABELS, StaffUser
from app.auth.service import contact_problems, is_locked
from app.core.actor import Actor
from app.errors import ValidationError
from app.extensions import db

STATES = {"active": "正常", "locked": "已锁定", "inactive": "已停用"}


def reactivate(user: StaffUser, *, actor: Actor | None, now: dt.datetime) -> None:
    user.active, user.failed_logins, user.locked_until = True, 0, None
    audit.record(actor, "user.reactivate", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)


def set_contacts(user: StaffUser, wecom_userid: str | None, email: str | None, mobile: str | None, *,
                 actor: Actor | None, now: dt.datetime) -> None:
    """Where the account's notifications go, checked and normalised as ``flask users create`` does."""
    errors, (wecom, address, number) = contact_problems(wecom_userid, email, mobile)
    if errors:
        raise ValidationError(fields=errors)
    user.wecom_userid, user.email = wecom, address
    if number:
        user.seal("mobile_data", number)
    else:
        user.mobile_data = None
    audit.record(actor, "user.set_contacts", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)


@dataclasses.dataclass(frozen=True)
class AccountRow:
    """One line of ``/admin/users``: the account, its binding, the channels that reach it, its state."""

    user: StaffUser
    binding: str
    channels: tuple[str, ...]
    state: str
    waiting_for_link: bool


def _state(user: StaffUser, now: dt.datetime) -> str:
    if not user.active:
        return "inactive"
    return "locked" if is_locked(user, now) else "active"


def office_accounts(office_id: int | None, *, role: str | None, state: str | None,
                    now: dt.datetime) -> list[AccountRow]:
    stmt = select(StaffUser).where(StaffUser.office_id == office_id)
    if role in ROLE_LABELS:
        stmt = stmt.where(StaffUser.role == role)
    rows = []
    for user in db.session.scalars(stmt.order_by(StaffUser.username)):
        current = _state(user, now)
        if state in STATES and current != state:
            continue
        binding = (user.police_unit.name if user.police_unit else "") or (user.unit.name if user.unit else "")
        channels = tuple(label for label, present in (("企业微信", user.wecom_userid), ("邮件", user.email),
                                                      ("短信", user.mobile_data)) if present)
        rows.append(AccountRow(user, binding, channels, current, user.password_hash == passwords.UNUSABLE))
    return rows
