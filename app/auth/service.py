"""Staff account actions: create, log in (password, then TOTP), enrol TOTP, recovery codes, lock, unlock,
deactivate, reset TOTP, change password or role. Each takes explicit arguments, flushes, and audits."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from marshmallow import ValidationError as MarshmallowError
from marshmallow import validate
from sqlalchemy import func, select, update

from app.audit import service as audit
from app.auth import passwords, sessions, totp
from app.auth.models import RecoveryCode, StaffUser, roles_for
from app.core.actor import Actor
from app.core.idcard import MOBILE
from app.crypto.vault import Vault
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.offices.models import Office, PoliceUnit
from app.units.models import Unit

# WeCom's rule for a member's UserID: 1-64 characters of letters, digits and _-@., a letter or digit first.
WECOM_USERID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-@.]{0,63}$")
EMAIL_MAX = 120  # StaffUser.email
MAX_FAILURES = 5
LOCK_FOR = dt.timedelta(minutes=15)
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


@dataclasses.dataclass(frozen=True)
class NewUser:
    username: str
    role: str
    office: Office
    display_name: str | None = None
    police_unit: PoliceUnit | None = None
    unit: Unit | None = None
    wecom_userid: str | None = None
    email: str | None = None
    mobile: str | None = None


def contact_problems(wecom_userid: str | None, email: str | None, mobile: str | None,
                     ) -> tuple[dict[str, list[str]], tuple[str | None, str | None, str | None]]:
    """The staff contact fields (where notifications go) checked and normalised: errors by field, and the
    values to store (blank ones None; the mobile as its 11 digits, a leading +86 and spaces or dashes dropped)."""
    errors: dict[str, list[str]] = {}
    wecom = (wecom_userid or "").strip() or None
    if wecom is not None and not WECOM_USERID.match(wecom):
        errors["wecom_userid"] = ["企业微信账号应为1至64个英文字母、数字或 _-@. 字符，以字母或数字开头"]
    address = (email or "").strip() or None
    if address is not None:
        try:
            if len(address) > EMAIL_MAX:
                raise MarshmallowError("too long")
            validate.Email()(address)
        except MarshmallowError:
            errors["email"] = [f"请填写有效的电子邮件地址（不超过{EMAIL_MAX}个字符）"]
    number = re.sub(r"[\s-]", "", mobile or "") or None
    if number is not None:
        number = number.removeprefix("+86")
        if not MOBILE.match(number):
            errors["mobile"] = ["请填写11位手机号码（可带 +86）"]
    return errors, (wecom, address, number)


def normal_username(username: str) -> str:
    return username.strip().lower()


def find_by_username(username: str) -> StaffUser | None:
    name = normal_username(username)
    if not name or len(name) > 40:
        return None
    return db.session.scalars(select(StaffUser).where(StaffUser.username == name)).one_or_none()


def _role_problem(role: str, training: bool) -> list[str]:
    roles = roles_for(training)
    return [] if role in roles else [f"角色应为 {', '.join(roles)} 之一"]


def create_user(new: NewUser, password: str, *, actor: Actor | None, now: dt.datetime, vault: Vault,
                training: bool = False) -> StaffUser:
    """A new account; the password must be strong, police need a police unit and liaisons a member unit.
    ``training`` (a training deployment) allows the trainer's role too."""
    errors: dict[str, list[str]] = {}
    username = normal_username(new.username)
    if not (3 <= len(username) <= 40) or not all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in username):
        errors["username"] = ["用户名应为3至40个英文字母、数字或 ._- 字符"]
    if role_errors := _role_problem(new.role, training):
        errors["role"] = role_errors
    if new.role == "police" and new.police_unit is None:
        errors["police_unit"] = ["公安联络人须指定所属公安机关"]
    if new.role == "unit_liaison" and new.unit is None:
        errors["unit"] = ["成员单位联络人须指定所属单位"]
    for field_name, bound in (("police_unit", new.police_unit), ("unit", new.unit)):
        if bound is not None and getattr(bound, "office_id", new.office.id) != new.office.id:
            errors[field_name] = ["所选单位不属于该检察院"]
    contact_errors, (wecom_userid, email, mobile) = contact_problems(new.wecom_userid, new.email, new.mobile)
    errors.update(contact_errors)
    weak = passwords.problems(password, username=username, display_name=new.display_name or "")
    if weak:
        errors["password"] = weak
    if errors:
        raise ValidationError(fields=errors)
    if find_by_username(username) is not None:
        raise ConflictError("该用户名已存在")
    user = StaffUser(
        id=uuid.uuid4(), username=username, display_name=(new.display_name or username)[:50], role=new.role,
        office_id=new.office.id, police_unit_id=new.police_unit.id if new.police_unit else None,
        unit_id=new.unit.id if new.unit else None, password_hash=passwords.hash_password(password),
        password_changed_at=now, data_key=vault.new_data_key(), wecom_userid=wecom_userid, email=email,
        created_at=now, totp_last_step=0, failed_logins=0, active=True,
    )
    if mobile:
        user.seal("mobile_data", mobile)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", now=now, target_type="staff_user", target_id=user.id, office_id=user.office_id)
    return user


