"""A report's records beside it: transfers to police (with their feedback and filing supervision), questions
to the reporter (and the reporter's answers), referrals to other agencies. The staff pages and actions that
make them are app/review's. Free texts are sealed with the report's data key; codes, dates, statuses and
document numbers stay in clear for deadlines and statistics."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, Date, ForeignKey, Index, LargeBinary, String, Uuid, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db
from app.offices.models import PoliceUnit
from app.reports.models import Report

FEEDBACK_OUTCOMES: dict[str, str] = {
    "accepted": "受案调查", "filed": "立案侦查", "not_filed": "不予立案", "referred": "移送其他机关", "other": "其他",
}
SUPERVISION_RESULTS: dict[str, str] = {"notify_filing": "通知立案", "accept_reasons": "理由成立"}
AGENCIES: dict[str, str] = {
    "civil_affairs": "民政部门", "education": "教育部门", "womens_federation": "妇联", "youth_league": "团委",
    "other": "其他",
}
CLOSE_REASONS: dict[str, str] = {
    "after_transfer": "移送后办结", "no_transfer_needed": "经核实无需移送", "duplicate": "重复线索",
    "insufficient": "信息不足无法核实", "other": "其他",
}
RISKS: dict[str, str] = {"low": "低", "medium": "中", "high": "高"}


STATS_INDEXES: dict[str, list[str]] = {  # each also includes ``training``: practice transfers never count
    "created_at": ["report_id", "report_submitted_at", "training"],
    "feedback_at": ["report_id", "feedback_outcome", "created_at", "training"],
    "supervision_requested_at": ["report_id", "training"],
    "report_submitted_at": ["report_id", "training"],
    "receipt_due_at": ["report_id", "acknowledged_at", "state", "training"],
    "feedback_due_at": ["report_id", "feedback_at", "state", "training"],
    "supervision_answer_due_at": ["report_id", "explained_at", "concluded_at", "state", "training"],
}


class _OfReport(Sealed):
    report: Report

    def sealing_key(self) -> DataKey:
        return self.report.data_key


class Transfer(_OfReport, db.Model):  # type: ignore[name-defined,misc]
    """One transfer of a report to a police unit (移送公安), and what the police did with it."""

    __tablename__ = "transfers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    police_unit_id: Mapped[int] = mapped_column(ForeignKey("police_units.id"), index=True)
    # The report's office and submission time, copied when the transfer is made (neither changes afterwards), so
    # that the statistics count an office's transfers without reading reports (app/stats, migration 0009).
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    report_submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The report's training flag, copied likewise: a practice report's transfers count nowhere either.
    training: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # open -> returned | done (the report was closed or transferred again)
    state: Mapped[str] = mapped_column(String(12), default="open", index=True)
    # 文号 and 案号 are typed freely and may carry a name or an ID number: sealed (migration 0016).
    document_no_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    note_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    share_reporter: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    receipt_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    feedback_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    return_reason_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    feedback_outcome: Mapped[str | None] = mapped_column(String(20))
    case_no_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    decided_on: Mapped[dt.date | None] = mapped_column(Date)
    feedback_note_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    feedback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    supervision_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    supervision_note_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    supervision_answer_due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    explained_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    explanation_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    concluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    conclusion: Mapped[str | None] = mapped_column(String(20))
    conclusion_note_data: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship()
    police_unit: Mapped[PoliceUnit] = relationship()

    # Statistics (app/stats, migration 0009_stats_speed): an office's transfers of a period by each of their
    # timestamps, each index holding what its figure reads (index-only scans on PostgreSQL).
    __table_args__ = tuple(Index(f"ix_transfers_office_id_{column}", "office_id", column, postgresql_include=include)
                           for column, include in STATS_INDEXES.items())


class Question(_OfReport, db.Model):  # type: ignore[name-defined,misc]
    """A question the office asked the reporter (补充材料), and the reporter's answer."""

    __tablename__ = "report_questions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    asked_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    text_data: Mapped[bytes] = mapped_column(LargeBinary)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer_data: Mapped[bytes | None] = mapped_column(LargeBinary)

    report: Mapped[Report] = relationship()


class Referral(_OfReport, db.Model):  # type: ignore[name-defined,misc]
    """A request for help to another agency (民政, 教育, 妇联, 团委 ...); the report stays with the office."""

    __tablename__ = "referrals"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    agency: Mapped[str] = mapped_column(String(30))
    note_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    outcome_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    report: Mapped[Report] = relationship()
