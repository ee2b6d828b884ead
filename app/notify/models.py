"""The outbox: notifications queued in the same transaction as the change they announce; the worker's heartbeats
and the scheduled jobs' leases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.core.dbtypes import UTCDateTime, utcnow
from app.extensions import db


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """One message for one channel. ``payload`` holds ids and codes only, never personal data."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(30), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reporters.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending -> sent | dead; dead -> pending (an administrator's retry)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    dead_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))  # the worker holding the lease (diagnostics)


class WorkerHeartbeat(db.Model):  # type: ignore[name-defined,misc]
    """One row per running notify worker, beaten every few seconds; the newest beat says whether any runs."""

    __tablename__ = "notify_workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


Index("ix_notify_workers_beat_at", WorkerHeartbeat.beat_at)


class JobRun(db.Model):  # type: ignore[name-defined,misc]
    """A scheduled job's last and next run, and the lease of the one worker running it now."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_started: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))  # ok | error | missing
    last_error: Mapped[str | None] = mapped_column(String(80))
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    next_run: Mapped[dt.datetime] = mapped_column(UTCDateTime)
