"""Member units (成员单位): the organisations whose staff must report."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.dbtypes import UTCDateTime, utcnow
from app.crypto.models import DataKey
from app.crypto.sealed import Sealed
from app.extensions import db
from app.offices.models import DEFAULT_OFFICE_ID

# DOMAIN.md, "Obligated reporters: unit types"; the codes are part of the API contract.
UNIT_TYPES: dict[str, str] = {
    "residents_committee": "居（村）民委员会",
    "school": "中小学校",
    "kindergarten": "幼儿园",
    "training_institution": "校外培训机构",
    "youth_venue": "未成年人校外活动场所",
    "school_bus": "校车服务提供者",
    "childcare": "托儿所等托育服务机构",
    "hospital": "医院",
    "maternal_child_health": "妇幼保健院",
    "emergency_center": "急救中心",
    "clinic": "诊所",
    "child_welfare": "儿童福利机构",
    "rescue_station": "救助管理机构",
    "minor_protection_center": "未成年人救助保护机构",
    "social_work": "社会工作服务机构",
    "hotel": "旅店、宾馆",
    "state_organ": "国家机关及公职人员",
    "other": "其他",
}


class Unit(db.Model):  # type: ignore[name-defined,misc]
    """A member unit. ``code`` doubles as the mini-program QR code's ``scene``."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(40), index=True)
    district_code: Mapped[str | None] = mapped_column(String(12))
    # An organisation's address (not a person's): in clear, like the name.
    address: Mapped[str | None] = mapped_column(String(200))
    office_id: Mapped[int] = mapped_column(
        ForeignKey("offices.id"), index=True, default=DEFAULT_OFFICE_ID, nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class UnitLiaison(Sealed, db.Model):  # type: ignore[name-defined,misc]
    """A member unit's contact person (联络人). Name and phone number are personal data: sealed under the
    liaison's own data key; ``phone_bidx`` (a blind index) finds a liaison by the exact number."""

    __tablename__ = "unit_liaisons"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    data_key_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("data_keys.id"), index=True)
    name_data: Mapped[bytes] = mapped_column(LargeBinary)
    phone_data: Mapped[bytes] = mapped_column(LargeBinary)
    phone_bidx: Mapped[bytes] = mapped_column(LargeBinary(33), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    data_key: Mapped[DataKey] = relationship(lazy="joined")


class UnitQrCode(db.Model):  # type: ignore[name-defined,misc]
    """A unit's mini-program code (wxacode), fetched from WeChat once and kept."""

    __tablename__ = "unit_qrcodes"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    scene: Mapped[str] = mapped_column(String(32))
    page: Mapped[str] = mapped_column(String(200))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
