"""Reads of member units: search for the intake forms, a QR code's scene to its unit."""

from __future__ import annotations

from sqlalchemy import select

from app.errors import NotFoundError
from app.extensions import db
from app.units.models import Unit
from app.units.schemas import SCENE


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
