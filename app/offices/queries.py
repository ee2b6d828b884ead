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


def office_districts(office_id: int) -> list[OfficeDistrict]:
    return list(db.session.scalars(select(OfficeDistrict).where(OfficeDistrict.office_id == office_id)
                                   .order_by(OfficeDistrict.code)))


def district_names() -> dict[str, str]:
    """行政区划代码 -> its name, for every district an office named (``flask offices add --districts
    430181:浏阳市``); a district named by its code only is left out, so a caller falls back to its own label."""
    return {d.code: d.name for d in districts() if d.name and d.name != d.code}


def district_label(code: str | None, names: dict[str, str]) -> str:
    """How a district is shown to people: its name, else its code said to be one, else 未填写."""
    if not code:
        return "未填写"
    return names.get(code) or f"区划 {code}"


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


def office_of(office_id: int) -> Office:
    office = db.session.get(Office, office_id)
    if office is None:
        raise NotFoundError("找不到该检察院")
    return office
