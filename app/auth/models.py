"""Staff accounts, their one-time recovery codes and their server-side sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db
from app.offices.models import Office, PoliceUnit
from app.units.models import Unit

ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "prosecutor": "检察官",
    "lead": "部门负责人",
    "police": "公安联络人",
    "unit_liaison": "成员单位联络人",
}
# Roles that exist only in a training deployment (QZBG_TRAINING=1): the trainer resets the training data and
# prints the trainees' accounts, and sees nothing of any report.
TRAINING_ROLES: dict[str, str] = {"trainer": "培训管理员"}
ROLE_LABELS: dict[str, str] = ROLES | TRAINING_ROLES
# Every role but unit_liaison must use a second factor (TOTP).
TOTP_ROLES = frozenset(ROLE_LABELS) - {"unit_liaison"}


def roles_for(training: bool) -> dict[str, str]:
    """The roles an account may be given in this deployment: the trainer's only in a training one."""
    return ROLE_LABELS if training else ROLES


class StaffUser(Sealed, db.Model):  # type: ignore[name-defined,misc]
    """A person of the office, of a police unit or of a member unit. The TOTP secret and the mobile number are
    sealed under the account's own data key; the password is an argon2id hash."""

    __tablename__ = "staff_users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    police_unit_id: Mapped[int | None] = mapped_column(ForeignKey("police_units.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    totp_secret_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted: a code is accepted once only.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where notifications go (the notification issue): WeCom user id and e-mail in clear, mobile sealed.
    wecom_userid: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(120))
    mobile_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey] = relationship(lazy="joined")
    office: Mapped[Office] = relationship(lazy="joined")
    police_unit: Mapped[PoliceUnit | None] = relationship()
    unit: Mapped[Unit | None] = relationship()

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def needs_totp(self) -> bool:
        return self.role in TOTP_ROLES


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """One of ten one-time codes shown once at enrolment; only its SHA-256 is kept."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StaffSession(db.Model):  # type: ignore[name-defined,misc]
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    stepped_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A sensitive POST waiting for its second factor (app/auth/stepup.py), sealed under the user's data key.
    pending_action_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    pending_action_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(30))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[StaffUser] = relationship(lazy="joined")


class SetupLink(db.Model):  # type: ignore[name-defined,misc]
    """A one-time link through which a person chooses their password (then enrols TOTP): made for a new account,
    a forgotten password, a member unit's liaison, or the first administrator. Only the token's SHA-256 is kept;
    it works once, for 72 hours, and a newer link of the same account replaces it."""

    __tablename__ = "staff_setup_links"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    user: Mapped[StaffUser] = relationship(lazy="joined")
