"""Member units: search for the intake forms, resolve QR scenes, import from a file."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError
from marshmallow import fields, validates
from sqlalchemy import select

from app.errors import NotFoundError, ValidationError
from app.extensions import db
from app.schemas import Choice, StrictSchema, Text
from app.units.models import UNIT_TYPES, Unit

# A mini-program QR code's scene: at most 32 visible ASCII characters from WeChat's allowed set.
SCENE = re.compile(r"^[0-9A-Za-z!#$&'()*+,/:;=?@._~-]{1,32}$")


class UnitIn(StrictSchema):
    code = Text(required=True, max_length=32)
    name = Text(required=True, max_length=100)
    type = Choice(tuple(UNIT_TYPES), required=True)
    district_code = Text(load_default=None, allow_none=True, max_length=12)
    active = fields.Boolean(load_default=True)

    @validates("code")
    def check_code(self, value: str, **kwargs: Any) -> None:
        if not SCENE.match(value):
            raise SchemaError("单位代码须为1至32个英文字母、数字或 !#$&'()*+,/:;=?@._~- 字符")


def search(q: str | None, unit_type: str | None, limit: int = 200) -> list[Unit]:
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.name, Unit.id).limit(limit)
    if unit_type:
        stmt = stmt.where(Unit.type == unit_type)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Unit.name.like(f"%{escaped}%", escape="\\") | (Unit.code == q))
    return list(db.session.scalars(stmt))


def by_code(code: str, *, active_only: bool = True) -> Unit:
    if not SCENE.match(code):
        raise NotFoundError("找不到该单位，二维码可能已失效")
    unit = db.session.scalars(select(Unit).where(Unit.code == code)).one_or_none()
    if unit is None or (active_only and not unit.active):
        raise NotFoundError("找不到该单位，二维码可能已失效")
    return unit


def upsert(rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
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
    return created, updated


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
            item["active"] = item["active"] not in ("0", "false", "否", "")
        if not item.get("district_code"):
            item.pop("district_code", None)
        rows.append(item)
    return rows
