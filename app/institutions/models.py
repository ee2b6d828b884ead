"""An institution (a member unit's hospital system, or a hotline) and its signing keys.

A key's secret is the HMAC key both sides hold: it is stored sealed under the institution's data key (like a staff
user's TOTP secret), shown once when made. Nonces are kept for the replay window only.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db


class Institution(Sealed, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "institutions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    # A hospital's system reports as its member unit; a hotline (no unit) reports as the public does.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey] = relationship(lazy="joined")


class InstitutionKey(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "institution_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the key id the institution sends
    institution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("institutions.id", ondelete="CASCADE"),
                                                      index=True)
    secret_data: Mapped[bytes] = mapped_column(LargeBinary)  # sealed under the institution's data key
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    institution: Mapped[Institution] = relationship(lazy="joined")


class InstitutionNonce(db.Model):  # type: ignore[name-defined,misc]
    """A nonce a key has used, kept for as long as its timestamp could still be accepted."""

    __tablename__ = "institution_nonces"

    key_id: Mapped[str] = mapped_column(ForeignKey("institution_keys.id", ondelete="CASCADE"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_institution_nonces_seen_at", "seen_at"),)
