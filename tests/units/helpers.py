"""Small helpers for the unit page tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.units.models import Unit
from tests.auth.conftest import csrf_of


def form_post(client: Any, path: str, data: dict[str, Any], *, form_page: str | None = None, **kwargs: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client, form_page or path), **data}, **kwargs)


def units() -> dict[str, Unit]:
    db.session.expire_all()
    return {u.code: u for u in db.session.scalars(select(Unit))}


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
