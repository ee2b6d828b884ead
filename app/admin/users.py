"""``/admin/users``: the office's accounts, in the browser (CONTRACT.md "Administration").

An administrator creates an account without typing its owner's password: the owner gets a one-time setup link
(``app/auth/setup_links.py``), shown to the administrator once on the account's page. That page has one form per
action (deactivate, reactivate, reset the password, reset the second factor, unlock, change the role, set the
contacts). Every page but the list needs a recent second factor (``admin.users.manage``), a change posted without
one is held and carried out after the code, and every change is audited.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from app.admin.blueprint import bp
from app.auth import accounts, setup_links
from app.auth import service as auth_service
from app.auth.guard import current_actor, staff_required
from app.auth.models import ROLE_LABELS, StaffUser, roles_for
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.errors import AppError, NotFoundError, ValidationError
from app.extensions import db
from app.offices import queries as offices
from app.offices.models import Office
from app.units import queries as units

LABELS = {"username": "用户名", "display_name": "姓名", "role": "角色", "police_unit": "所属公安机关",
          "unit": "所属成员单位（代码）", "wecom_userid": "企业微信账号", "email": "电子邮件", "mobile": "手机号"}
NEW_FIELDS = tuple(LABELS)
CONTACT_FIELDS = ("wecom_userid", "email", "mobile")
ONCE_KEY = "admin_setup_link"


def _box() -> Fernet:
    """The setup link waits for the next page in the session cookie, which Flask only signs: sealed here."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/admin-setup-link").derive(
        current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(key))


def show_once(username: str, token: str) -> None:
    link = setup_links.url(current_app.config["QZBG"].public_url, token)
    session[ONCE_KEY] = _box().encrypt(f"{username}\n{link}".encode()).decode()


def _take_once(username: str) -> str | None:
    sealed = session.pop(ONCE_KEY, None)
    if not isinstance(sealed, str):
        return None
    try:
        owner, link = _box().decrypt(sealed.encode(), ttl=300).decode().split("\n", 1)
    except (InvalidToken, ValueError):
        return None
    return link if owner == username else None


def _office_user(username: str) -> StaffUser:
    user = auth_service.find_by_username(username)
    if user is None or user.office_id != current_actor().office_id:
        raise NotFoundError("找不到该用户")
    return user


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _training() -> bool:
    return bool(current_app.config["QZBG"].training)


def _roles() -> dict[str, str]:
    """The roles of this deployment: the trainer's only in a training one (CONTRACT.md "Administration")."""
    return roles_for(_training())


def _form(names: tuple[str, ...]) -> dict[str, str]:
    return {name: (request.form.get(name) or "").strip()[:200] for name in names}


def _errors_context(errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"errors": errors, "labels": LABELS,
            "field_errors": [(name, errors[name]) for name in LABELS if name in errors],
            "other_errors": {name: messages for name, messages in errors.items() if name not in LABELS}}


@bp.get("/users")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.users")
def users() -> ResponseReturnValue:
    """The office's accounts, filtered by ``role`` and ``state``."""
    roles = _roles()
    role = request.args.get("role") if request.args.get("role") in roles else None
    state = request.args.get("state") if request.args.get("state") in accounts.STATES else None
    rows = accounts.office_accounts(current_actor().office_id, role=role, state=state, now=_now())
    return render_template("admin/users.html", rows=rows, roles=roles, states=accounts.STATES, role=role,
                           state=state)


def _new_page(values: dict[str, str], errors: dict[str, list[str]], status: int = 200) -> ResponseReturnValue:
    office_id = current_actor().office_id
    assert office_id is not None
    return render_template("admin/user_new.html", values=values, roles=_roles(),
                           police_units=offices.police_units(office_id), **_errors_context(errors)), status


@bp.route("/users/new", methods=["GET", "POST"])
@transactional(writes=True)
@staff_required("admin.users.manage", held_label="新建账号")
def user_new() -> ResponseReturnValue:
    """A new account of the office; its owner gets a setup link, shown here once."""
    if request.method == "GET":
        return _new_page({}, {})
    values = _form(NEW_FIELDS)
    errors: dict[str, list[str]] = {}
    office = db.session.get(Office, current_actor().office_id)
    assert office is not None
    police_unit = unit = None
    if values["police_unit"]:
        police_unit = next((p for p in offices.police_units(office.id) if p.code == values["police_unit"]), None)
        if police_unit is None:
            errors["police_unit"] = ["请从列表中选择本院的公安机关"]
    if values["unit"]:
        try:
            unit = units.by_code(values["unit"])
        except NotFoundError:
            errors["unit"] = ["找不到该成员单位代码"]
    if errors:
        return _new_page(values, errors, 422)
    new = auth_service.NewUser(
        username=values["username"], role=values["role"], office=office, display_name=values["display_name"] or None,
        police_unit=police_unit if values["role"] == "police" else None,
        unit=unit if values["role"] == "unit_liaison" else None,
        wecom_userid=values["wecom_userid"], email=values["email"], mobile=values["mobile"])
    try:
        user, token = setup_links.create_account(new, actor=current_actor(), now=_now(), vault=get_vault(),
                                                 training=_training())
    except ValidationError as exc:
        return _new_page(values, {k: v for k, v in (exc.fields or {}).items() if k != "password"}, 422)
    except AppError as exc:  # the user name is taken
        return _new_page(values, {"username": [exc.message]}, 409)
    show_once(user.username, token)
    flash(f"已新建账号 {user.username}，请把下面的设置链接交给本人", "done")
    return redirect(url_for("admin.user_detail", username=user.username), code=303)


