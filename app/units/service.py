"""Member units: create, edit, deactivate and reactivate; their liaisons; imports of many at once.

Every change leaves an audit entry in the same transaction. Liaison names and phone numbers are sealed under
the liaison's own data key; the phone number also gets a blind index (exact search, and the import's way to
know a liaison it has seen before).

After an import is committed, the caller fetches the units' mini-program codes with
``qrcodes.fetch_missing(result.codes, settings=...)`` (``flask units import`` does): WeChat is never called inside the
import's transaction, and its failure never undoes the import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.audit import service as audit
from app.core import imports
from app.core.actor import Actor
from app.crypto.vault import Vault
from app.errors import ValidationError, flatten_messages
from app.extensions import db
from app.units.models import UNIT_TYPES, Unit, UnitLiaison
from app.units.schemas import FIELD_LABELS, IMPORT_FIELDS, IMPORT_HEADERS, REQUIRED_COLUMNS, UnitRowIn

PHONE_INDEX = "unit_liaison_phone"
# The template's example row (app/units/sheets.py): refused, so a forgotten example never becomes a unit.
EXAMPLE_CODE = "EXAMPLE-001"
_TYPE_BY_LABEL = {label: code for code, label in UNIT_TYPES.items()}


@dataclasses.dataclass(frozen=True)
class Upserted:
    created: int
    updated: int
    codes: list[str]  # every unit code of the import, created or updated


@dataclasses.dataclass(frozen=True)
class RowProblem:
    row: int  # the sheet's row number (the header is row 1), or the JSON item's
    field: str | None
    message: str

    @property
    def text(self) -> str:
        label = FIELD_LABELS.get(self.field or "", self.field or "")
        return f"第{self.row}行{f'「{label}」' if label else ''}：{self.message}"


class ImportRejected(ValidationError):
    """An import with bad rows: nothing was written; ``problems`` names every one of them."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"有{len({p.row for p in problems})}行有误，未导入任何单位；请改正后重新导入")
        self.problems = problems


# --- One unit at a time (the staff pages) --------------------------------------------------------------------

def _refuse_taken_code(code: str) -> None:
    if db.session.scalars(select(Unit.id).where(Unit.code == code)).first() is not None:
        raise ValidationError(fields={"code": ["该单位代码已存在，请换一个"]})


def create(data: dict[str, Any], *, office_id: int, actor: Actor, now: dt.datetime, vault: Vault) -> Unit:
    """A new unit of ``office_id`` from ``UnitRowIn`` data (with its first liaison, if given)."""
    _refuse_taken_code(data["code"])
    liaison = (data.pop("liaison_name", None), data.pop("liaison_phone", None))
    unit = Unit(**data, office_id=office_id, created_at=now, updated_at=now)
    db.session.add(unit)
    db.session.flush()
    audit.record(actor, "unit.create", now=now, target_type="unit", target_id=unit.code, office_id=office_id)
    if liaison[0] and liaison[1]:
        add_liaison(unit, {"name": liaison[0], "phone": liaison[1]}, actor=actor, now=now, vault=vault)
    return unit


def update(unit: Unit, data: dict[str, Any], *, actor: Actor, now: dt.datetime) -> Unit:
    """Change a unit's name, type, district or address (its code stays: it is printed on the posters)."""
    for key in ("name", "type", "district_code", "address"):
        if key in data:
            setattr(unit, key, data[key])
    unit.updated_at = now
    db.session.flush()
    audit.record(actor, "unit.update", now=now, target_type="unit", target_id=unit.code, office_id=unit.office_id)
    return unit


def set_active(unit: Unit, active: bool, *, actor: Actor, now: dt.datetime) -> Unit:
    """Deactivate (no new reports name it; its QR codes stop resolving) or reactivate a unit."""
    if unit.active != active:
        unit.active = active
        unit.updated_at = now
        db.session.flush()
        audit.record(actor, "unit.reactivate" if active else "unit.deactivate", now=now, target_type="unit",
                     target_id=unit.code, office_id=unit.office_id)
    return unit


def add_liaison(unit: Unit, data: dict[str, Any], *, actor: Actor, now: dt.datetime, vault: Vault) -> UnitLiaison:
    liaison = UnitLiaison(id=uuid.uuid4(), unit_id=unit.id, data_key=vault.new_data_key(),
                          created_at=now, updated_at=now)
    _seal(liaison, data, vault)
    db.session.add(liaison)
    db.session.flush()
    audit.record(actor, "unit.liaison.add", now=now, target_type="unit_liaison", target_id=liaison.id,
                 office_id=unit.office_id)
    return liaison


def update_liaison(unit: Unit, liaison: UnitLiaison, data: dict[str, Any], *, actor: Actor,
                   now: dt.datetime, vault: Vault) -> UnitLiaison:
    _seal(liaison, data, vault)
    liaison.updated_at = now
    db.session.flush()
    audit.record(actor, "unit.liaison.update", now=now, target_type="unit_liaison", target_id=liaison.id,
                 office_id=unit.office_id)
    return liaison


def remove_liaison(unit: Unit, liaison: UnitLiaison, *, actor: Actor, now: dt.datetime) -> None:
    """Remove a liaison; their data key is destroyed with them, so no backup keeps the name readable."""
    key = liaison.data_key
    db.session.delete(liaison)
    key.wrapped, key.destroyed_at = None, now
    db.session.flush()
    audit.record(actor, "unit.liaison.remove", now=now, target_type="unit_liaison", target_id=liaison.id,
                 office_id=unit.office_id)


