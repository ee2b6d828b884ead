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

    from app.core.actor import Actor
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


NEW_PASSWORD = "a much better passphrase 2026"


def change(client, current: str, new: str, confirm: str | None = None):
    return post(client, "/account/password", {"current_password": current, "password": new,
                                              "password_confirm": new if confirm is None else confirm})


def test_changing_ones_password_ends_the_other_sessions_keeps_this_one_and_the_new_one_logs_in(app, staff):
    from app.audit.models import AuditEntry
    from app.auth.models import StaffUser
    from tests.factories import STAFF_PASSWORD

    user = staff()
    mine, elsewhere = app.test_client(), app.test_client()
    login(mine, user)
    login(elsewhere, user, step=1)
    page = mine.get("/account/password")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    answer = change(mine, STAFF_PASSWORD, NEW_PASSWORD)
    assert (answer.status_code, answer.headers["Location"]) == (303, "/account/password?done=1")
    assert 'data-field="password_changed"' in mine.get("/account/password?done=1").text
    assert mine.get("/review/").status_code == 200
    assert elsewhere.get("/review/").status_code == 303
    db.session.expire_all()
    stored = db.session.get(StaffUser, user.id)
    assert stored.password_hash.startswith("$argon2id$")
    assert "user.change_password" in db.session.scalars(select(AuditEntry.action)).all()
    fresh = app.test_client()
    assert post(fresh, "/login", {"username": user.username, "password": STAFF_PASSWORD}).status_code == 401
    assert post(fresh, "/login", {"username": user.username, "password": NEW_PASSWORD}).status_code == 303


def test_a_wrong_current_password_a_mismatch_or_a_weak_one_changes_nothing_in_chinese(app, logged_in):
    from app.auth.models import StaffUser
    from tests.factories import STAFF_PASSWORD

    client, user = logged_in()
    before = user.password_hash
    cases = [
        (("wrong password 123", NEW_PASSWORD, None), "当前密码不正确"),
        ((STAFF_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x"), "两次输入的新密码不一致"),
        ((STAFF_PASSWORD, "short", None), "密码至少需要12个字符"),
        ((STAFF_PASSWORD, "password1234", None), "过于常见"),
        ((STAFF_PASSWORD, STAFF_PASSWORD, None), "不能与当前密码相同"),
    ]
    for (current, new, confirm), message in cases:
        answer = change(client, current, new, confirm)
        assert answer.status_code == 422, message
        assert message in answer.text
        assert new not in answer.text or new == STAFF_PASSWORD  # nothing typed is echoed back
        assert current not in answer.text
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).password_hash == before
    assert client.get("/review/").status_code == 200


def test_wrong_current_passwords_count_toward_the_lock(app, logged_in):
    from app.auth.models import StaffUser

    client, user = logged_in()
    for _ in range(5):
        assert change(client, "wrong password 123", NEW_PASSWORD).status_code == 422
    db.session.expire_all()
    assert service.is_locked(db.session.get(StaffUser, user.id), dt.datetime.now(dt.UTC))


def test_the_password_form_needs_csrf(logged_in):
    from tests.factories import STAFF_PASSWORD

    client, _ = logged_in()
    answer = client.post("/account/password", data={"current_password": STAFF_PASSWORD, "password": NEW_PASSWORD,
                                                    "password_confirm": NEW_PASSWORD})
    assert answer.status_code == 400


def test_ending_the_other_sessions_says_how_many_ended(app, staff):
    user = staff()
    mine, elsewhere = app.test_client(), app.test_client()
    login(mine, user)
    login(elsewhere, user, step=1)
    done = post(mine, "/account/sessions/end-others", {}, form_page="/account/sessions")
    page = mine.get(done.headers["Location"]).text
    assert "已结束其他 1 个会话" in page
    assert "已结束其他" not in mine.get("/account/sessions").text  # once
