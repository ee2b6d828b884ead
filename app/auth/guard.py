"""The staff request: who is logged in, and the one decorator every staff view declares its permission with.

``staff_required(permission)`` sends an anonymous visitor to ``/login?next=...``
(303), answers 403 to a user whose role lacks the permission, sends a user
without a recent second factor to ``/account/step-up`` for sensitive
permissions, marks the answer ``no-store``, and leaves the acting ``Actor`` in
``g.actor`` for the view to hand to its service. The permission is kept on the
view (``qzbg_permission``) so a test can prove that no staff route lacks one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from flask import current_app, g, redirect, request
from werkzeug.wrappers import Response

from app.auth import permissions, sessions, stepup
from app.auth.models import StaffSession, StaffUser
from app.core.actor import Actor
from app.core.ratelimit import client_address
from app.crypto.vault import get_vault
from app.errors import NotFoundError

F = TypeVar("F", bound=Callable[..., Any])


def safe_next(target: str | None, default: str = "/review/") -> str:
    """A same-site path to go on to after login or step-up; anything else becomes ``default``."""
    if not target or len(target) > 500 or not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(ch) < 32 for ch in target):
        return default
    return target


def current_session() -> StaffSession | None:
    """The live staff session of this request (looked up once per request; kept in the WSGI environ, which,
    unlike ``g``, never outlives the request)."""
    if "qzbg.staff_session" not in request.environ:
        token = request.cookies.get(sessions.COOKIE, "")
        settings = current_app.config["QZBG"]
        now = dt.datetime.now(dt.UTC)
        found = sessions.find(token, now=now, idle=dt.timedelta(minutes=settings.staff_idle_minutes)) if token \
            else None
        if found is not None:
            sessions.touch(found, now)
        request.environ["qzbg.staff_session"] = found
    session: StaffSession | None = request.environ["qzbg.staff_session"]
    return session


def current_user() -> StaffUser | None:
    session = current_session()
    return session.user if session is not None else None


def request_actor(user: StaffUser) -> Actor:
    return Actor.staff(user, ip=client_address(), request_id=g.get("request_id"))


def _login_redirect() -> Response:
    return redirect("/login?" + urlencode({"next": safe_next(request.full_path.rstrip("?"))}), code=303)


def step_up_window() -> dt.timedelta:
    """How long a second-factor code keeps sensitive requests open (``QZBG_STEP_UP_MINUTES``; zero: one)."""
    return dt.timedelta(minutes=current_app.config["QZBG"].step_up_minutes)


def stepped_up(session: StaffSession | None) -> bool:
    """Whether this request may do something sensitive now (spending a one-use code; see ``sessions``)."""
    return session is not None and sessions.use_step_up(session, dt.datetime.now(dt.UTC), step_up_window())


def step_up_redirect(label: str | None = None, *, hold: bool = True) -> Response:
    """To the step-up page. A GET comes back to itself afterwards. A form post is held on the session
    (``stepup.hold``) and carried out once the code is given, landing on its result; ``label`` says on the
    step-up page what will be done. ``next`` (the page a form names in its hidden field: pages send no
    Referer) is where the user goes if nothing is held."""
    session = current_session()
    back: str | None
    if request.method == "GET":
        back = request.full_path.rstrip("?")
        if session is not None:
            stepup.drop(session)  # a new sensitive page replaces an action left waiting
    elif not hold:  # a form that cannot be held (a file upload): back to its page, to send it again
        back = request.path
        if session is not None:
            stepup.drop(session)
    else:
        back = request.form.get("next")
        if session is not None:
            stepup.hold(session, request, label=label, now=dt.datetime.now(dt.UTC), vault=get_vault())
    return redirect("/account/step-up?" + urlencode({"next": safe_next(back)}), code=303)


def staff_required(permission: str, *, held_label: str | None = None, holds: bool = True) -> Callable[[F], F]:
    """Declare the permission a staff view needs; see the module docstring. ``held_label`` names, on the
    step-up page, what a sensitive form posted here will do once the code is given; ``holds=False`` (a file
    upload, which the session cannot keep) sends the user back to the form's page after the code instead."""
    if permission not in permissions.ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session = current_session()
            if session is None:
                return _login_redirect()
            permissions.require(session.user.role, permission)
            if permission in permissions.SENSITIVE and not stepped_up(session):
                return step_up_redirect(label=held_label, hold=holds)
            g.actor = request_actor(session.user)
            response = current_app.make_response(view(*args, **kwargs))
            response.headers["Cache-Control"] = "no-store"
            return response

        wrapper.qzbg_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def current_actor() -> Actor:
    actor: Actor = g.actor
    return actor


def current_office_id() -> int:
    """The office of this request's staff user: every page of the office side is scoped to it (not found when a
    user has none, which no office-side role lacks)."""
    office_id = current_actor().office_id
    if office_id is None:
        raise NotFoundError("找不到该页面")
    return office_id
