"""Office and police-unit actions: add an office with its districts, import police units, create, edit and
deactivate one police unit from its page, add and name the office's districts (audited)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.audit import service as audit
from app.core import imports
from app.core.actor import Actor
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.offices.models import Office, OfficeDistrict, PoliceUnit
from app.offices.schemas import DistrictIn, OfficeIn, PoliceUnitIn


def parse_districts(text: str) -> tuple[list[str], dict[str, str]]:
    """``430281:浏阳市,430282`` -> (codes, names); a district without a name is named by its code."""
    codes: list[str] = []
    names: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        code, _, name = item.partition(":")
        codes.append(code.strip())
        names[code.strip()] = name.strip() or code.strip()
    return codes, names


def add_office(code: str, name: str, districts: list[str], names: dict[str, str] | None = None) -> Office:
    """A new office covering ``districts``; a district already covered by another office is refused."""
    try:
        data = OfficeIn().load({"code": code, "name": name, "districts": districts})
    except SchemaError as exc:
        raise ValidationError(f"检察院信息有误：{exc.messages}") from None
    if db.session.scalars(select(Office).where(Office.code == data["code"])).first() is not None:
        raise ConflictError("该检察院代码已存在")
    taken = [d for d in data["districts"] if db.session.get(OfficeDistrict, d) is not None]
    if taken:
        raise ConflictError(f"行政区划已属于其他检察院：{', '.join(taken)}")
    office = Office(code=data["code"], name=data["name"], is_default=False)
    for district in data["districts"]:
        office.districts.append(OfficeDistrict(code=district, name=(names or {}).get(district, district)))
    db.session.add(office)
    db.session.flush()
    return office


def import_police_units(rows: Iterable[dict[str, Any]], *, default_office_id: int) -> tuple[int, int]:
    """Create or update police units by code; every row is checked before anything is written.

    A bad row anywhere raises ValidationError naming every bad row, and nothing is written.
    """
    schema = PoliceUnitIn()
    checked: list[dict[str, Any]] = []
    problems: list[str] = []
    offices = {o.code: o.id for o in db.session.scalars(select(Office))}
    for number, row in enumerate(rows, start=1):
        try:
            data = schema.load(row)
        except SchemaError as exc:
            problems.append(f"第{number}行：{exc.messages}")
            continue
        office_code = data.pop("office")
        if office_code is not None and office_code not in offices:
            problems.append(f"第{number}行：找不到检察院 {office_code}")
            continue
        data["office_id"] = offices[office_code] if office_code else default_office_id
        checked.append(data)
    codes = [d["code"] for d in checked]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(f"代码重复：{', '.join(duplicates)}")
    if problems:
        raise ValidationError("；".join(problems))
    created, updated = imports.upsert_by_code(PoliceUnit, checked)
    return created, updated


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or a JSON list (see ``app.core.imports.read_rows``)."""
    return imports.read_rows(path, optional=("district_code", "office"))


def _police_unit_fields(form: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A page's fields through ``PoliceUnitIn`` (the import's own rules); a blank district is none."""
    raw = {name: (form.get(name) or "").strip() for name in names}
    if not raw.get("district_code"):
        raw["district_code"] = None
    try:
        return dict(PoliceUnitIn(only=names).load(raw))
    except SchemaError as exc:
        raise ValidationError(fields={k: [str(m) for m in (v if isinstance(v, list) else [v])]
                                      for k, v in exc.normalized_messages().items()}) from None


def create_police_unit(office_id: int, form: dict[str, Any], *, actor: Actor, now: dt.datetime) -> PoliceUnit:
    data = _police_unit_fields(form, ("code", "name", "district_code"))
    if db.session.scalar(select(PoliceUnit.id).where(PoliceUnit.code == data["code"])) is not None:
        raise ValidationError(fields={"code": ["该代码已被使用"]})
    unit = PoliceUnit(office_id=office_id, active=True, created_at=now, updated_at=now, **data)
    db.session.add(unit)
    db.session.flush()
    audit.record(actor, "police_unit.create", now=now, target_type="police_unit", target_id=unit.id,
                 office_id=office_id)
    return unit


def update_police_unit(unit: PoliceUnit, form: dict[str, Any], *, actor: Actor, now: dt.datetime) -> None:
    data = _police_unit_fields(form, ("name", "district_code"))
    unit.name, unit.district_code, unit.updated_at = data["name"], data["district_code"], now
    audit.record(actor, "police_unit.update", now=now, target_type="police_unit", target_id=unit.id,
                 office_id=unit.office_id)


def set_police_unit_active(unit: PoliceUnit, active: bool, *, actor: Actor, now: dt.datetime) -> None:
    """A police unit no longer in use leaves the transfer form's list; its past transfers keep its name."""
    unit.active, unit.updated_at = active, now
    audit.record(actor, "police_unit.reactivate" if active else "police_unit.deactivate", now=now,
                 target_type="police_unit", target_id=unit.id, office_id=unit.office_id)


def _district_fields(form: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    try:
        return dict(DistrictIn(only=names).load({name: (form.get(name) or "").strip() for name in names}))
    except SchemaError as exc:
        raise ValidationError(fields={k: [str(m) for m in (v if isinstance(v, list) else [v])]
                                      for k, v in exc.normalized_messages().items()}) from None


def add_district(office_id: int, form: dict[str, Any], *, actor: Actor, now: dt.datetime) -> OfficeDistrict:
    """A district the office covers from now on: public reports from it come here, and it is shown by its name."""
    data = _district_fields(form, ("code", "name"))
    taken = db.session.get(OfficeDistrict, data["code"])
    if taken is not None:
        raise ValidationError(fields={"code": ["该区划已在本院辖区内" if taken.office_id == office_id
                                               else "该区划已属于其他检察院"]})
    district = OfficeDistrict(office_id=office_id, **data)
    db.session.add(district)
    db.session.flush()
    audit.record(actor, "district.add", now=now, target_type="district", target_id=district.code,
                 office_id=office_id)
    return district


def rename_district(district: OfficeDistrict, form: dict[str, Any], *, actor: Actor, now: dt.datetime) -> None:
    district.name = _district_fields(form, ("name",))["name"]
    audit.record(actor, "district.rename", now=now, target_type="district", target_id=district.code,
                 office_id=district.office_id)
