"""Staff login (password, then TOTP or enrolment), logout, step-up, and one's own sessions.

CONTRACT.md fixes the fields: ``username``, ``password``, then ``otp``; the
enrolment page shows the secret in ``data-field="totp_secret"`` and the recovery
codes once in ``data-field="recovery_codes"``. Wrong names, wrong passwords and
locked accounts get one and the same answer.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import time
import uuid
from typing import Any

import qrcode
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, current_app, g, make_response, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from app.audit import service as audit
from app.auth import permissions, service, sessions, stepup, totp
from app.auth.guard import current_actor, current_session, request_actor, safe_next, staff_required
from app.auth.models import StaffUser
from app.auth.templating import landing
from app.core.actor import Actor, ActorKind
from app.core.db import keep_on_error, transactional
from app.core.ratelimit import client_address
from app.crypto.vault import get_vault
from app.errors import ValidationError
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)


@bp.after_request
def no_store(response: Response) -> Response:
    """Login, enrolment (the TOTP secret), recovery codes, sessions: never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _box() -> Fernet:
    """Authenticated encryption for what waits in the session cookie (Flask's cookie is only signed)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/staff-cookie").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))
PENDING_TTL = 300  # seconds between the password and the second step
LOGIN_FAILED = "用户名或密码错误，或账户暂时被锁定。多次失败后账户将锁定15分钟。"
OTP_FAILED = "验证码不正确或已使用，请输入验证器中的新验证码"
# What the login page says to a browser whose session ended (CONTRACT.md "Training": data-field="session_ended"),
# by the session's end reason; a logout says nothing (its cookie is gone).
SESSION_ENDED = {
    "training_reset": "培训数据已重置，所有登录均已结束，请重新登录。",
    "idle": "您已较长时间没有操作，登录已自动结束，请重新登录。",
    "expired": "登录已超过最长时限，请重新登录。",
    "password_changed": "密码已更改，原来的登录已结束，请用新密码登录。",
    "password_reset": "管理员已重置您的密码，请先通过新的设置链接设置密码，再登录。",
    "role_changed": "您的角色已调整，请重新登录。",
    "totp_reset": "您的两步验证已重置，请重新登录并重新绑定验证器。",
    "deactivated": "您的账号已停用，如有疑问请联系本院系统管理员。",
    "ended_by_user": "该登录已在另一处被结束，请重新登录。",
}


def staff_login_limit() -> str:
    """Per client address (a training deployment's: the training room's, ``Settings.per_address``); each account
    locks after ``MAX_FAILURES`` wrong guesses whatever the address."""
    settings = current_app.config["QZBG"]
    return str(settings.per_address(settings.staff_login_rate_limit))


def _anonymous_actor() -> Actor:
    return Actor(ActorKind.PUBLIC, role=None, ip=client_address(), request_id=g.get("request_id"))


def _pending() -> tuple[StaffUser, dict[str, Any]] | None:
    """The user who gave the right password in this browser within the last five minutes."""
    pending = session.get("login")
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_TTL:
        return None
    try:
        user = db.session.get(StaffUser, uuid.UUID(str(pending.get("uid"))))
    except ValueError:
        return None
    if user is None or not user.active:
        return None
    return user, pending


def _finish_login(user: StaffUser, next_url: str, *, second_factor: bool) -> Response:
    """Start a new server-side session (never reusing an id) and set its cookie."""
    settings = current_app.config["QZBG"]
    now = dt.datetime.now(dt.UTC)
    actor = request_actor(user)
    service.logged_in(user, actor=actor, now=now)
    token, _row = sessions.start(
        user, now=now, lifetime=dt.timedelta(hours=settings.staff_session_hours), ip=client_address(),
        user_agent=request.headers.get("User-Agent"),
        stepped_up=second_factor and settings.step_up_minutes > 0,  # 0: every sensitive action asks, even now
    )
    session.clear()  # a fresh Flask session too: nothing from before the login carries over
    target = safe_next(next_url)
    if target == "/review/" and not permissions.allows(user.role, "review.inbox"):
        target = landing(user)  # the default landing is the inbox; who has none goes to their first page
    response = redirect(target, code=303)
    response.set_cookie(
        sessions.COOKIE, token, httponly=True, samesite="Lax", secure=settings.public_url.startswith("https://"),
        path="/",
    )
    return response


@bp.route("/login", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@limiter.limit(staff_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    """The first step: username and password."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_session() is not None:
            return redirect(next_url, code=303)
        ended = SESSION_ENDED.get(sessions.ended_reason(request.cookies.get(sessions.COOKIE, "")) or "")
        return render_template("staff/login.html", next_url=next_url, error=None, session_ended=ended)
    now = dt.datetime.now(dt.UTC)
    username = request.form.get("username", "")[:100]
    user = service.check_password(username, request.form.get("password", ""), actor=_anonymous_actor(), now=now)
    if user is None:
        keep_on_error()  # the failure counts and is audited, although the answer is an error
        return render_template("staff/login.html", next_url=next_url, error=LOGIN_FAILED,
                               username=username[:40]), 401
    if not user.needs_totp:
        return _finish_login(user, next_url, second_factor=False)
    session["login"] = {"uid": str(user.id), "at": time.time(), "next": next_url}
    return redirect("/login/otp" if user.totp_enrolled_at else "/login/enrol", code=303)


