"""Per-row data keys, stored wrapped under a key-encryption key of the keyring."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dbtypes import UTCDateTime, utcnow
from app.extensions import db

__all__ = ["DataKey", "utcnow"]


class DataKey(db.Model):  # type: ignore[name-defined,misc]
    """One random 256-bit key per report (and per reporter account).

    ``wrapped`` is the key sealed under keyring KEK ``kek_id``. Setting
    ``destroyed_at`` and clearing ``wrapped`` crypto-shreds everything the key
    protected, in backups too.
    """

    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kek_id: Mapped[str] = mapped_column(String(40), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