def is_locked(user: StaffUser, now: dt.datetime) -> bool:
    return user.locked_until is not None and now < user.locked_until


def _failure(user: StaffUser | None, actor: Actor, now: dt.datetime, stage: str) -> None:
    audit.record(actor, f"login.failed.{stage}", now=now, target_type="staff_user",
                 target_id=user.id if user else None, office_id=user.office_id if user else None)
    if user is None:
        return
    # One statement, so parallel wrong guesses cannot overwrite each other's count and pass the lock.
    failures = db.session.execute(
        update(StaffUser).where(StaffUser.id == user.id).values(failed_logins=StaffUser.failed_logins + 1)
        .returning(StaffUser.failed_logins).execution_options(synchronize_session=False)
    ).scalar_one()
    if failures >= MAX_FAILURES:
        db.session.execute(
            update(StaffUser).where(StaffUser.id == user.id).values(locked_until=now + LOCK_FOR, failed_logins=0)
            .execution_options(synchronize_session=False)
        )
        audit.record(actor, "login.locked", now=now, target_type="staff_user", target_id=user.id,
                     office_id=user.office_id)
    db.session.expire(user, ["failed_logins", "locked_until"])


def check_password(username: str, password: str, *, actor: Actor, now: dt.datetime) -> StaffUser | None:
    """The first login step. None for a wrong name or password, a locked or inactive account: the caller
    says the same thing for all, and the work done is the same (a dummy hash for an unknown name)."""
    user = find_by_username(username)
    ok = passwords.verify(user.password_hash if user else None, password[:passwords.MAX_LENGTH])
    if user is None or not user.active or is_locked(user, now) or not ok:
        _failure(user if user is not None and user.active and not is_locked(user, now) else None, actor, now,
                 "password")
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def check_second_factor(user: StaffUser, code: str, *, actor: Actor, now: dt.datetime) -> bool:
    """A TOTP code (accepted once only) or an unused recovery code; failures count toward the lock."""
    if not user.active or is_locked(user, now):
        _failure(None, actor, now, "otp")
        return False
    if user.totp_secret_data is not None and user.totp_enrolled_at is not None:
        step = totp.matching_step(user.unseal("totp_secret_data"), code, now, after=user.totp_last_step)
        if step is not None and _take_step(user, step):
            return True
    if _use_recovery_code(user, code, now):
        audit.record(actor, "login.recovery_code", now=now, target_type="staff_user", target_id=user.id,
                     office_id=user.office_id)
        return True
    _failure(user, actor, now, "otp")
    return False


def _take_step(user: StaffUser, step: int) -> bool:
    """Record ``step`` as used, only if no parallel request used it (or a later one) first: once only."""
    taken = db.session.execute(  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        update(StaffUser).where(StaffUser.id == user.id, StaffUser.totp_last_step < step)
        .values(totp_last_step=step).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(user, ["totp_last_step"])
    return bool(taken)


def logged_in(user: StaffUser, *, actor: Actor, now: dt.datetime) -> None:
    user.failed_logins, user.last_login_at = 0, now
    audit.record(actor, "login", now=now, target_type="staff_user", target_id=user.id, office_id=user.office_id)


def _code_hash(code: str) -> bytes:
    """A keyed hash (HMAC-SHA-256, key derived from the app's secret key): a copy of the database alone does not
    allow guessing the codes offline."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/recovery-codes").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    normal = code.strip().lower().replace("-", "").replace(" ", "").encode()
    return hmac.new(key, normal, hashlib.sha256).digest()


def _use_recovery_code(user: StaffUser, code: str, now: dt.datetime) -> bool:
    if not 8 <= len(code.strip()) <= 20:
        return False
    stored = db.session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_hash(code),
                                   RecoveryCode.used_at.is_(None))
    ).first()
    if stored is None:
        return False
    # Used once only, even by two requests at the same moment.
    used = db.session.execute(  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
        update(RecoveryCode).where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire(stored)
    return bool(used)


def enrolment_secret(user: StaffUser) -> str:
    """The secret to show at enrolment: made once and kept (sealed) until a code confirms it."""
    if user.totp_enrolled_at is not None:
        raise ConflictError("已完成两步验证设置")
    if user.totp_secret_data is None:
        user.seal("totp_secret_data", totp.new_secret())
        db.session.flush()
    secret: str = user.unseal("totp_secret_data")
    return secret


def confirm_enrolment(user: StaffUser, code: str, *, actor: Actor, now: dt.datetime) -> list[str] | None:
    """One right code finishes enrolment and returns ten new recovery codes (shown once); None if wrong."""
    secret = enrolment_secret(user)
    step = totp.matching_step(secret, code, now, after=user.totp_last_step)
    if step is None or not _take_step(user, step):
        _failure(user, actor, now, "enrol")
        return None
    user.totp_enrolled_at = now
    audit.record(actor, "totp.enrol", now=now, target_type="staff_user", target_id=user.id, office_id=user.office_id)
    return new_recovery_codes(user)


def new_recovery_codes(user: StaffUser) -> list[str]:
    """Replace the user's recovery codes with ten new ones; only their hashes are kept."""
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(id=uuid.uuid4(), user_id=user.id, code_hash=_code_hash(raw)))
    db.session.flush()
    return codes


