"""Roster actions (``/admin/roster``): add or remove a duty shift, audited, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.audit import service as audit
from app.auth.models import StaffUser
from app.core.actor import Actor
from app.errors import NotFoundError, ValidationError
from app.extensions import db
from app.notify.models import STAFF_CHANNELS, DutyShift
from app.notify.routing import REVIEWERS
from app.notify.schemas import ShiftIn


def add_shift(form: dict[str, Any], *, actor: Actor, now: dt.datetime) -> DutyShift:
    """Validate the form's values (``ShiftIn``) and add the shift; the user must be an active prosecutor or
    lead of the actor's office."""
    try:
        data = ShiftIn().load(form)
    except SchemaError as exc:
        raise ValidationError(fields={k: [str(m) for m in v] if isinstance(v, list) else [str(next(
            iter(v.values()))[0])] for k, v in exc.messages_dict.items()}) from None
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == data["user"].strip().lower())).first()
    if user is None or user.office_id != actor.office_id or user.role not in REVIEWERS or not user.active:
        raise ValidationError(fields={"user": ["请选择本院在岗的检察官或部门负责人"]})
    shift = DutyShift(
        id=uuid.uuid4(), office_id=actor.office_id, user_id=user.id,
        weekdays="".join(sorted(set(data["weekdays"]))), start_minute=data["start"], end_minute=data["end"],
        channels=",".join(c for c in STAFF_CHANNELS if c in data["channels"]), created_at=now, created_by=actor.id,
    )
    db.session.add(shift)
    db.session.flush()
    audit.record(actor, "roster.add", now=now, target_type="staff_user", target_id=user.id,
                 office_id=actor.office_id)
    return shift


def remove_shift(shift_id: str, *, actor: Actor, now: dt.datetime) -> None:
    try:
        shift = db.session.get(DutyShift, uuid.UUID(shift_id[:36]))
    except ValueError:
        shift = None
    if shift is None or shift.office_id != actor.office_id:
        raise NotFoundError("找不到该值班安排")
    user_id = shift.user_id
    db.session.delete(shift)
    db.session.flush()
    audit.record(actor, "roster.remove", now=now, target_type="staff_user", target_id=user_id,
                 office_id=actor.office_id)
