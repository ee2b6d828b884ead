"""Offices, the districts each covers, and police units."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.extensions import db

DEFAULT_OFFICE_CODE = "default"


class Office(db.Model):  # type: ignore[name-defined,misc]
    """A procuratorate office; its 未检办 handles the reports routed to it."""

    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    districts: Mapped[list[OfficeDistrict]] = relationship(
        back_populates="office", order_by="OfficeDistrict.code", cascade="all, delete-orphan"
    )


class OfficeDistrict(db.Model):  # type: ignore[name-defined,misc]
    """A district (行政区划代码) an office covers; a public report from it goes to that office."""

    __tablename__ = "office_districts"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))

    office: Mapped[Office] = relationship(back_populates="districts")


class PoliceUnit(db.Model):  # type: ignore[name-defined,misc]
    """A police unit (派出所, 刑侦大队, 治安大队 ...) of an office's area."""

    __tablename__ = "police_units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    district_code: Mapped[str | None] = mapped_column(String(12))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship()



# Column default for rows that belong to an office: the default office, looked up inside the INSERT itself.
DEFAULT_OFFICE_ID = select(Office.id).where(Office.is_default.is_(True)).order_by(Office.id).limit(1).scalar_subquery()
