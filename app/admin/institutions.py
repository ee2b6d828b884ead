"""``/admin/institutions``: the hospital and hotline systems of the administrator's office that send reports through
the signed API (docs/api.md), and their keys: register one (its first key), add a key beside the one in use,
revoke a key. A new key's secret is shown on the answer page once and never again."""

from __future__ import annotations

import datetime as dt

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.admin.blueprint import bp
from app.auth.guard import current_actor, current_office_id, staff_required
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.errors import ValidationError
from app.institutions import service
from app.units import queries as units

LABELS = {"code": "代码", "name": "名称", "unit": "所属成员单位"}



def _list_page(values: dict[str, str] | None = None, errors: dict[str, list[str]] | None = None,
               status: int = 200) -> ResponseReturnValue:
    office_id = current_office_id()
    found = [(item, service.keys_of(item)) for item in service.of_office(office_id)]
    errors = errors or {}
    return render_template(
        "admin/institutions.html", institutions=found, values=values or {}, errors=errors, labels=LABELS,
        units=units.active_units_of(office_id), field_errors=[(n, errors[n]) for n in LABELS if n in errors],
        other_errors={n: m for n, m in errors.items() if n not in LABELS},
    ), status


def _secret_page(code: str, key_id: str, secret: str, *, first: bool) -> ResponseReturnValue:
    return render_template("admin/institution_key.html", code=code, key_id=key_id, secret=secret, first=first)


@bp.get("/institutions")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("admin.institutions")
def institutions() -> ResponseReturnValue:
    return _list_page()


@bp.post("/institutions")
@transactional
@staff_required("admin.institutions.manage", held_label="登记机构系统")
def institution_add() -> ResponseReturnValue:
    form = {name: (request.form.get(name) or "").strip()[:200] for name in LABELS}
    try:
        key_id, secret = service.add(form["code"], form["name"], unit_code=form["unit"] or None, vault=get_vault(),
                                     now=dt.datetime.now(dt.UTC), actor=current_actor(), office_id=current_office_id())
    except ValidationError as exc:
        return _list_page(form, dict(exc.fields or {"code": [exc.message]}), 422)
    return _secret_page(form["code"], key_id, secret, first=True)


@bp.post("/institutions/<institution>/rotate")
@transactional
@staff_required("admin.institutions.manage", held_label="为机构系统新增密钥")
def institution_rotate(institution: str) -> ResponseReturnValue:
    key_id, secret = service.rotate(institution, vault=get_vault(), now=dt.datetime.now(dt.UTC),
                                    actor=current_actor(), office_id=current_office_id())
    return _secret_page(institution, key_id, secret, first=False)


@bp.post("/institutions/keys/<key_id>/revoke")
@transactional
@staff_required("admin.institutions.manage", held_label="注销机构系统密钥")
def institution_revoke(key_id: str) -> ResponseReturnValue:
    key = service.revoke(key_id, now=dt.datetime.now(dt.UTC), actor=current_actor(), office_id=current_office_id())
    flash(f"已注销密钥 {key.id}：使用它签名的请求将被拒绝", "done")
    return redirect(url_for("admin.institutions"), code=303)
