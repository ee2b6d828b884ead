"""An export: a workbook a staff member asked for, written by the export runner, kept sealed until fetched.

The parameters (a period, the inbox's filters, which may hold a searched phone number) are sealed under the
export's own data key, and so is the file (``<QZBG_EXPORTS_DIR>/<storage_name>``). When the file is fetched or
expires, the file and the data key go (crypto-shredding whatever copy is left) and the row stays, without
anything personal, so that the export page can say what happened.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db

QUEUED, RUNNING, READY, FAILED, GONE = "queued", "running", "ready", "failed", "gone"
LIVE = (QUEUED, RUNNING, READY)  # an export asked for again while in one of these is the same export
LIVE_PREDICATE = "state IN ('queued', 'running', 'ready')"


class Export(Sealed, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "exports"
    __table_args__ = (
        # Asking twice does not run twice: one live export per person and parameters, whatever the race.
        Index("uq_exports_live_request", "requested_by", "request_digest", unique=True,
              postgresql_where=text(LIVE_PREDICATE), sqlite_where=text(LIVE_PREDICATE)),
        # The runner's pick: the oldest export waiting (or whose runner's lease ran out).
        Index("ix_exports_state_created_at", "state", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # A keyed hash of (kind, parameters): the same request, without the parameters in clear.
    request_digest: Mapped[bytes] = mapped_column(LargeBinary(33))
    title: Mapped[str] = mapped_column(String(200))  # what the page says it is (nothing personal)
    filename: Mapped[str] = mapped_column(String(120))  # what the download is called (nothing personal)
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("data_keys.id"), index=True)
    params_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(16))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    storage_name: Mapped[str | None] = mapped_column(String(64))
    stored_size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey | None] = relationship(lazy="joined")
