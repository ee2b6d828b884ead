"""``/admin/...``: every page scoped to the administrator's own office."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from app.admin.blueprint import bp
from app.auth import service as auth_service
from app.auth.guard import current_actor, current_office_id, staff_required
from app.auth.models import StaffUser, roles_for
from app.core.db import transactional
from app.errors import NotFoundError, ValidationError
from app.extensions import db
from app.offices import queries as offices
from app.offices import service as offices_service
from app.offices.models import PoliceUnit


@bp.get("/police-units")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.police_units")
def police_units() -> ResponseReturnValue:
    """The office's police units: created and edited here, or imported with ``flask police-units import``."""
    office_id = current_actor().office_id
    assert office_id is not None
    return render_template("admin/police_units.html", units=offices.police_units(office_id, active_only=False),
                           failed=None, errors={}, values={})


PU_LABELS = {"code": "代码", "name": "名称", "district_code": "行政区划代码"}


def _police_unit_page(template: str, values: dict[str, str], errors: dict[str, list[str]], status: int = 200,
                      **context: Any) -> ResponseReturnValue:
    return render_template(
        template, values=values, errors=errors, labels=PU_LABELS,
        field_errors=[(name, errors[name]) for name in PU_LABELS if name in errors],
        other_errors={name: messages for name, messages in errors.items() if name not in PU_LABELS}, **context,
    ), status


def _office_police_unit(code: str) -> PoliceUnit:
    unit = db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == code[:32])).one_or_none()
    if unit is None or unit.office_id != current_actor().office_id:
        raise NotFoundError("找不到该公安机关")
    return unit


@bp.route("/police-units/new", methods=["GET", "POST"])
@transactional(writes=True)
@staff_required("admin.police_units.manage", held_label="新建公安机关")
def police_unit_new() -> ResponseReturnValue:
    if request.method == "GET":
        return _police_unit_page("admin/police_unit_new.html", {}, {})
    form = {name: (request.form.get(name) or "")[:200] for name in PU_LABELS}
    office_id = current_actor().office_id
    assert office_id is not None
    try:
        unit = offices_service.create_police_unit(office_id, form, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        db.session.rollback()
        return _police_unit_page("admin/police_unit_new.html", form, dict(exc.fields or {}), 422)
    flash(f"已新建公安机关 {unit.name}（{unit.code}）", "done")
    return redirect(url_for("admin.police_units"), code=303)


@bp.post("/police-units/<code>/edit")
@transactional
@staff_required("admin.police_units.manage", held_label="修改公安机关")
def police_unit_edit(code: str) -> ResponseReturnValue:
    unit = _office_police_unit(code)
    form = {name: (request.form.get(name) or "")[:200] for name in ("name", "district_code")}
    try:
        offices_service.update_police_unit(unit, form, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        db.session.rollback()
        return render_template("admin/police_units.html", units=offices.police_units(unit.office_id,
                                                                                     active_only=False),
                               failed=code, errors=dict(exc.fields or {}), values=form), 422
    flash(f"已修改公安机关 {unit.name}（{unit.code}）", "done")
    return redirect(url_for("admin.police_units"), code=303)


@bp.post("/police-units/<code>/deactivate")
@transactional
@staff_required("admin.police_units.manage", held_label="停用公安机关")
def police_unit_deactivate(code: str) -> ResponseReturnValue:
    return _set_police_unit_active(code, False, "已停用公安机关 {name}：移送时不再可选，过去的移送记录不变")


@bp.post("/police-units/<code>/reactivate")
@transactional
@staff_required("admin.police_units.manage", held_label="启用公安机关")
def police_unit_reactivate(code: str) -> ResponseReturnValue:
    return _set_police_unit_active(code, True, "已重新启用公安机关 {name}")


def _set_police_unit_active(code: str, active: bool, done: str) -> ResponseReturnValue:
    unit = _office_police_unit(code)
    offices_service.set_police_unit_active(unit, active, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    flash(done.format(name=unit.name), "done")
    return redirect(url_for("admin.police_units"), code=303)



@bp.get("/districts")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.police_units")
def districts() -> ResponseReturnValue:
    """The office's districts (行政区划): public reports from them come here; their names label the figures."""
    return _districts_page({}, {}, None)


def _districts_page(values: dict[str, str], errors: dict[str, list[str]], failed: str | None,
                    status: int = 200) -> ResponseReturnValue:
    return render_template("admin/districts.html", districts=offices.office_districts(current_office_id()),
                           values=values, errors=errors, failed=failed), status


@bp.post("/districts")
@transactional
@staff_required("admin.police_units.manage", held_label="添加辖区")
def district_add() -> ResponseReturnValue:
    form = {name: (request.form.get(name) or "")[:200] for name in ("code", "name")}
    try:
        district = offices_service.add_district(current_office_id(), form, actor=current_actor(),
                                                now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        db.session.rollback()
        return _districts_page(form, dict(exc.fields or {}), "add", 422)
    flash(f"已添加辖区 {district.name}（{district.code}）：来自该区划的公众报告将转到本院", "done")
    return redirect(url_for("admin.districts"), code=303)


@bp.post("/districts/<code>/rename")
@transactional
@staff_required("admin.police_units.manage", held_label="修改区划名称")
def district_rename(code: str) -> ResponseReturnValue:
    district = next((d for d in offices.office_districts(current_office_id()) if d.code == code[:12]), None)
    if district is None:
        raise NotFoundError("找不到该区划")
    form = {"name": (request.form.get("name") or "")[:200]}
    try:
        offices_service.rename_district(district, form, actor=current_actor(), now=dt.datetime.now(dt.UTC))
    except ValidationError as exc:
        db.session.rollback()
        return _districts_page(form, dict(exc.fields or {}), district.code, 422)
    flash(f"已将区划 {district.code} 命名为 {district.name}", "done")
    return redirect(url_for("admin.districts"), code=303)


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
    training = current_app.config["QZBG"].training
    if request.method == "POST":
        auth_service.change_role(user, request.form.get("role", ""), actor=current_actor(),
                                 now=dt.datetime.now(dt.UTC), training=training)
        return redirect(url_for("admin.users"), code=303)
    return render_template("admin/user_role.html", user=user, roles=roles_for(training))


@bp.post("/users/<username>/unlock")
@transactional
@staff_required("admin.users.manage", held_label="解除账号锁定")
def user_unlock(username: str) -> ResponseReturnValue:
    """Lift the lock of an account after too many failed logins (audited), before its 15 minutes are over."""
    auth_service.unlock(_office_user(username), actor=current_actor(), now=dt.datetime.now(dt.UTC))
    return redirect(url_for("admin.users"), code=303)