def phone_index(phone: str, vault: Vault) -> bytes:
    return vault.blind_index(PHONE_INDEX, phone)


def _seal(liaison: UnitLiaison, data: dict[str, Any], vault: Vault) -> None:
    liaison.seal("name_data", data["name"])
    liaison.seal("phone_data", data["phone"])
    liaison.phone_bidx = phone_index(data["phone"], vault)


# --- Many at once (the upload page and ``flask units import``) -----------------------------------------------

def read_file(data: bytes, filename: str) -> list[imports.Row]:
    """The rows of an uploaded or named .xlsx, .csv or .json file; a file-level problem is a ValidationError,
    and a header the import does not know is reported as row 1."""
    table = imports.read_table(data, filename, optional=("district_code", "address", "liaison_name",
                                                         "liaison_phone"), aliases=IMPORT_HEADERS)
    if table.headers or not table.rows:
        problems = [RowProblem(1, None, f"不认识的列「{name}」（可用的列见模板）")
                    for name in table.headers if name not in IMPORT_FIELDS]
        problems += [RowProblem(1, None, f"缺少必填的列「{FIELD_LABELS[name]}」")
                     for name in REQUIRED_COLUMNS if name not in table.headers and table.headers]
        if problems:
            raise ImportRejected(problems)
    if not table.rows:
        raise ValidationError("文件中没有单位：表头下面至少要有一行")
    return table.rows


def read_rows(path: Path) -> list[imports.Row]:
    return read_file(path.read_bytes(), path.name)


def check_rows(rows: Iterable[imports.Row], *, office_id: int | None) -> list[tuple[int, dict[str, Any]]]:
    """Every row through ``UnitRowIn``, then the rules across rows: codes unique in the file, a code of
    another office's unit refused (``office_id`` None: any office, the CLI). ``ImportRejected`` names
    every bad row; nothing is written here."""
    schema = UnitRowIn()
    checked: list[tuple[int, dict[str, Any]]] = []
    problems: list[RowProblem] = []
    first_row: dict[str, int] = {}
    for row in rows:
        item = dict(row.data)
        if isinstance(item.get("type"), str):
            item["type"] = _TYPE_BY_LABEL.get(item["type"], item["type"])  # the label from the template's list
        try:
            data = schema.load(item)
        except SchemaError as exc:
            for field, messages in flatten_messages(exc.messages).items():
                problems.append(RowProblem(row.number, None if field == "_schema" else field, "；".join(messages)))
            continue
        if data["code"] == EXAMPLE_CODE:
            problems.append(RowProblem(row.number, "code", "这是模板中的示例行，请删除或改为真实单位"))
            continue
        if data["code"] in first_row:
            problems.append(RowProblem(row.number, "code", f"与第{first_row[data['code']]}行的单位代码重复"))
            continue
        first_row[data["code"]] = row.number
        checked.append((row.number, data))
    if office_id is not None and checked:
        foreign = set(db.session.scalars(select(Unit.code).where(
            Unit.code.in_([d["code"] for _, d in checked]), Unit.office_id != office_id)))
        problems += [RowProblem(n, "code", "该代码已是其他检察院的单位，不能在此导入") for n, d in checked
                     if d["code"] in foreign]
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: p.row))
    return checked


def import_rows(rows: Iterable[imports.Row], *, office_id: int | None, actor: Actor, now: dt.datetime,
                vault: Vault) -> Upserted:
    """Create or update units by code, all rows or none. New units belong to ``office_id`` (None: the default
    office); a row's liaison is added unless the unit has one with that phone number (then renamed)."""
    checked = check_rows(rows, office_id=office_id)
    created = updated = 0
    for _number, data in checked:
        liaison = {"name": data.pop("liaison_name", None), "phone": data.pop("liaison_phone", None)}
        unit = db.session.scalars(select(Unit).where(Unit.code == data["code"])).one_or_none()
        if unit is None:
            unit = Unit(**data, created_at=now, updated_at=now)
            if office_id is not None:
                unit.office_id = office_id
            db.session.add(unit)
            created += 1
        else:
            for key, value in data.items():
                setattr(unit, key, value)
            unit.updated_at = now
            updated += 1
        db.session.flush()
        if liaison["name"] and liaison["phone"]:
            _import_liaison(unit, liaison, actor=actor, now=now, vault=vault)
    audit.record(actor, "units.import", now=now, target_type="units", target_id=f"{created}+{updated}",
                 office_id=office_id)
    return Upserted(created, updated, [data["code"] for _, data in checked])


def _import_liaison(unit: Unit, data: dict[str, Any], *, actor: Actor, now: dt.datetime, vault: Vault) -> None:
    known = db.session.scalars(select(UnitLiaison).where(
        UnitLiaison.unit_id == unit.id, UnitLiaison.phone_bidx == phone_index(data["phone"], vault))).first()
    if known is None:
        add_liaison(unit, data, actor=actor, now=now, vault=vault)
    elif known.unseal("name_data") != data["name"]:
        update_liaison(unit, known, data, actor=actor, now=now, vault=vault)

