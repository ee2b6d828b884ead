"""Reports, their categories, timeline events, attachments and the tracking-number counter.

What stays in clear follows DOMAIN.md's confidentiality rules (categories,
urgent flag, victim gender and age band, unit, district, channel, timestamps,
statuses). Everything that says who or what happened is sealed per section in
``*_data`` columns under the report's own data key.

Categories are rows of ``report_categories`` (one per code, indexed by code), so
statistics and filters are the same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Uuid, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db
from app.offices.models import DEFAULT_OFFICE_ID
from app.reports.constants import CATEGORIES
from app.units.models import Unit

SEALED_SECTIONS = ("reporter", "victim", "incident", "suspect", "police")
# DOMAIN.md's order of the category codes: how ``Report.categories`` lists them.
_CATEGORY_ORDER = {code: position for position, code in enumerate(CATEGORIES)}


class Report(Sealed, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "reports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tracking_no: Mapped[str] = mapped_column(String(20), unique=True)
    # Idempotency: "<reporter id>:<client_id>" from the API, "web:<sha256 of form key>" from the form.
    client_key: Mapped[str] = mapped_column(String(100), unique=True)
    # Indexed with submitted_at and id below: a reporter's list, newest first.
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reporters.id"))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), index=True, default="new")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # A practice report (CONTRACT.md's ``training``): the training queue only, never counted or notified on a
    # real channel, deleted after 7 days (app/reports/training.py).
    training: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # The office whose staff handle it: its unit's, else the office covering the chosen district, else the default.
    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id"), index=True, default=DEFAULT_OFFICE_ID, nullable=True
    )
    unit_type: Mapped[str | None] = mapped_column(String(40))
    district_code: Mapped[str | None] = mapped_column(String(12))
    victim_gender: Mapped[str] = mapped_column(String(10))
    victim_age_band: Mapped[str] = mapped_column(String(10))

    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    reporter_data: Mapped[bytes] = mapped_column(LargeBinary)
    victim_data: Mapped[bytes] = mapped_column(LargeBinary)
    incident_data: Mapped[bytes] = mapped_column(LargeBinary)
    suspect_data: Mapped[bytes] = mapped_column(LargeBinary)
    police_data: Mapped[bytes] = mapped_column(LargeBinary)
    victim_id_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33), index=True)
    # The victim's name (app.core.idcard.normalise_name), for 倒查's name-only candidates (app/cases).
    victim_name_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33), index=True)
    reporter_phone_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33), index=True)
    # argon2 hash of the one-time 查询码 given on the web receipt.
    status_code_hash: Mapped[str | None] = mapped_column(String(128))

    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledge_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The review workflow (app/review): who handles it, the risk the office sees, how it was closed.
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    risk: Mapped[str | None] = mapped_column(String(10))
    close_reason: Mapped[str | None] = mapped_column(String(30))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id"), index=True)
    # The category rows as bits (bit i: ``CATEGORIES``' i-th code), written by the same setter as the rows, so that
    # the statistics read a period's breakdown by category from the received reports' index alone (app/stats).
    category_mask: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))

    data_key: Mapped[DataKey] = relationship(lazy="joined")
    unit: Mapped[Unit | None] = relationship()
    category_rows: Mapped[list[ReportCategory]] = relationship(
        back_populates="report", cascade="all, delete-orphan", passive_deletes=True
    )
    events: Mapped[list[ReportEvent]] = relationship(
        back_populates="report", order_by="ReportEvent.at, ReportEvent.seq", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="report", order_by="Attachment.created_at", cascade="all, delete-orphan"
    )

    # Two prosecutors acting at once: the second UPDATE finds a stale version.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def categories(self) -> list[str]:
        """The report's category codes in DOMAIN.md's order."""
        return sorted((row.code for row in self.category_rows), key=lambda code: _CATEGORY_ORDER.get(code, 99))

    @categories.setter
    def categories(self, codes: list[str]) -> None:
        unique = list(dict.fromkeys(codes))
        self.category_rows = [ReportCategory(code=code) for code in unique]
        self.category_mask = category_mask(unique)

    def section(self, name: str) -> Any:
        return self.unseal(f"{name}_data")


def category_mask(codes: list[str]) -> int:
    """The bits of ``codes`` (bit i for ``CATEGORIES``' i-th code): ``Report.category_mask``."""
    return sum(1 << _CATEGORY_ORDER[code] for code in set(codes) if code in _CATEGORY_ORDER)


class ReportCategory(db.Model):  # type: ignore[name-defined,misc]
    """One situation a report describes (a code of DOMAIN.md); a report has one to nine."""

    __tablename__ = "report_categories"

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)

    report: Mapped[Report] = relationship(back_populates="category_rows")

    # Statistics and filters by category: the reports of one code without touching the table.
    __table_args__ = (Index("ix_report_categories_code_report_id", "code", "report_id"),)


