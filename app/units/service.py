"""Member units: create or update from an import file.

After the upsert is committed, the caller fetches the units' mini-program codes with
``qrcodes.fetch_missing(result.codes)`` (``flask units import`` does): WeChat is never
called inside the import's transaction, and its failure never undoes the import.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from marshmallow import ValidationError as SchemaError

from app.core import imports
from app.errors import ValidationError
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
    created, updated = imports.upsert_by_code(Unit, checked)
    return Upserted(created, updated, [data["code"] for data in checked])


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV or a JSON list (see ``app.core.imports.read_rows``)."""
    return imports.read_rows(path, optional=("district_code",))
