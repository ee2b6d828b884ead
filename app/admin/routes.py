"""``/admin/...``: every page scoped to the administrator's own office."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth import service as auth_service
from app.auth.guard import current_actor, staff_required
from app.auth.models import ROLES, StaffUser
from app.core.db import transactional
from app.errors import NotFoundError
from app.extensions import db
from app.offices import queries as offices

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE = 100


@bp.get("/users")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.users")
def users() -> ResponseReturnValue:
    """The office's accounts."""
    rows = db.session.scalars(
        select(StaffUser).where(StaffUser.office_id == current_actor().office_id).order_by(StaffUser.username)
    )
    return render_template("admin/users.html", users=list(rows), now=dt.datetime.now(dt.UTC))


@bp.get("/police-units")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.police_units")
def police_units() -> ResponseReturnValue:
    """The office's police units (imported with ``flask police-units import``)."""
    office_id = current_actor().office_id
    assert office_id is not None
    return render_template("admin/police_units.html", units=offices.police_units(office_id, active_only=False))


def _date(value: str | None) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value or "")
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=8)))


@bp.get("/audit")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.audit")
def audit_log() -> ResponseReturnValue:
    """The office's audit entries, newest first, filtered by actor, action, target and date."""
    args: dict[str, Any] = {k: (request.args.get(k) or "").strip()[:64] for k in ("actor", "action", "target",
                                                                                   "from", "to", "before")}
    stmt = select(AuditEntry).where(AuditEntry.office_id == current_actor().office_id)
    if args["actor"]:
        user = db.session.scalars(select(StaffUser).where(StaffUser.username == args["actor"].lower())).first()
        stmt = stmt.where(AuditEntry.actor_id == (user.id if user else uuid.UUID(int=0)))
    if args["action"]:
        stmt = stmt.where(AuditEntry.action == args["action"])
    if args["target"]:
        stmt = stmt.where(AuditEntry.target_id == args["target"])
    start, end = _date(args["from"]), _date(args["to"])
    if start:
        stmt = stmt.where(AuditEntry.at >= start)
    if end:
        stmt = stmt.where(AuditEntry.at < end + dt.timedelta(days=1))
    if args["before"].isdigit():
        stmt = stmt.where(AuditEntry.seq < int(args["before"]))
    entries = list(db.session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(PAGE + 1)))
    page = entries[:PAGE]
    actor_ids = {e.actor_id for e in page if e.actor_id}
    names = {u.id: u.username for u in db.session.scalars(select(StaffUser).where(StaffUser.id.in_(actor_ids)))} \
        if actor_ids else {}
    return render_template("admin/audit.html", entries=page, names=names, args=args,
                           next_before=page[-1].seq if len(entries) > PAGE else None)


def _office_user(username: str) -> StaffUser:
    user = auth_service.find_by_username(username)
    if user is None or user.office_id != current_actor().office_id:
        raise NotFoundError("找不到该用户")
    return user


@bp.route("/users/<username>/role", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.users.manage")
def user_role(username: str) -> ResponseReturnValue:
    """Change an account's role (sensitive: a recent second factor); every session of that user ends."""
    user = _office_user(username)
    if request.method == "POST":
        auth_service.change_role(user, request.form.get("role", ""), actor=current_actor(),
                                 now=dt.datetime.now(dt.UTC))
        return redirect(url_for("admin.users"), code=303)
    return render_template("admin/user_role.html", user=user, roles=ROLES)
