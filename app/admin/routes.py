"""``/admin/...``: every page scoped to the administrator's own office."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.admin import audit_entries
from app.admin.blueprint import bp
from app.auth import service as auth_service
from app.auth.guard import current_actor, staff_required
from app.auth.models import ROLES, StaffUser
from app.core.db import transactional
from app.errors import NotFoundError
from app.offices import queries as offices


@bp.get("/police-units")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.police_units")
def police_units() -> ResponseReturnValue:
    """The office's police units (imported with ``flask police-units import``)."""
    office_id = current_actor().office_id
    assert office_id is not None
    return render_template("admin/police_units.html", units=offices.police_units(office_id, active_only=False))


@bp.get("/audit")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.audit")
def audit_log() -> ResponseReturnValue:
    """The office's audit entries, newest first, filtered by actor, action, target and date."""
    args: dict[str, Any] = {k: (request.args.get(k) or "").strip()[:64] for k in ("actor", "action", "target",
                                                                                   "from", "to", "before")}
    page = audit_entries.office_entries(current_actor().office_id, args)
    return render_template("admin/audit.html", entries=page.entries, names=page.names, args=args,
                           next_before=page.next_before)


def _office_user(username: str) -> StaffUser:
    user = auth_service.find_by_username(username)
    if user is None or user.office_id != current_actor().office_id:
        raise NotFoundError("找不到该用户")
    return user


@bp.route("/users/<username>/role", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.users.manage", held_label="更改账号角色")
def user_role(username: str) -> ResponseReturnValue:
    """Change an account's role (sensitive: a recent second factor); every session of that user ends."""
    user = _office_user(username)
    if request.method == "POST":
        auth_service.change_role(user, request.form.get("role", ""), actor=current_actor(),
                                 now=dt.datetime.now(dt.UTC))
        return redirect(url_for("admin.users"), code=303)
    return render_template("admin/user_role.html", user=user, roles=ROLES)


@bp.post("/users/<username>/unlock")
@transactional
@staff_required("admin.users.manage", held_label="解除账号锁定")
def user_unlock(username: str) -> ResponseReturnValue:
    """Lift the lock of an account after too many failed logins (audited), before its 15 minutes are over."""
    auth_service.unlock(_office_user(username), actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("admin.users"), code=303)
