"""The outbox: notifications queued in the same transaction as the change they announce; the worker's heartbeats
and the scheduled jobs' leases."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.extensions import db


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """One message for one channel. ``payload`` holds ids and codes only, never personal data."""

    __tablename__ = "outbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    channel: Mapped[str] = mapped_column(String(30), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reporters.id", ondelete="CASCADE"), index=True)
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
    # Delivered in this order, then by time (app.notify.service.priority_of): an urgent report's first word goes
    # out before a backlog of reminders that a scheduled job queued a moment earlier.
    priority: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")

    __table_args__ = (
        # The worker's pick: the pending messages, most pressing first (partial: sent ones pile up for 30 days).
        Index("ix_outbox_pending_priority", "priority", "next_attempt_at",
              postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),
    )


class WorkerHeartbeat(db.Model):  # type: ignore[name-defined,misc]
    """One row per running notify worker, beaten every few seconds; the newest beat says whether any runs."""

    __tablename__ = "notify_workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(64))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


Index("ix_notify_workers_beat_at", WorkerHeartbeat.beat_at)


# Channels a staff member can be reached on, by the names outbox rows carry.
STAFF_CHANNELS: dict[str, str] = {"wecom": "企业微信", "email": "电子邮件", "sms": "短信"}
WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")  # Monday first, as ``date.weekday()``


class DutyShift(db.Model):  # type: ignore[name-defined,misc]
    """One person on duty (值班): on which weekdays, from when to when (China Standard Time), on which channels.

    ``weekdays`` holds the digits of ``date.weekday()`` (``"01234"``: Monday to Friday); a shift whose end is not
    after its start runs past midnight (``22:00``-``08:00``), and ``00:00``-``00:00`` is the whole day. An
    office with no shift at all has every prosecutor and lead on duty around the clock.
    """

    __tablename__ = "duty_shifts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[str] = mapped_column(String(7))
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after midnight, CST
    end_minute: Mapped[int] = mapped_column(Integer)
    channels: Mapped[str] = mapped_column(String(40))  # comma-separated names of STAFF_CHANNELS
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    user: Mapped[Any] = relationship("StaffUser", lazy="joined")

    @property
    def channel_list(self) -> list[str]:
        return [c for c in self.channels.split(",") if c]

    def covers(self, weekday: int, minute: int) -> bool:
        """Whether the shift covers ``minute`` (after midnight, CST) of a day whose weekday is ``weekday``."""
        if self.start_minute == self.end_minute:
            return str(weekday) in self.weekdays
        if self.start_minute < self.end_minute:
            return str(weekday) in self.weekdays and self.start_minute <= minute < self.end_minute
        # Past midnight: the evening belongs to the listed day, the early morning to the day after it.
        return (str(weekday) in self.weekdays and minute >= self.start_minute) or (
            str((weekday - 1) % 7) in self.weekdays and minute < self.end_minute)


class SandboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """A message the sandbox channel kept instead of sending (training mode, training reports): what it says
    (no personal data by construction) and the channel it would have gone out on."""

    __tablename__ = "notify_sandbox"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    outbox_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    would_be: Mapped[str] = mapped_column(String(30))  # the channel it stands in for
    recipient: Mapped[str] = mapped_column(String(80))  # a staff username, or "reporter"
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class NotifyStep(db.Model):  # type: ignore[name-defined,misc]
    """What a scheduled event already sent, so that running it again sends nothing twice: one row per key
    (``escalation:<report>:<n>``, ``overdue:police_receipt:<transfer>``, ``digest:<user>:<date>``)."""

    __tablename__ = "notify_steps"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
