"""Audit entries, each chained to the one before by a hash, and the chain head that serialises writers."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dbtypes import UTCDateTime
from app.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined,misc]
    """One thing a person did: who (id, role, office), what, to what, when, from where. No personal data.

    ``hash`` is a keyed MAC of the entry and the hash before it (``app.audit.service``)."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                      autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    office_id: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    ip: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(40))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # How ``hash`` was made: ``hmac-sha256`` or ``hmac-sm3`` (QZBG_AUDIT_HASH when the entry was written), so a
    # change of the setting leaves older entries verifiable. Only keyed algorithms verify.
    alg: Mapped[str] = mapped_column(String(16))


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    """The newest entry's number and hash; every writer locks this one row, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[str] = mapped_column(String(64))
