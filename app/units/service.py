"""Member units: create or update from an import file.

After the upsert is committed, the caller fetches the units' mini-program codes with
``qrcodes.fetch_missing(result.codes)`` (``flask units import`` does): WeChat is never
called inside the import's transaction, and its failure never undoes the import.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.core.fields import csv_flag
from app.errors import ValidationError
from app.extensions import db
from app.units.models import Unit
from app.units.schemas import UnitIn


@dataclasses.dataclass(frozen=True)
class Upserted:
    created: int
    updated: int
    codes: list[str]  # every unit code of the import, created or updated


def upsert(rows: Iterable[dict[str, Any]]) -> Upserted:
    """Create or update units by code; every row is checked before anything is written."""
    schema = UnitIn()
    checked = []
    for number, row in enumerate(rows, start=1):
        try:
            checked.append(schema.load(row))
        except SchemaError as exc:
            raise ValidationError(f"第{number}行有误：{exc.messages}") from None
    created = updated = 0
    for data in checked:
        unit = db.session.scalars(select(Unit).where(Unit.code == data["code"])).one_or_none()
        if unit is None:
            db.session.add(Unit(**data))
            created += 1
        else:
            for key, value in data.items():
                setattr(unit, key, value)
            updated += 1
    db.session.flush()
    return Upserted(created, updated, [data["code"] for data in checked])


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header: code,name,type[,district_code,active]) or a JSON list."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise ValidationError("JSON 文件应为单位对象的列表")
        return rows
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        item: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if "active" in item:
            flag = csv_flag(item["active"])
            if flag is None:
                item.pop("active")  # an empty cell: the default (active)
            else:
                item["active"] = flag
        if not item.get("district_code"):
            item.pop("district_code", None)
        rows.append(item)
    return rows
