"""Server-side staff sessions: a random token in an HttpOnly cookie, its SHA-256 in ``staff_sessions``.

A login makes a new session (never reusing an old id); a session ends after
``QZBG_STAFF_IDLE_MINUTES`` without a request, ``QZBG_STAFF_SESSION_HOURS`` after
login, at logout, for every session of a user on a password change,
deactivation or role change, and for everyone at a training deployment's reset.
An ended session's row keeps why it ended (``end_reason``), so the login page can
tell the browser still holding its cookie (``ended_reason``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sqlalchemy import select, update

from app.auth.models import StaffSession, StaffUser
from app.extensions import db

COOKIE = "qzbg_staff"
# With QZBG_STEP_UP_MINUTES=0 a code opens only the one sensitive request it was asked for, if that comes
# within this long (the redirect back to it); the request then uses it up.
ONE_USE = dt.timedelta(minutes=2)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def start(user: StaffUser, *, now: dt.datetime, lifetime: dt.timedelta, ip: str | None,
          user_agent: str | None, stepped_up: bool) -> tuple[str, StaffSession]:
    """A new session for ``user``; returns the cookie token (shown nowhere else) and the row."""
    token = secrets.token_urlsafe(32)
    session = StaffSession(
        id=uuid.uuid4(), user_id=user.id, token_hash=_hash(token), created_at=now, last_seen_at=now,
        expires_at=now + lifetime, stepped_up_at=now if stepped_up else None, ip=ip,
        user_agent=(user_agent or "")[:200] or None,
    )
    db.session.add(session)
    db.session.flush()
    return token, session


def find(token: str, *, now: dt.datetime, idle: dt.timedelta) -> StaffSession | None:
    """The live session of ``token``: not ended, not past its absolute end, not idle too long, user active."""
    if not token or len(token) > 100:
        return None
    session = db.session.scalars(select(StaffSession).where(StaffSession.token_hash == _hash(token))).one_or_none()
    if session is None or session.ended_at is not None:
        return None
    if now >= session.expires_at:
        end(session, now, "expired")
        return None
    if now - session.last_seen_at >= idle:
        end(session, now, "idle")
        return None
    if not session.user.active:
        return None
    return session


def touch(session: StaffSession, now: dt.datetime) -> None:
    """Record activity, at most once a minute (no write per request)."""
    if now - session.last_seen_at >= dt.timedelta(minutes=1):
        session.last_seen_at = now


def is_stepped_up(session: StaffSession, now: dt.datetime, window: dt.timedelta) -> bool:
    """Whether a second-factor code of this session still opens a sensitive request (``window`` is
    ``QZBG_STEP_UP_MINUTES``; zero: the code opens one request, which ``use_step_up`` then spends)."""
    if session.stepped_up_at is None:
        return False
    return now - session.stepped_up_at < (window or ONE_USE)


def use_step_up(session: StaffSession, now: dt.datetime, window: dt.timedelta) -> bool:
    """``is_stepped_up``, spending the code when every sensitive request must ask (``window`` zero)."""
    fresh = is_stepped_up(session, now, window)
    if fresh and not window:
        session.stepped_up_at = None
    return fresh


def end(session: StaffSession, now: dt.datetime, reason: str) -> None:
    if session.ended_at is None:
        session.ended_at, session.end_reason = now, reason
    session.pending_action_data = session.pending_action_at = None  # a held action ends with its session


def end_all(user_id: uuid.UUID, now: dt.datetime, reason: str, *, keep: uuid.UUID | None = None) -> int:
    """End every live session of a user (but ``keep``); returns how many."""
    stmt = (
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason, pending_action_data=None, pending_action_at=None)
    )
    if keep is not None:
        stmt = stmt.where(StaffSession.id != keep)
    result = db.session.execute(stmt.execution_options(synchronize_session="fetch"))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end_everyone(now: dt.datetime, reason: str) -> int:
    """End every live session of every user (a training deployment's reset); returns how many."""
    result = db.session.execute(
        update(StaffSession).where(StaffSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason, pending_action_data=None, pending_action_at=None)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def ended_reason(token: str) -> str | None:
    """Why the session of ``token`` ended (``idle``, ``password_changed``, ``training_reset``...), or None for a
    live session or a token that names none. Only the code: the login page says it in words."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(StaffSession.end_reason).where(StaffSession.token_hash == _hash(token),
                                             StaffSession.ended_at.is_not(None))
    )


def live(user_id: uuid.UUID, now: dt.datetime) -> list[StaffSession]:
    """A user's sessions that have not ended, newest first."""
    stmt = (
        select(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None), StaffSession.expires_at > now)
        .order_by(StaffSession.created_at.desc())
    )
    return list(db.session.scalars(stmt))