def recovery_codes_left(user: StaffUser) -> int:
    return int(db.session.scalar(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0)


def unlock(user: StaffUser, *, actor: Actor | None, now: dt.datetime) -> None:
    user.locked_until, user.failed_logins = None, 0
    audit.record(actor, "user.unlock", now=now, target_type="staff_user", target_id=user.id, office_id=user.office_id)


def deactivate(user: StaffUser, *, actor: Actor | None, now: dt.datetime) -> None:
    user.active = False
    sessions.end_all(user.id, now, "deactivated")
    audit.record(actor, "user.deactivate", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)


def reset_totp(user: StaffUser, *, actor: Actor | None, now: dt.datetime) -> None:
    """The user enrols again at the next login (a lost phone); every session and recovery code ends."""
    user.totp_secret_data, user.totp_enrolled_at = None, None
    for old in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        db.session.delete(old)
    sessions.end_all(user.id, now, "totp_reset")
    audit.record(actor, "user.reset_totp", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)


def confirm_password(user: StaffUser, password: str, *, actor: Actor, now: dt.datetime) -> bool:
    """The current password, asked again before it is changed; a wrong one counts toward the lock like a failed
    login (a session left open must not become a way to guess the password)."""
    if not user.active or is_locked(user, now):
        return False
    if passwords.verify(user.password_hash, password[:passwords.MAX_LENGTH]):
        return True
    _failure(user, actor, now, "password_change")
    return False


def change_password(user: StaffUser, password: str, *, actor: Actor | None, now: dt.datetime,
                    keep_session: uuid.UUID | None = None) -> None:
    """A new password under the rules of ``create_user``; every session of the user ends (but ``keep_session``,
    the one the user changed it from)."""
    weak = passwords.problems(password, username=user.username, display_name=user.display_name)
    if not weak and passwords.verify(user.password_hash, password[:passwords.MAX_LENGTH]):
        weak = ["新密码不能与当前密码相同"]
    if weak:
        raise ValidationError(fields={"password": weak})
    user.password_hash, user.password_changed_at = passwords.hash_password(password), now
    sessions.end_all(user.id, now, "password_changed", keep=keep_session)
    audit.record(actor, "user.change_password", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)


def change_role(user: StaffUser, role: str, *, actor: Actor | None, now: dt.datetime, training: bool = False) -> None:
    """A new role under the rules of ``create_user``: police keep a police unit, liaisons a unit, and nobody
    changes their own role (an administrator must not grant themselves report contents) or leaves the office
    without an administrator."""
    if role_errors := _role_problem(role, training):
        raise ValidationError(fields={"role": role_errors})
    if actor is not None and actor.id == user.id:
        raise ValidationError(fields={"role": ["不能更改自己的角色，请由另一位管理员操作"]})
    if role == "police" and user.police_unit_id is None:
        raise ValidationError(fields={"role": ["该用户未绑定公安机关，不能设为公安联络人"]})
    if role == "unit_liaison" and user.unit_id is None:
        raise ValidationError(fields={"role": ["该用户未绑定成员单位，不能设为成员单位联络人"]})
    if user.role == "admin" and role != "admin":
        admins = db.session.scalar(select(func.count()).select_from(StaffUser).where(
            StaffUser.office_id == user.office_id, StaffUser.role == "admin", StaffUser.active.is_(True)))
        if (admins or 0) <= 1:
            raise ValidationError(fields={"role": ["本院至少需要一位系统管理员"]})
    if role != "police":
        user.police_unit_id = None
    if role != "unit_liaison":
        user.unit_id = None
    user.role = role
    sessions.end_all(user.id, now, "role_changed")
    audit.record(actor, "user.change_role", now=now, target_type="staff_user", target_id=user.id,
                 office_id=user.office_id)
