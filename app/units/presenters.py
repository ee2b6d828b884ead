"""What the unit pages show: a liaison's opened contact details (a unit report: app.reports.of_unit)."""

from __future__ import annotations

import dataclasses
import uuid

from app.units.models import UnitLiaison


@dataclasses.dataclass(frozen=True)
class LiaisonView:
    id: uuid.UUID
    name: str
    phone: str


def liaison(row: UnitLiaison) -> LiaisonView:
    return LiaisonView(row.id, row.unseal("name_data"), row.unseal("phone_data"))
