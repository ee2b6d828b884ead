"""Reads of member units: search for the intake forms, a QR code's scene to its unit; the staff pages' lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select

from app.core.db import by_text_id
from app.core.fields import clean_text
from app.errors import NotFoundError
from app.extensions import db
from app.units.models import UNIT_TYPES, Unit, UnitLiaison
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


# --- Staff reads: an office's units (admin), one unit's liaisons, a liaison's view of their unit ---------------

PER_PAGE = 50


@dataclasses.dataclass(frozen=True)
class UnitFilters:
    q: str = ""
    type: str = ""
    active: str = ""  # "1" active, "0" inactive, "" both
    page: int = 1


@dataclasses.dataclass(frozen=True)
class UnitPage:
    units: list[Unit]
    reports: dict[int, int]  # unit id -> reports naming it
    liaisons: dict[int, int]  # unit id -> liaisons
    total: int
    pages: int


def parse_unit_filters(args: Mapping[str, str]) -> UnitFilters:
    """The list's query string; a value that is not one of the choices is no filter (never an error)."""
    q = clean_text(str(args.get("q", ""))[:50], multiline=False)
    unit_type = str(args.get("type", ""))
    active = str(args.get("active", ""))
    return UnitFilters(q=q, type=unit_type if unit_type in UNIT_TYPES else "",
                       active=active if active in ("1", "0") else "", page=parse_page(args.get("page")))


def parse_page(value: str | None) -> int:
    """A page number from the query string: 1 unless it is a plain number from 1 to 10000."""
    text = str(value or "")
    return int(text) if len(text) <= 5 and text.isascii() and text.isdigit() and 0 < int(text) <= 10_000 else 1


def office_units(office_id: int, filters: UnitFilters, *, report_counts: Callable[[list[int]], dict[int, int]],
                 phone_bidx: bytes | None = None) -> UnitPage:
    """One page of an office's units by name, with how many reports name each (``report_counts`` of the page's
    unit ids: ``app.reports.of_unit.report_counts``) and how many liaisons it has. ``q`` matches a name or code
    fragment, or (``phone_bidx``) a liaison's exact phone number."""
    stmt = select(Unit).where(Unit.office_id == office_id)
    if filters.type:
        stmt = stmt.where(Unit.type == filters.type)
    if filters.active:
        stmt = stmt.where(Unit.active.is_(filters.active == "1"))
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        match = Unit.name.like(f"%{escaped}%", escape="\\") | func.lower(Unit.code).like(
            f"%{escaped.lower()}%", escape="\\")
        if phone_bidx is not None:
            match = match | Unit.id.in_(select(UnitLiaison.unit_id).where(UnitLiaison.phone_bidx == phone_bidx))
        stmt = stmt.where(match)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(filters.page, pages)
    units = list(db.session.scalars(stmt.order_by(Unit.name, Unit.id).offset((page - 1) * PER_PAGE)
                                    .limit(PER_PAGE)))
    ids = [u.id for u in units]
    return UnitPage(units, report_counts(ids), _counts(UnitLiaison.unit_id, ids), total, pages)


def _counts(column: Any, ids: list[int], *where: Any) -> dict[int, int]:
    if not ids:
        return {}
    stmt = select(column, func.count()).where(column.in_(ids), *where).group_by(column)
    return dict(db.session.execute(stmt).all())


def office_unit(office_id: int | None, unit_id: int) -> Unit:
    """A unit of this office, or not found (another office's unit is as absent as one that never was)."""
    unit = db.session.get(Unit, unit_id)
    if unit is None or office_id is None or unit.office_id != office_id:
        raise NotFoundError("找不到该单位")
    return unit


def liaisons(unit: Unit) -> list[UnitLiaison]:
    return list(db.session.scalars(select(UnitLiaison).where(UnitLiaison.unit_id == unit.id)
                                   .order_by(UnitLiaison.created_at, UnitLiaison.id)))


def liaison_of(unit: Unit, liaison_id: str) -> UnitLiaison:
    liaison = by_text_id(UnitLiaison, liaison_id)
    if liaison is None or liaison.unit_id != unit.id:
        raise NotFoundError("找不到该联络人")
    return liaison


def poster_units(office_id: int, filters: UnitFilters) -> list[Unit]:
    """The office's active units for the poster sheet, by name (filtered by type, name or code)."""
    stmt = select(Unit).where(Unit.office_id == office_id, Unit.active.is_(True)).order_by(Unit.name, Unit.id)
    if filters.type:
        stmt = stmt.where(Unit.type == filters.type)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Unit.name.like(f"%{escaped}%", escape="\\") | (func.lower(Unit.code) == filters.q.lower()))
    return list(db.session.scalars(stmt.limit(2000)))


def active_units_of(office_id: int) -> list[Unit]:
    """The office's active member units by name, for a choice of one."""
    return list(db.session.scalars(select(Unit).where(Unit.office_id == office_id, Unit.active.is_(True))
                                   .order_by(Unit.name)))