@bp.route("/login/otp", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@limiter.limit(staff_login_limit, methods=["POST"])
def login_otp() -> ResponseReturnValue:
    """The second step: a TOTP code, or one of the recovery codes."""
    pending = _pending()
    if pending is None:
        return redirect("/login", code=303)
    user, state = pending
    if user.totp_enrolled_at is None:
        return redirect("/login/enrol", code=303)
    if request.method == "GET":
        return render_template("staff/otp.html", error=None)
    ok = service.check_second_factor(user, request.form.get("otp", "")[:40], actor=request_actor(user),
                                     now=dt.datetime.now(dt.UTC))
    if not ok:
        keep_on_error()
        return render_template("staff/otp.html", error=OTP_FAILED), 401
    return _finish_login(user, str(state.get("next")), second_factor=True)


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, box_size=5, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.route("/login/enrol", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@limiter.limit(staff_login_limit, methods=["POST"])
def login_enrol() -> ResponseReturnValue:
    """First login: set up the authenticator app (QR code and the secret as text), confirm one code."""
    pending = _pending()
    if pending is None:
        return redirect("/login", code=303)
    user, state = pending
    if user.totp_enrolled_at is not None:
        return redirect("/login/otp", code=303)
    secret = service.enrolment_secret(user)
    context = {"secret": secret, "qr": _qr_data_uri(totp.provisioning_uri(secret, user.username)),
               "username": user.username}
    if request.method == "GET":
        return render_template("staff/enrol.html", error=None, **context)
    codes = service.confirm_enrolment(user, request.form.get("otp", "")[:40], actor=request_actor(user),
                                      now=dt.datetime.now(dt.UTC))
    if codes is None:
        keep_on_error()
        return render_template("staff/enrol.html", error=OTP_FAILED, **context), 401
    response = _finish_login(user, "/account/recovery-codes", second_factor=True)
    # Sealed: the cookie is only signed, and the codes are as good as the second factor (five minutes to show).
    sealed = _box().encrypt(json.dumps({"codes": codes, "next": safe_next(str(state.get("next")))}).encode())
    session["recovery_codes"] = sealed.decode()
    return response


@bp.get("/account/recovery-codes")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("account")
def recovery_codes() -> ResponseReturnValue:
    """The ten recovery codes, shown this once (reloading shows them no more)."""
    shown: dict[str, Any] = {}
    sealed = session.pop("recovery_codes", None)
    if isinstance(sealed, str):
        try:
            shown = json.loads(_box().decrypt(sealed.encode(), ttl=300))
        except (InvalidToken, ValueError):
            shown = {}
    return render_template("staff/recovery_codes.html", codes=shown.get("codes") or [],
                           next_url=safe_next(shown.get("next")))


@bp.post("/logout")
@transactional(writes=True)  # a staff request may write (session activity, audit)
def logout() -> ResponseReturnValue:
    """End this browser's session (CSRF-protected like every form)."""
    live = current_session()
    if live is not None:
        now = dt.datetime.now(dt.UTC)
        sessions.end(live, now, "logout")
        audit.record(request_actor(live.user), "logout", now=now, target_type="staff_user", target_id=live.user.id,
                     office_id=live.user.office_id)
    session.clear()
    response = make_response(redirect("/login", code=303))
    response.delete_cookie(sessions.COOKIE, path="/")
    return response


@bp.route("/account/step-up", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("account")
@limiter.limit(staff_login_limit, methods=["POST"])
def step_up() -> ResponseReturnValue:
    """Confirm a TOTP code before a sensitive action; then the action held for it is carried out (its answer
    is this one's), or, with nothing held, on to ``next``."""
    next_url = safe_next(request.values.get("next"))
    live = current_session()
    assert live is not None
    now = dt.datetime.now(dt.UTC)
    held = stepup.peek(live, now, get_vault())
    page = {"next_url": next_url, "held": held, "minutes": current_app.config["QZBG"].step_up_minutes}
    if request.method == "GET":
        return render_template("staff/step_up.html", **page, error=None)
    if not service.check_second_factor(live.user, request.form.get("otp", "")[:40], actor=current_actor(), now=now):
        keep_on_error()  # the failure counts toward the lock; the held action stays for another try
        return render_template("staff/step_up.html", **page, error=OTP_FAILED), 401
    live.stepped_up_at = now
    audit.record(current_actor(), "step_up", now=now, target_type="staff_user", target_id=live.user.id)
    stepup.drop(live)
    if held is None:
        return redirect(next_url, code=303)
    db.session.commit()  # the step-up stands whatever the held action then does (its own transaction)
    return stepup.replay(held, request)


PASSWORD_LABELS = {"current_password": "当前密码", "password": "新密码", "password_confirm": "再次输入新密码"}


@bp.route("/account/password", methods=["GET", "POST"])
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("account")
@limiter.limit(staff_login_limit, methods=["POST"])
def change_password() -> ResponseReturnValue:
    """Change one's own password: the current one, then the new one twice; every other session ends."""
    live = current_session()
    assert live is not None
    if request.method == "GET":
        return _password_page({}, done=request.args.get("done") == "1")
    now, form = dt.datetime.now(dt.UTC), request.form
    if not service.confirm_password(live.user, form.get("current_password", ""), actor=current_actor(), now=now):
        keep_on_error()  # the failure counts toward the lock and is audited
        return _password_page({"current_password": ["当前密码不正确"]}, status=422)
    if form.get("password", "") != form.get("password_confirm", ""):
        return _password_page({"password_confirm": ["两次输入的新密码不一致"]}, status=422)
    try:
        service.change_password(live.user, form.get("password", ""), actor=current_actor(), now=now,
                                keep_session=live.id)
    except ValidationError as exc:
        return _password_page(dict(exc.fields or {}), status=422)
    return redirect("/account/password?done=1", code=303)


def _password_page(errors: dict[str, list[str]], *, status: int = 200, done: bool = False) -> ResponseReturnValue:
    return render_template(
        "staff/password.html", errors=errors, values={}, labels=PASSWORD_LABELS, done=done,
        field_errors=[(name, errors[name]) for name in PASSWORD_LABELS if name in errors],
        other_errors={name: messages for name, messages in errors.items() if name not in PASSWORD_LABELS},
    ), status


@bp.get("/account/sessions")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("account")
def account_sessions() -> ResponseReturnValue:
    """One's own live sessions, with a button to end all the others."""
    live = current_session()
    assert live is not None
    rows = sessions.live(live.user_id, dt.datetime.now(dt.UTC))
    return render_template("staff/sessions.html", rows=rows, current_id=live.id, notice=session.pop("flash", None))


@bp.post("/account/sessions/end-others")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("account")
def end_other_sessions() -> ResponseReturnValue:
    live = current_session()
    assert live is not None
    now = dt.datetime.now(dt.UTC)
    ended = sessions.end_all(live.user_id, now, "ended_by_user", keep=live.id)
    audit.record(current_actor(), "sessions.end_others", now=now, target_type="staff_user", target_id=live.user_id)
    session["flash"] = f"已结束其他 {ended} 个会话"
    return redirect("/account/sessions", code=303)
