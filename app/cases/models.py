"""A case the police filed, as an imported list gives it, and the member units it names.

The victim's ID number and name and the place are personal data: sealed under the case's own data key.
``victim_id_bidx`` (the reports' blind index, purpose ``victim.id_number``) is how a case meets the reports that
match it without anything being decrypted. The matching window (30 days before the filing date to its end, China
time) is kept as two instants so that both backends compare it the same way.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db

DECISIONS = ("confirmed", "excused")


class FiledCase(Sealed, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "filed_cases"
    __table_args__ = (UniqueConstraint("office_id", "case_no", name="uq_filed_cases_office_id_case_no"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    case_no: Mapped[str] = mapped_column(String(64))
    filed_on: Mapped[dt.date] = mapped_column(Date, index=True)
    category: Mapped[str | None] = mapped_column(String(40))
    victim_age: Mapped[int | None] = mapped_column(Integer)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    victim_data: Mapped[bytes] = mapped_column(LargeBinary)  # {"id_number": ..., "name": ...}
    place_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    victim_id_bidx: Mapped[bytes] = mapped_column(LargeBinary(33), index=True)
    victim_name_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(33))  # name-only candidates
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey] = relationship(lazy="joined")
    units: Mapped[list[FiledCaseUnit]] = relationship(back_populates="case", cascade="all, delete-orphan",
                                                      order_by="FiledCaseUnit.unit_id")


class FiledCaseUnit(db.Model):  # type: ignore[name-defined,misc]
    """A member unit a case names; a prosecutor's finding when the unit did not report it (confirmed, or excused
    with a reason)."""

    __tablename__ = "filed_case_units"

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("filed_cases.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    decision: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A report of the unit with the victim's name but not the ID number, judged by a prosecutor: "same" (the unit
    # reported the case: it counts as reported) or "different".
    name_match: Mapped[str | None] = mapped_column(String(10))
    name_match_report_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"),
                                                                    index=True)

    case: Mapped[FiledCase] = relationship(back_populates="units")


class Recommendation(db.Model):  # type: ignore[name-defined,misc]
    """A 检察建议 to a member unit over its 应报未报 of a period: when it was sent, and when the unit answered."""

    __tablename__ = "recommendations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    period_first: Mapped[dt.date] = mapped_column(Date)
    period_last: Mapped[dt.date] = mapped_column(Date)
    findings: Mapped[int] = mapped_column(Integer)  # the unit's 应报未报 cases when it was sent
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