# A reporter's own list (queries.reporter_reports): newest first, keyset on (submitted_at, id).
Index("ix_reports_reporter_id_submitted_at_id", Report.reporter_id, Report.submitted_at.desc(), Report.id.desc())
# The staff inbox (review/queries.py, migration 0007): an office's open reports (few, however many are closed),
# all of its reports newest first, and those of one status; each keyset on (submitted_at, id).
# The open index holds real reports only (migration 0009): the inbox asks ``training = false``, which each
# backend proves against its own spelling of the predicate.
OPEN_REPORTS = "status <> 'closed'"
OPEN_INCLUDE = ["status", "urgent", "acknowledged_at", "acknowledge_due_at"]
OPEN_REAL_REPORTS_PG, OPEN_REAL_REPORTS_SQLITE = f"{OPEN_REPORTS} AND NOT training", f"{OPEN_REPORTS} AND training = 0"
Index("ix_reports_open_office_id_submitted_at_id", Report.office_id, Report.submitted_at.desc(), Report.id.desc(),
      postgresql_where=text(OPEN_REAL_REPORTS_PG), sqlite_where=text(OPEN_REAL_REPORTS_SQLITE),
      # The tabs' counts (by status, overdue) read the open reports from the index alone on PostgreSQL.
      postgresql_include=OPEN_INCLUDE)
# It also carries what the statistics group the period's received reports by (app/stats, migration 0009): on
# PostgreSQL that pass is an index-only scan of the period's entries.
Index("ix_reports_office_id_submitted_at_id", Report.office_id, Report.submitted_at.desc(), Report.id.desc(),
      postgresql_include=["unit_id", "unit_type", "district_code", "channel", "category_mask", "training"])
Index("ix_reports_office_id_status_submitted_at_id", Report.office_id, Report.status, Report.submitted_at.desc(),
      Report.id.desc())
# Practice reports by age: the 7-day purge and the training queue (app/reports/training.py, migration 0008).
# Partial, holding practice reports only: the real inbox (training false) never picks it over its own indexes, and
# the training tab's count (an office's practice reports) reads only it, whatever the office's history.
PRACTICE_REPORTS = "training"
Index("ix_reports_training_submitted_at", Report.office_id, Report.submitted_at,
      postgresql_where=text(PRACTICE_REPORTS), sqlite_where=text(PRACTICE_REPORTS))


class ReportEvent(Sealed, db.Model):  # type: ignore[name-defined,misc]
    """One step on a report's timeline; ``note_data`` is an internal note, sealed."""

    __tablename__ = "report_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(60))
    note_data: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship(back_populates="events")

    def sealing_key(self) -> DataKey:
        return self.report.data_key


class Attachment(Sealed, db.Model):  # type: ignore[name-defined,misc]
    """An uploaded file, sealed on disk under an opaque name with the report's data key."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    # The office's question (补充材料) this file came with, when the reporter sent it with an answer.
    question_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("report_questions.id", ondelete="SET NULL"), index=True
    )
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    stored_size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(40))
    # SHA-256 (hex) of the file exactly as uploaded, before its metadata were taken off: evidence that a file
    # handed in later is the one reported. None for attachments stored before digests were recorded.
    original_sha256: Mapped[str | None] = mapped_column(String(64))
    filename_data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[Report] = relationship(back_populates="attachments")

    def sealing_key(self) -> DataKey:
        return self.report.data_key


class ClosedReportCount(db.Model):  # type: ignore[name-defined,misc]
    """How many of an office's reports are closed: the inbox's 已办结 tab without counting an office's whole history.

    Kept by ``reports.service.change_status``, in the transaction of each move into or out of ``closed`` (the
    only way a status changes). Only the closed count is kept: the open statuses are counted along the partial
    index of open reports (an office's open work, however long its history), and a counter of new reports would
    be one row every submission of an office waits on.
    """

    __tablename__ = "closed_report_counts"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    closed: Mapped[int] = mapped_column(Integer, default=0)


class TrackingCounter(db.Model):  # type: ignore[name-defined,misc]
    """The last tracking sequence handed out per year, advanced by one upsert (see ``tracking.py``)."""

    __tablename__ = "tracking_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)

# Statistics (app/stats, migrations 0008_stats and 0009_stats_speed): each figure counts on its own timestamp
# within a period; on PostgreSQL each index also holds the columns its figure reads (index-only scans).
Index("ix_reports_office_id_acknowledged_at", Report.office_id, Report.acknowledged_at,
      postgresql_include=["submitted_at", "training"])
Index("ix_reports_office_id_closed_at", Report.office_id, Report.closed_at,
      postgresql_include=["status", "training"])
Index("ix_reports_office_id_acknowledge_due_at", Report.office_id, Report.acknowledge_due_at,
      postgresql_include=["acknowledged_at", "status", "id", "training"])
Index("ix_reports_unit_id_submitted_at", Report.unit_id, Report.submitted_at)
