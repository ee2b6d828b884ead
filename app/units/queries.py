"""Reads of member units: search for the intake forms, a QR code's scene to its unit."""

from __future__ import annotations

from sqlalchemy import func, select

from app.errors import NotFoundError
from app.extensions import db
from app.units.models import Unit
from app.units.schemas import SCENE


def search(q: str | None, unit_type: str | None, limit: int = 200) -> list[Unit]:
    """Active units whose name contains ``q`` or whose code is ``q`` (any case: people type codes off a poster)."""
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.name, Unit.id).limit(limit)
    if unit_type:
        stmt = stmt.where(Unit.type == unit_type)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Unit.name.like(f"%{escaped}%", escape="\\") | (func.lower(Unit.code) == q.lower()))
    return list(db.session.scalars(stmt))


def by_code(code: str, *, active_only: bool = True) -> Unit:
    """The unit of a QR code's scene. The exact code wins; otherwise the one unit whose code differs only in case."""
    if not SCENE.match(code):
        raise NotFoundError("找不到该单位，二维码可能已失效")
    # Codes are ASCII (SCENE), where SQL lower() and str.lower() agree on both backends.
    candidates = list(db.session.scalars(select(Unit).where(func.lower(Unit.code) == code.lower()).limit(10)))
    exact = [u for u in candidates if u.code == code]
    unit = exact[0] if exact else candidates[0] if len(candidates) == 1 else None
    if unit is None or (active_only and not unit.active):
        raise NotFoundError("找不到该单位，二维码可能已失效")
    return unit


def is_active(unit_id: int) -> bool:
    """Whether a unit of this id exists and takes reports."""
    return bool(db.session.scalar(select(Unit.active).where(Unit.id == unit_id)))
