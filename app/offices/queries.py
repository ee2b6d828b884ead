"""Reads of offices and police units."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFoundError
from app.extensions import db
from app.offices.models import Office, OfficeDistrict, PoliceUnit


def default_office() -> Office:
    office = db.session.scalars(select(Office).where(Office.is_default.is_(True))).first()
    if office is None:  # the first migration makes one; a database without it is broken
        raise RuntimeError("no default office: run flask db upgrade")
    return office


def by_code(code: str) -> Office:
    office = db.session.scalars(select(Office).where(Office.code == code)).one_or_none()
    if office is None:
        raise NotFoundError("找不到该检察院")
    return office


def office_for_district(district_code: str | None) -> Office:
    """The office covering ``district_code``; the default office when none does (or none was chosen)."""
    if district_code:
        district = db.session.get(OfficeDistrict, district_code)
        if district is not None:
            return district.office
    return default_office()


def districts() -> list[OfficeDistrict]:
    """Every district an office covers, for the forms' district choice."""
    return list(db.session.scalars(select(OfficeDistrict).order_by(OfficeDistrict.code)))


def police_units(office_id: int, *, active_only: bool = True) -> list[PoliceUnit]:
    stmt = select(PoliceUnit).where(PoliceUnit.office_id == office_id).order_by(PoliceUnit.name, PoliceUnit.id)
    if active_only:
        stmt = stmt.where(PoliceUnit.active.is_(True))
    return list(db.session.scalars(stmt))


def police_unit_by_code(code: str) -> PoliceUnit:
    unit = db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == code)).one_or_none()
    if unit is None:
        raise NotFoundError("找不到该公安机关")
    return unit