def _detail(user: StaffUser, errors: dict[str, list[str]] | None = None, failed: str | None = None,
            status: int = 200) -> ResponseReturnValue:
    values = _form(CONTACT_FIELDS) if failed == "set_contacts" else {
        "wecom_userid": user.wecom_userid or "", "email": user.email or "",
        "mobile": user.unseal("mobile_data") if user.mobile_data else ""}
    return render_template(
        "admin/user_detail.html", user=user, roles=_roles(), values=values, failed=failed,
        setup_link=_take_once(user.username), locked=auth_service.is_locked(user, _now()),
        waiting_for_link=user.password_hash == setup_links.passwords.UNUSABLE, **_errors_context(errors or {}),
    ), status


@bp.get("/users/<username>")
@transactional(writes=True)
@staff_required("admin.users.manage")
def user_detail(username: str) -> ResponseReturnValue:
    return _detail(_office_user(username))


def _deactivate(user: StaffUser) -> str:
    if user.id == current_actor().id:
        raise ValidationError("不能停用自己的账号，请由另一位管理员操作")
    auth_service.deactivate(user, actor=current_actor(), now=_now())
    return f"已停用账号 {user.username}，其所有登录会话已结束"


def _reactivate(user: StaffUser) -> str:
    accounts.reactivate(user, actor=current_actor(), now=_now())
    return f"已恢复账号 {user.username}"


def _reset_password(user: StaffUser) -> str:
    now = _now()
    setup_links.set_no_password(user, now=now)
    show_once(user.username, setup_links.issue(user, "reset_password", actor=current_actor(), now=now))
    return f"已重置 {user.username} 的密码：原密码立即失效，所有登录会话已结束；请把下面的设置链接交给本人"


def _reset_totp(user: StaffUser) -> str:
    auth_service.reset_totp(user, actor=current_actor(), now=_now())
    return f"已重置 {user.username} 的两步验证：下次登录时重新绑定验证器"


def _unlock(user: StaffUser) -> str:
    auth_service.unlock(user, actor=current_actor(), now=_now())
    return f"已解除 {user.username} 的锁定"


def _change_role(user: StaffUser) -> str:
    auth_service.change_role(user, request.form.get("role", ""), actor=current_actor(), now=_now(),
                             training=_training())
    return f"已将 {user.username} 的角色改为{ROLE_LABELS[user.role]}，其所有登录会话已结束"


def _set_contacts(user: StaffUser) -> str:
    values = _form(CONTACT_FIELDS)
    accounts.set_contacts(user, values["wecom_userid"], values["email"], values["mobile"], actor=current_actor(),
                          now=_now())
    return f"已更新 {user.username} 的通知联系方式"


ACTIONS: dict[str, tuple[str, Callable[[StaffUser], str]]] = {
    "deactivate": ("停用账号", _deactivate),
    "reactivate": ("恢复账号", _reactivate),
    "reset_password": ("重置密码", _reset_password),
    "reset_totp": ("重置两步验证", _reset_totp),
    "unlock": ("解除锁定", _unlock),
    "change_role": ("更改角色", _change_role),
    "set_contacts": ("修改通知联系方式", _set_contacts),
}


@bp.post("/users/<username>/actions/<action>")
@transactional
@staff_required("admin.users.manage", held_label="账号管理操作")
def user_action(username: str, action: str) -> ResponseReturnValue:
    """One action of the account's page; post/redirect/get with a sentence that says what was done."""
    user = _office_user(username)
    entry = ACTIONS.get(action)
    if entry is None:
        raise NotFoundError("找不到该操作")
    try:
        done = entry[1](user)
    except ValidationError as exc:
        db.session.rollback()
        errors = dict(exc.fields or {}) or {"action": [exc.message]}
        return _detail(_office_user(username), errors, failed=action, status=422)
    flash(done, "done")
    return redirect(url_for("admin.user_detail", username=user.username), code=303)
