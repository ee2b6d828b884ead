"""``/admin/units``: an administrator's member units (their own office's only): list, create, edit, deactivate,
liaisons, bulk import with its template, and the sheet of every poster for printing."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select

from app.admin.blueprint import bp
from app.auth.guard import current_actor, current_office_id, staff_required
from app.clients.wechat import configured
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.errors import AppError, NotFoundError, ValidationError, flatten_messages
from app.extensions import db
from app.reports import of_unit
from app.units import presenters, qrcodes, queries, service, sheets
from app.units.models import UNIT_TYPES, Unit
from app.units.schemas import FIELD_LABELS, LiaisonIn, UnitIn, UnitRowIn

IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_SUFFIXES = (".xlsx", ".csv")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTICES = {
    "created": "单位已新建", "updated": "单位信息已保存",
    "deactivated": "单位已停用：二维码不再有效，新报告不能再选择该单位",
    "reactivated": "单位已重新启用", "liaison_added": "联络人已添加", "liaison_updated": "联络人已保存",
    "liaison_removed": "联络人已删除",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _unit(unit_id: str) -> Unit:
    """The path's unit, of the administrator's office: by its code (CONTRACT.md's ``/admin/units/<code>``) or by
    its number (a string converter: anything else is a 404 after the guard)."""
    office_id = current_actor().office_id
    if unit_id.isascii() and len(unit_id) <= 32:
        by_code = db.session.scalars(select(Unit).where(Unit.office_id == office_id, Unit.code == unit_id)).first()
        if by_code is not None:
            return by_code
    if not (unit_id.isascii() and unit_id.isdigit() and len(unit_id) <= 9):
        raise NotFoundError("找不到该单位")
    return queries.office_unit(office_id, int(unit_id))



def _form_data() -> dict[str, Any]:
    return {key: value for key, value in request.form.items() if key not in ("csrf_token",)}


def _load(schema: Any, data: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except SchemaError as exc:
        raise ValidationError(fields=flatten_messages(exc.messages)) from None
    return loaded


def _form(template: str, names: tuple[str, ...], values: dict[str, Any], errors: dict[str, list[str]],
          status: int = 200, **context: Any) -> ResponseReturnValue:
    field_errors = [(name, errors[name]) for name in names if name in errors]
    other_errors = {name: messages for name, messages in errors.items() if name not in names}
    return render_template(template, values=values, errors=errors, field_errors=field_errors,
                           other_errors=other_errors, types=UNIT_TYPES, **context), status


@bp.get("/units")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.units")
def list_units() -> ResponseReturnValue:
    """The office's units: search by name, code or a liaison's phone number; filter by type and state."""
    filters = queries.parse_unit_filters(request.args)
    found = queries.office_units(current_office_id(), filters, report_counts=of_unit.report_counts,
                                 phone_bidx=_phone_bidx(filters.q))
    imported = [queries.parse_page(request.args.get(k)) if request.args.get(k) else 0 for k in ("created", "updated")]
    return render_template("admin/units.html", found=found, filters=filters, types=UNIT_TYPES,
                           imported=imported if "created" in request.args else None)


def _phone_bidx(q: str) -> bytes | None:
    try:
        phone = LiaisonIn().fields["phone"].deserialize(q) if q else None
    except SchemaError:
        return None
    return service.phone_index(phone, get_vault()) if phone else None


UNIT_FIELDS = ("code", "name", "type", "district_code", "address", "liaison_name", "liaison_phone")


@bp.route("/units/new", methods=["GET", "POST"])
@transactional
@staff_required("admin.units")
def create_unit() -> ResponseReturnValue:
    """A new unit of the office, with its first liaison if given."""
    if request.method == "GET":
        return _form("admin/unit_form.html", UNIT_FIELDS, {}, {}, unit=None)
    data = _form_data()
    try:
        unit = service.create(_load(UnitRowIn(exclude=("active",)), data), office_id=current_office_id(),
                              actor=current_actor(), now=_now(), vault=get_vault())
    except ValidationError as exc:
        return _form("admin/unit_form.html", UNIT_FIELDS, data, exc.fields or {"_schema": [exc.message]}, 422,
                     unit=None)
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done="created"), code=303)


@bp.get("/units/<unit_id>")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.units")
def unit_detail(unit_id: str) -> ResponseReturnValue:
    """One unit: its fields, liaisons (opened), report count, QR codes and poster, and what may be changed."""
    return _detail_page(_unit(unit_id))


def _detail_page(unit: Unit, *, login_values: dict[str, str] | None = None,
                 login_errors: dict[str, list[str]] | None = None, status: int = 200) -> ResponseReturnValue:
    settings = current_app.config["QZBG"]
    return render_template(
        "admin/unit_detail.html", unit=unit, unit_type=UNIT_TYPES.get(unit.type, unit.type),
        liaisons=[presenters.liaison(row) for row in queries.liaisons(unit)], reports=of_unit.report_count(unit),
        with_wxacode=unit.active and configured(settings) and qrcodes.has_wxacode(unit, settings.wechat_report_page),
        notice=NOTICES.get(request.args.get("done", "")), values=login_values or {}, errors=login_errors or {},
    ), status


EDIT_FIELDS = ("name", "type", "district_code", "address")


@bp.route("/units/<unit_id>/edit", methods=["GET", "POST"])
@transactional
@staff_required("admin.units")
def edit_unit(unit_id: str) -> ResponseReturnValue:
    """Change the name, type, district or address (the code is on printed posters: it stays)."""
    unit = _unit(unit_id)
    if request.method == "GET":
        values = {key: getattr(unit, key) or "" for key in EDIT_FIELDS}
        return _form("admin/unit_form.html", EDIT_FIELDS, values, {}, unit=unit)
    data = _form_data()
    try:
        service.update(unit, _load(UnitIn(exclude=("code", "active")), data), actor=current_actor(), now=_now())
    except ValidationError as exc:
        return _form("admin/unit_form.html", EDIT_FIELDS, data, exc.fields or {}, 422, unit=unit)
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done="updated"), code=303)


@bp.post("/units/<unit_id>/active")
@transactional
@staff_required("admin.units")
def set_unit_active(unit_id: str) -> ResponseReturnValue:
    """Deactivate (``active=0``) or reactivate (``active=1``) a unit."""
    unit = _unit(unit_id)
    choice = request.form.get("active")
    if choice not in ("0", "1"):
        raise ValidationError("请选择停用或启用")
    service.set_active(unit, choice == "1", actor=current_actor(), now=_now())
    done = "reactivated" if choice == "1" else "deactivated"
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done=done), code=303)


LIAISON_FIELDS = ("name", "phone")


@bp.route("/units/<unit_id>/liaisons/new", methods=["GET", "POST"])
@transactional
@staff_required("admin.units")
def add_liaison(unit_id: str) -> ResponseReturnValue:
    unit = _unit(unit_id)
    if request.method == "GET":
        return _form("admin/liaison_form.html", LIAISON_FIELDS, {}, {}, unit=unit, liaison_id=None)
    data = _form_data()
    try:
        service.add_liaison(unit, _load(LiaisonIn(), data), actor=current_actor(), now=_now(), vault=get_vault())
    except ValidationError as exc:
        return _form("admin/liaison_form.html", LIAISON_FIELDS, data, exc.fields or {}, 422, unit=unit,
                     liaison_id=None)
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done="liaison_added"), code=303)


@bp.route("/units/<unit_id>/liaisons/<liaison_id>", methods=["GET", "POST"])
@transactional
@staff_required("admin.units")
def edit_liaison(unit_id: str, liaison_id: str) -> ResponseReturnValue:
    unit = _unit(unit_id)
    liaison = queries.liaison_of(unit, liaison_id)
    if request.method == "GET":
        shown = presenters.liaison(liaison)
        return _form("admin/liaison_form.html", LIAISON_FIELDS, {"name": shown.name, "phone": shown.phone}, {},
                     unit=unit, liaison_id=liaison.id)
    data = _form_data()
    try:
        service.update_liaison(unit, liaison, _load(LiaisonIn(), data), actor=current_actor(), now=_now(),
                               vault=get_vault())
    except ValidationError as exc:
        return _form("admin/liaison_form.html", LIAISON_FIELDS, data, exc.fields or {}, 422, unit=unit,
                     liaison_id=liaison.id)
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done="liaison_updated"), code=303)


@bp.post("/units/<unit_id>/liaisons/<liaison_id>/remove")
@transactional
@staff_required("admin.units")
def remove_liaison(unit_id: str, liaison_id: str) -> ResponseReturnValue:
    unit = _unit(unit_id)
    service.remove_liaison(unit, queries.liaison_of(unit, liaison_id), actor=current_actor(), now=_now())
    return redirect(url_for("admin.unit_detail", unit_id=unit.id, done="liaison_removed"), code=303)


@bp.route("/units/import", methods=["GET", "POST"])
@transactional
@staff_required("admin.units")
def import_units() -> ResponseReturnValue:
    """Upload an .xlsx or .csv of units: all rows or none; every bad row is listed with its number and reason."""
    if request.method == "GET":
        return render_template("admin/units_import.html", errors={}, problems=[], message=None, labels=FIELD_LABELS)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationError(fields={"file": ["请选择要导入的 .xlsx 或 .csv 文件"]})
        if Path(upload.filename).suffix.lower() not in IMPORT_SUFFIXES:
            raise ValidationError(fields={"file": ["只能导入 .xlsx 或 .csv 文件（可先下载模板填写）"]})
        data = upload.stream.read(IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:
            raise ValidationError(fields={"file": [f"文件不能超过 {IMPORT_MAX_BYTES // 1024 // 1024} MB，请分批导入"]})
        rows = service.read_file(data, upload.filename)
        result = service.import_rows(rows, office_id=current_office_id(), actor=current_actor(), now=_now(),
                                     vault=get_vault())
    except service.ImportRejected as exc:
        return render_template("admin/units_import.html", errors={}, problems=exc.problems,
                               message=exc.message, labels=FIELD_LABELS), 422
    except ValidationError as exc:
        return render_template("admin/units_import.html", errors=exc.fields or {"file": [exc.message]},
                               problems=[], message=None, labels=FIELD_LABELS), 422
    return redirect(url_for("admin.list_units", created=result.created, updated=result.updated), code=303)


@bp.get("/units/template.xlsx")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.units")
def import_template() -> ResponseReturnValue:
    """The import template: the header row, an example row, the unit type codes and what each column takes."""
    response = Response(sheets.template_xlsx(), content_type=XLSX)
    response.headers["Content-Disposition"] = (
        "attachment; filename=\"units-template.xlsx\"; filename*=UTF-8''%E6%88%90%E5%91%98%E5%8D%95%E4%BD%8D"
        "%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"
    )
    return response


@bp.get("/units/posters")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.units")
def posters() -> ResponseReturnValue:
    """Every active unit's poster, one per A4 page, to print at once (filtered like the list)."""
    filters = queries.parse_unit_filters(request.args)
    units = queries.poster_units(current_office_id(), filters)
    settings = current_app.config["QZBG"]
    with_wxacode = qrcodes.units_with_wxacode([u.id for u in units], settings.wechat_report_page) \
        if configured(settings) else set()
    return render_template("units/posters.html", units=units, types=UNIT_TYPES, with_wxacode=with_wxacode,
                           web_url=functools.partial(qrcodes.web_form_url, public_url=settings.public_url))


LIAISON_LOGIN_FIELDS = ("username", "display_name", "email", "mobile")


@bp.post("/units/<unit_id>/liaison-login")
@transactional
@staff_required("admin.users.manage", held_label="为联络人开通登录")
def add_liaison_login(unit_id: str) -> ResponseReturnValue:
    """A login for the unit's liaison (role ``unit_liaison``, bound to the unit): its setup link is shown once on
    the new account's page, as for any account made at /admin/users/new."""
    from app.admin.users import show_once
    from app.auth import service as auth_service
    from app.auth import setup_links

    unit = _unit(unit_id)
    values = {name: (request.form.get(name) or "").strip()[:200] for name in LIAISON_LOGIN_FIELDS}
    from app.offices.models import Office

    office = db.session.get(Office, unit.office_id)
    assert office is not None
    new = auth_service.NewUser(username=values["username"], role="unit_liaison", office=office,
                               display_name=values["display_name"] or None, unit=unit, email=values["email"],
                               mobile=values["mobile"])
    try:
        user, token = setup_links.create_account(new, actor=current_actor(), now=_now(), vault=get_vault())
    except ValidationError as exc:
        db.session.rollback()
        errors = {k: v for k, v in (exc.fields or {}).items() if k != "password"}
        return _detail_page(unit, login_values=values, login_errors=errors, status=422)
    except AppError as exc:
        db.session.rollback()
        return _detail_page(unit, login_values=values, login_errors={"username": [exc.message]}, status=409)
    show_once(user.username, token)
    flash(f"已为 {unit.name} 的联络人开通登录账号 {user.username}，请把下面的设置链接交给本人", "done")
    return redirect(url_for("admin.user_detail", username=user.username), code=303)
