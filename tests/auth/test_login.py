"""Staff login: password, then TOTP (enrolment the first time), recovery codes, throttling and locks."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.auth import service
from app.auth.models import StaffSession, StaffUser
from app.extensions import db
from tests.auth.conftest import csrf_of, login, post, totp_now
from tests.factories import STAFF_PASSWORD


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_the_login_page_has_the_contract_fields(client):
    page = client.get("/login").get_data(as_text=True)
    for name in ("csrf_token", "username", "password"):
        assert f'name="{name}"' in page


def test_a_new_prosecutor_enrols_totp_sees_recovery_codes_once_and_lands_on_the_inbox(app, client, staff):
    user = staff(role="prosecutor", enrolled=False)
    first = post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert (first.status_code, first.headers["Location"]) == (303, "/login/enrol")
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = re.search(r'data-field="totp_secret">([A-Z2-7]+)<', page).group(1)
    assert 'name="otp"' in page
    assert "data:image/png;base64," in page
    assert post(client, "/login/enrol", {"otp": "000000"}).status_code == 401
    done = post(client, "/login/enrol", {"otp": totp_now(secret)})
    assert (done.status_code, done.headers["Location"]) == (303, "/account/recovery-codes")
    codes_page = client.get("/account/recovery-codes").get_data(as_text=True)
    codes = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", codes_page)
    assert len(codes) == 10
    assert 'data-field="recovery_codes"' in codes_page
    assert "<li><code>" not in client.get("/account/recovery-codes").get_data(as_text=True)  # once only
    assert client.get("/review/").status_code == 200
    db.session.expire_all()
    assert db.session.get(StaffUser, user.id).totp_enrolled_at is not None


def test_an_enrolled_user_gives_password_then_code_and_goes_to_next(client, staff):
    user = staff()
    answer = login(client, user, next_url="/account/sessions")
    assert (answer.status_code, answer.headers["Location"]) == (303, "/account/sessions")
    assert "login" in audit_actions()


def test_a_totp_code_is_accepted_once_only(app, staff):
    user = staff()
    secret = user.unseal("totp_secret_data")
    code = totp_now(secret)
    first, second = app.test_client(), app.test_client()
    post(first, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert post(first, "/login/otp", {"otp": code}).status_code == 303
    post(second, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert post(second, "/login/otp", {"otp": code}).status_code == 401
    assert post(second, "/login/otp", {"otp": totp_now(secret, 1)}).status_code == 303


def test_a_recovery_code_logs_in_once(app, client, staff):
    user = staff()
    codes = service.new_recovery_codes(user)
    db.session.commit()
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert post(client, "/login/otp", {"otp": codes[0].upper()}).status_code == 303
    other = app.test_client()
    post(other, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert post(other, "/login/otp", {"otp": codes[0]}).status_code == 401
    assert "login.recovery_code" in audit_actions()


def test_wrong_password_unknown_user_and_locked_account_get_the_same_answer(app, staff):
    user = staff()
    answers = []
    for username, password in ((user.username, "wrong password 123"), ("nobody-here", STAFF_PASSWORD)):
        answer = post(app.test_client(), "/login", {"username": username, "password": password})
        answers.append((answer.status_code, re.search(r'data-field="login_error">([^<]+)<', answer.text).group(1)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


def test_five_failures_lock_the_account_for_fifteen_minutes_and_an_admin_can_unlock(app, staff, runner):
    user = staff()
    client = app.test_client()
    for _ in range(5):
        assert post(client, "/login", {"username": user.username, "password": "wrong password 123"}).status_code == 401
    locked = post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert locked.status_code == 401  # the right password no longer helps, and the answer does not say why
    assert "login.locked" in audit_actions()
    db.session.expire_all()
    stored = db.session.get(StaffUser, user.id)
    assert stored.locked_until - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=14)
    assert runner.invoke(args=["users", "unlock", user.username]).exit_code == 0
    assert login(app.test_client(), user).status_code == 303


def test_wrong_codes_at_the_second_step_also_lock(app, staff):
    user = staff()
    client = app.test_client()
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    for _ in range(5):
        assert post(client, "/login/otp", {"otp": "123456"}).status_code == 401
    db.session.expire_all()
    assert service.is_locked(db.session.get(StaffUser, user.id), dt.datetime.now(dt.UTC))


def test_a_unit_liaison_logs_in_with_a_password_alone(client, staff):
    user = staff(role="unit_liaison")
    answer = post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert answer.status_code == 303
    assert answer.headers["Location"] not in ("/login/otp", "/login/enrol")


def test_the_second_step_without_the_first_goes_back_to_login(client):
    assert client.get("/login/otp").headers["Location"] == "/login"
    assert client.get("/login/enrol").headers["Location"] == "/login"


def test_logout_needs_csrf_ends_the_session_and_is_audited(app, logged_in):
    client, _user = logged_in()
    assert client.post("/logout").status_code == 400  # no csrf_token
    token = csrf_of(client, "/review/")
    assert client.post("/logout", data={"csrf_token": token}).headers["Location"] == "/login"
    assert client.get("/review/").status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(StaffSession.end_reason)).all() == ["logout"]
    assert audit_actions()[-1] == "logout"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil", "javascript:alert(1)"])
def test_next_never_leaves_the_site(client, staff, target):
    user = staff()
    answer = login(client, user, next_url=target)
    assert answer.headers["Location"] == "/review/"


def test_logins_from_one_address_are_throttled(make_app):
    app = make_app(staff_login_rate_limit="3 per minute")
    client = app.test_client()
    statuses = [post(client, "/login", {"username": f"u{n}", "password": "x" * 12}).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_a_login_is_on_the_admin_audit_page_under_its_user_and_action(app, logged_in):
    """More of the page: tests/admin/test_audit_page.py."""
    client, admin = logged_in("admin")
    page = client.get(f"/admin/audit?actor={admin.username}&action=login").text
    assert page.count("data-audit-seq=") == 1
    assert client.get("/admin/audit?action=logout").text.count("data-audit-seq=") == 0
    assert client.get("/admin/audit?from=2000-01-01&to=2000-01-02").text.count("data-audit-seq=") == 0
    assert client.get("/admin/audit?from=not-a-date&before=x").status_code == 400


def test_the_recovery_codes_never_stand_readable_in_the_cookie(app, client, staff):
    import base64
    import zlib

    user = staff(enrolled=False)
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    secret = re.search(r'data-field="totp_secret">([A-Z2-7]+)<', client.get("/login/enrol").text).group(1)
    done = post(client, "/login/enrol", {"otp": totp_now(secret)})
    cookie = next(h for h in done.headers.getlist("Set-Cookie") if h.startswith("session="))
    payload = cookie.split("=", 1)[1].split(";", 1)[0].split(".")
    raw = payload[1] if payload[0] == "" else payload[0]
    data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    text = (zlib.decompress(data) if payload[0] == "" else data).decode()
    codes = re.findall(r"<li><code>([a-z0-9-]{11})</code></li>", client.get("/account/recovery-codes").text)
    assert len(codes) == 10
    assert not any(code in text for code in codes)


def test_login_pages_are_never_cached(client, staff):
    user = staff(enrolled=False)
    assert client.get("/login").headers["Cache-Control"] == "no-store"
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    assert client.get("/login/enrol").headers["Cache-Control"] == "no-store"


def test_a_code_used_by_a_parallel_request_is_refused(app, staff):
    from sqlalchemy import update as sql_update

    user = staff()
    secret = user.unseal("totp_secret_data")
    code = totp_now(secret)
    client = app.test_client()
    post(client, "/login", {"username": user.username, "password": STAFF_PASSWORD})
    # Another request accepted this very code a moment ago, behind this request's back.
    step = int(dt.datetime.now(dt.UTC).timestamp()) // 30
    db.session.execute(sql_update(StaffUser).where(StaffUser.id == user.id).values(totp_last_step=step))
    db.session.commit()
    assert post(client, "/login/otp", {"otp": code}).status_code == 401


def test_failures_counted_elsewhere_still_lock_at_five(app, staff):
    from sqlalchemy import update as sql_update

    user = staff()
    db.session.execute(sql_update(StaffUser).where(StaffUser.id == user.id).values(failed_logins=4))
    db.session.commit()
    post(app.test_client(), "/login", {"username": user.username, "password": "wrong password 123"})
    db.session.expire_all()
    assert service.is_locked(db.session.get(StaffUser, user.id), dt.datetime.now(dt.UTC))


def test_an_admin_unlocks_a_locked_account_on_its_page_audited(app, staff, logged_in):
    from tests.auth.conftest import csrf_of

    user = staff()
    client = app.test_client()
    for _ in range(5):
        post(client, "/login", {"username": user.username, "password": "wrong password 123"})
    admin_client, admin = logged_in("admin")
    page = admin_client.get("/admin/users").text
    row = re.search(rf'<tr data-username="{user.username}"[^>]*>.*?</tr>', page, re.S).group(0)
    assert "已锁定" in row
    assert 'data-state="locked"' in row
    assert 'data-action="unlock"' in admin_client.get(f"/admin/users/{user.username}").text
    token = csrf_of(admin_client, f"/admin/users/{user.username}")
    answer = admin_client.post(f"/admin/users/{user.username}/actions/unlock", data={"csrf_token": token})
    assert (answer.status_code, answer.headers["Location"]) == (303, f"/admin/users/{user.username}")
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "user.unlock")).one()
    assert (entry.actor_id, entry.target_id) == (admin.id, str(user.id))
    assert 'data-action="unlock"' not in admin_client.get(f"/admin/users/{user.username}").text
    assert login(app.test_client(), user).status_code == 303
