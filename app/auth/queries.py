"""Reads of staff accounts."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db


def office_users(office_id: int | None) -> list[StaffUser]:
    return list(db.session.scalars(
        select(StaffUser).where(StaffUser.office_id == office_id).order_by(StaffUser.username)
    ))
