"""One-time setup links (CONTRACT.md "Administration", "First run"): an account's owner chooses the password
through a link valid 72 hours and once, then enrols TOTP; nobody types the password for them."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, text, update

from app.auth import passwords, setup_links
from app.auth.models import SetupLink, StaffSession, StaffUser
from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.offices import queries as offices
from tests.auth.conftest import login, post, totp_now
from tests.factories import STAFF_PASSWORD

FIRST = re.compile(r"^first administrator: (http://\S+/setup/(\S+))$", re.M)
NEW_PASSWORD = "violet kettle harbour 42"


def first_admin_link(runner) -> tuple[str, str] | None:
    result = runner.invoke(args=["users", "first-admin"])
    assert result.exit_code == 0, result.output
    found = FIRST.search(result.output)
    return (found.group(1), found.group(2)) if found else None


def test_first_run_prints_one_link_for_admin_which_sets_the_password_and_enrols_totp(app, client, runner):
    link = first_admin_link(runner)
    assert link is not None
    url, token = link
    assert url.startswith(app.config["QZBG"].public_url.rstrip("/") + "/setup/")
    admin = db.session.scalars(select(StaffUser).where(StaffUser.username == "admin")).one()
    assert (admin.role, admin.office_id, admin.password_hash) == ("admin", 1, passwords.UNUSABLE)

    page = client.get(f"/setup/{token}")
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert 'name="password2"' in page.text
    assert post(client, f"/setup/{token}", {"password": NEW_PASSWORD, "password2": "other " + NEW_PASSWORD}
                ).status_code == 422
    weak = post(client, f"/setup/{token}", {"password": "admin", "password2": "admin"})
    assert weak.status_code == 422
    assert "密码至少需要" in weak.text
    done = post(client, f"/setup/{token}", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert (done.status_code, done.headers["Location"]) == (303, "/login/enrol")
    enrol = client.get("/login/enrol").text
    secret = re.search(r'data-field="totp_secret">([A-Z2-7]+)<', enrol).group(1)
    finished = post(client, "/login/enrol", {"otp": totp_now(secret)})
    assert (finished.status_code, finished.headers["Location"]) == (303, "/account/recovery-codes")
    assert 'data-field="recovery_codes"' in client.get("/account/recovery-codes").text

    assert first_admin_link(runner) is None  # an administrator is there: nothing printed
    assert client.get(f"/setup/{token}").status_code == 404  # once


def test_run_again_before_the_link_is_used_the_first_run_gives_a_new_link_and_the_old_one_stops(app, client,
                                                                                                 runner):
    _, old = first_admin_link(runner)
    _, new = first_admin_link(runner)
    assert old != new
    gone = client.get(f"/setup/{old}")
    assert gone.status_code == 404
    assert "设置链接无效" in gone.text
    assert client.get(f"/setup/{new}").status_code == 200
    assert db.session.scalar(select(db.func.count()).select_from(StaffUser)) == 1


def test_an_unknown_expired_or_used_link_is_a_zh_cn_404(app, client, runner):
    _, token = first_admin_link(runner)
    assert client.get("/setup/not-a-token").status_code == 404
    db.session.execute(update(SetupLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    db.session.commit()
    expired = client.get(f"/setup/{token}")
    assert expired.status_code == 404
    assert "72小时" in expired.text
    assert post(client, f"/setup/{token}", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD},
                form_page="/login").status_code == 404


def test_a_link_lasts_72_hours_and_only_its_hash_is_stored(app):
    office = offices.default_office()
    now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    user, token = setup_links.create_account(
        setup_links.NewUser(username="liu.jcg", role="prosecutor", office=office, display_name="刘检察官"),
        actor=Actor.system(), now=now, vault=get_vault())
    db.session.commit()
    assert setup_links.find(token, now + dt.timedelta(hours=71, minutes=59)) is not None
    assert setup_links.find(token, now + dt.timedelta(hours=72)) is None
    stored = db.session.execute(text("SELECT token_hash FROM staff_setup_links")).scalars().all()
    assert len(stored) == 1
    assert token.encode() not in bytes(stored[0])


def test_an_account_waiting_for_its_link_cannot_log_in_with_any_password(app, client):
    office = offices.default_office()
    user, _ = setup_links.create_account(
        setup_links.NewUser(username="wang.jcg", role="prosecutor", office=office), actor=Actor.system(),
        now=dt.datetime.now(dt.UTC), vault=get_vault())
    db.session.commit()
    for guess in (STAFF_PASSWORD, passwords.UNUSABLE, ""):
        answer = post(client, "/login", {"username": "wang.jcg", "password": guess})
        assert answer.status_code == 401


def test_a_reset_link_from_the_cli_stops_the_old_password_and_ends_every_session(app, client, runner, staff):
    user = staff(role="prosecutor")
    assert login(client, user).status_code == 303
    result = runner.invoke(args=["users", "setup-link", user.username])
    assert result.exit_code == 0, result.output
    token = result.output.strip().rsplit("/", 1)[1]
    db.session.expire_all()
    assert db.session.scalars(select(StaffSession).where(StaffSession.user_id == user.id,
                                                         StaffSession.ended_at.is_(None))).all() == []
    other = app.test_client()
    assert post(other, "/login", {"username": user.username, "password": STAFF_PASSWORD}).status_code == 401
    done = post(other, f"/setup/{token}", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert (done.status_code, done.headers["Location"]) == (303, "/login/otp")  # the authenticator stays
    fresh = app.test_client()
    assert login(fresh, db.session.get(StaffUser, user.id), password=NEW_PASSWORD, step=1).status_code == 303


@pytest.mark.parametrize("role", ["unit_liaison"])
def test_a_liaison_without_a_second_factor_goes_to_the_login_after_the_link(app, client, runner, staff, role):
    from tests.factories import create_unit

    unit = create_unit("setup-u1")
    user = staff(role=role, unit=unit)
    result = runner.invoke(args=["users", "setup-link", user.username])
    token = result.output.strip().rsplit("/", 1)[1]
    done = post(client, f"/setup/{token}", {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert (done.status_code, done.headers["Location"]) == (303, "/login?setup=done")
