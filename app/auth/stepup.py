"""Step-up that keeps the action (CONTRACT.md, "Step-up").

A sensitive form posted without a fresh second factor is not lost: its path and posted values are held on the
staff session, sealed under the user's data key (they may hold a case's facts), and the user goes to
``/account/step-up``. After the code, the held request is carried out as if it had been posted again (the same
path, values, cookies and client address, through the whole request pipeline: CSRF, login, permission, the
view and its transaction), and its answer is the step-up's answer: the user lands on the action's result. A
wrong code keeps it held; a session that ends drops it; a new sensitive GET or a hold older than
``HOLD_FOR`` replaces or forgets it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask import Flask, Request, current_app
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from app.auth.models import StaffSession
from app.crypto.vault import Vault

HOLD_FOR = dt.timedelta(minutes=10)
_TABLE, _COLUMN = "staff_sessions", "pending_action_data"
# Posted fields never held: the CSRF token is checked again against the session when the action is replayed,
# so it is kept; nothing else is dropped. Uploads are not held (no sensitive form takes files).
_MAX_FIELDS, _MAX_CHARS = 50, 20_000


@dataclasses.dataclass(frozen=True)
class HeldAction:
    """A sensitive POST waiting for its second factor."""

    path: str
    form: list[tuple[str, str]]
    label: str | None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "form": [list(pair) for pair in self.form], "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeldAction:
        return cls(path=str(data["path"]), form=[(str(k), str(v)) for k, v in data["form"]],
                   label=data.get("label"))


def hold(session: StaffSession, request: Request, *, label: str | None, now: dt.datetime, vault: Vault) -> bool:
    """Keep this POST on the session until the code comes; False (nothing held) for an oversize form."""
    pairs = [(key, value) for key, value in request.form.items(multi=True)]
    if len(pairs) > _MAX_FIELDS or sum(len(k) + len(v) for k, v in pairs) > _MAX_CHARS:
        drop(session)
        return False
    held = HeldAction(path=request.path, form=pairs, label=label)
    session.pending_action_data = vault.encrypt(
        session.user.data_key, _TABLE, _COLUMN, session.id, held.to_json()
    )
    session.pending_action_at = now
    return True


def peek(session: StaffSession, now: dt.datetime, vault: Vault) -> HeldAction | None:
    """The action held on this session, if it is still young enough to carry out."""
    if session.pending_action_data is None or session.pending_action_at is None:
        return None
    if now - session.pending_action_at >= HOLD_FOR:
        return None
    data = vault.decrypt(session.user.data_key, _TABLE, _COLUMN, session.id, session.pending_action_data)
    return HeldAction.from_json(data)


def take(session: StaffSession, now: dt.datetime, vault: Vault) -> HeldAction | None:
    """The held action, removed from the session (it is carried out once)."""
    held = peek(session, now, vault)
    drop(session)
    return held


def drop(session: StaffSession) -> None:
    session.pending_action_data = None
    session.pending_action_at = None


def replay(held: HeldAction, outer: Request) -> Response:
    """Carry out ``held`` as the request it was: through the app's whole pipeline, in an app context (and so a
    database session and ``g``) of its own, with this request's cookies and client address."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = [(name, outer.headers[name]) for name in ("Cookie", "User-Agent", "Accept-Language")
               if name in outer.headers]
    builder = EnvironBuilder(
        path=held.path, base_url=outer.host_url, method="POST", data=MultiDict(held.form), headers=headers,
        environ_base={"REMOTE_ADDR": outer.remote_addr or "", "wsgi.url_scheme": outer.scheme},
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    with app.app_context(), app.request_context(environ):
        response = app.full_dispatch_request()
    return response
