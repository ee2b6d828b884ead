"""Reporter accounts of the mini-program and their bearer-token sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Integer, LargeBinary, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db
from app.units.models import Unit


class Reporter(Sealed, db.Model):  # type: ignore[name-defined,misc]
    """A WeChat user who reports. openid, phone and session_key are sealed;
    openid and phone are found through blind indexes."""

    __tablename__ = "reporters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    openid_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33), unique=True)
    openid_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    session_key_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33), index=True)
    phone_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unit_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey] = relationship(lazy="joined")
    unit: Mapped[Unit | None] = relationship()


class ReporterSession(db.Model):  # type: ignore[name-defined,misc]
    """A bearer token. Only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "reporter_sessions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reporters.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    reporter: Mapped[Reporter] = relationship(lazy="joined")
