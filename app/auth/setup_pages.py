"""``/setup/<token>``: the owner of a new account (or of a reset password) chooses a password through a one-time
link, then enrols TOTP on the login's own enrolment page (``/login/enrol``) as at a first login. An unknown, used
or expired link is a 404 with a zh-CN page (CONTRACT.md "Administration")."""

from __future__ import annotations

import datetime as dt
import time

from flask import redirect, render_template, request, session
from flask.typing import ResponseReturnValue

from app.auth import setup_links
from app.auth.routes import bp, staff_login_limit
from app.core.db import transactional
from app.errors import NotFoundError, ValidationError
from app.extensions import limiter

LABELS = {"password": "新密码", "password2": "再次输入新密码"}
GONE = "该设置链接无效、已使用或已过期（有效期72小时，只能使用一次）。请联系本院系统管理员重新生成。"


@bp.route("/setup/<token>", methods=["GET", "POST"])
@transactional(writes=True)
@limiter.limit(staff_login_limit, methods=["POST"])
def setup(token: str) -> ResponseReturnValue:
    now = dt.datetime.now(dt.UTC)
    link = setup_links.find(token, now)
    if link is None:
        raise NotFoundError(GONE)
    user = link.user
    if request.method == "GET":
        return _page(user, {})
    try:
        setup_links.complete(link, request.form.get("password", "")[:200], request.form.get("password2", "")[:200],
                             now=now)
    except ValidationError as exc:
        return _page(user, dict(exc.fields or {}), status=422)
    if not user.needs_totp:
        return redirect("/login?setup=done", code=303)
    # The password was just chosen here: the second step of the login follows, as after /login.
    session.clear()
    session["login"] = {"uid": str(user.id), "at": time.time(), "next": "/review/"}
    return redirect("/login/otp" if user.totp_enrolled_at else "/login/enrol", code=303)


def _page(user: object, errors: dict[str, list[str]], *, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "staff/setup.html", user=user, errors=errors, values={}, labels=LABELS,
        field_errors=[(name, errors[name]) for name in LABELS if name in errors],
        other_errors={name: messages for name, messages in errors.items() if name not in LABELS},
    ), status
