"""Server-side staff sessions: new id at login, idle and absolute timeouts, ended by password, role or
deactivation changes, one's own session list, and step-up for sensitive actions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.auth import service, sessions
from app.auth.models import StaffSession
from app.extensions import db
from tests.auth.conftest import csrf_of, login, post, totp_now


def age_sessions(**changes: dt.timedelta) -> None:
    """Move every session's clock back, as if that much time had passed."""
    for row in db.session.scalars(select(StaffSession)):
        for column, delta in changes.items():
            setattr(row, column, (getattr(row, column) or dt.datetime.now(dt.UTC)) - delta)
    db.session.commit()


def staff_cookie(client):
    return next(c for c in client._cookies.values() if c.key == sessions.COOKIE)


def test_each_login_makes_a_new_session_and_cookie(app, staff):
    user = staff()
    first, second = app.test_client(), app.test_client()
    login(first, user)
    login(second, user, step=1)
    tokens = {staff_cookie(first).value, staff_cookie(second).value}
    assert len(tokens) == 2
    assert len(db.session.scalars(select(StaffSession)).all()) == 2
    cookie = staff_cookie(first)
    assert cookie.http_only
    assert cookie.same_site == "Lax"


def test_a_session_idle_for_thirty_minutes_ends(logged_in):
    client, _ = logged_in()
    age_sessions(last_seen_at=dt.timedelta(minutes=31))
    answer = client.get("/review/")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/login?next=")


def test_a_session_ends_twelve_hours_after_login_however_active(logged_in):
    client, _ = logged_in()
    age_sessions(expires_at=dt.timedelta(hours=12, seconds=1))
    assert client.get("/review/").status_code == 303


def test_timeouts_are_configurable(make_app):
    from tests.auth.conftest import login as do_login
    from tests.factories import create_staff

    app = make_app(staff_idle_minutes=5)
    user = create_staff()
    db.session.commit()
    client = app.test_client()
    do_login(client, user)
    age_sessions(last_seen_at=dt.timedelta(minutes=6))
    assert client.get("/review/").status_code == 303


def test_a_password_change_ends_every_session(logged_in):
    client, user = logged_in()
    service.change_password(user, "a much better passphrase 2026", actor=None, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert client.get("/review/").status_code == 303


def test_deactivation_and_role_change_end_every_session(logged_in, runner):
    client, user = logged_in()
    other, user2 = logged_in()
    assert runner.invoke(args=["users", "deactivate", user.username]).exit_code == 0
    service.change_role(user2, "lead", actor=None, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert client.get("/review/").status_code == 303
    assert other.get("/review/").status_code == 303


def test_the_sessions_page_lists_mine_and_ends_the_others(app, staff):
    user = staff()
    mine, elsewhere = app.test_client(), app.test_client()
    login(mine, user)
    post(elsewhere, "/login", {"username": user.username, "password": "correct horse battery staple 7"})
    post(elsewhere, "/login/otp", {"otp": totp_now(user.unseal("totp_secret_data"), 1)})
    page = mine.get("/account/sessions")
    assert page.status_code == 200
    assert page.text.count("data-session-id=") == 2
    assert page.headers["Cache-Control"] == "no-store"
    ended = post(mine, "/account/sessions/end-others", {}, form_page="/account/sessions")
    assert ended.status_code == 303
    assert elsewhere.get("/review/").status_code == 303
    assert mine.get("/review/").status_code == 200


def test_a_sensitive_action_asks_for_a_recent_code_then_carries_on(app, logged_in):
    client, user = logged_in("admin")
    age_sessions(stepped_up_at=dt.timedelta(minutes=11))
    page = f"/admin/users/{user.username}/role"
    answer = client.get(page)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/account/step-up?next=%2Fadmin%2Fusers%2F" + user.username + "%2Frole"
    token = csrf_of(client, answer.headers["Location"])
    wrong = client.post(answer.headers["Location"], data={"csrf_token": token, "otp": "000000"})
    assert wrong.status_code == 401
    right = client.post(answer.headers["Location"],
                        data={"csrf_token": token, "otp": totp_now(user.unseal("totp_secret_data"), 1)})
    assert (right.status_code, right.headers["Location"]) == (303, page)
    assert client.get(page).status_code == 200


def test_role_changes_follow_the_rules_of_account_creation(app, staff):
    import pytest

    from app.auth.actor import Actor
    from app.errors import ValidationError

    admin = staff(role="admin")
    prosecutor = staff(role="prosecutor")
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(ValidationError):
        service.change_role(admin, "prosecutor", actor=Actor.staff(admin), now=now)  # not one's own
    with pytest.raises(ValidationError):
        service.change_role(prosecutor, "police", actor=Actor.staff(admin), now=now)  # no police unit
    with pytest.raises(ValidationError):
        service.change_role(admin, "lead", actor=None, now=now)  # the office's last admin
    service.change_role(prosecutor, "lead", actor=Actor.staff(admin), now=now)
    assert prosecutor.role == "lead"
