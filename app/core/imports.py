"""Registry imports shared by ``flask units import`` and ``flask police-units import``: rows of a CSV or a JSON
list, and create-or-update by code. Checking the rows is each registry's own schema."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.core.fields import csv_flag
from app.errors import ValidationError
from app.extensions import db


def read_rows(path: Path, *, optional: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Rows of a CSV with a header line, or of a JSON list of objects. In a CSV, cells are stripped, an empty
    ``active`` cell takes the default, 是/否 are read as yes/no, and empty ``optional`` cells are left out."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValidationError("JSON 文件应为对象的列表")
        return rows
    found = []
    for row in csv.DictReader(io.StringIO(text)):
        item: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if "active" in item:
            flag = csv_flag(item["active"])
            if flag is None:
                item.pop("active")  # an empty cell: the default (active)
            else:
                item["active"] = flag
        for name in optional:
            if not item.get(name):
                item.pop(name, None)
        found.append(item)
    return found


def upsert_by_code(model: Any, checked: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """Create or update rows of ``model`` by their ``code``; returns (created, updated). Rows are checked already."""
    created = updated = 0
    for data in checked:
        row = db.session.scalars(select(model).where(model.code == data["code"])).one_or_none()
        if row is None:
            db.session.add(model(**data))
            created += 1
        else:
            for key, value in data.items():
                setattr(row, key, value)
            updated += 1
    db.session.flush()
    return created, updated
