"""Step-up keeps the action for an administrator's sensitive forms too (CONTRACT.md "Step-up")."""

from __future__ import annotations

from flask import g

from app.auth.models import StaffUser
from app.extensions import db
from tests.auth.conftest import csrf_of, post
from tests.review.detail_helpers import Person, a_minute_passes, age_step_up, step_up


def test_an_admins_role_change_and_unlock_are_carried_out_after_the_code(app, staff, logged_in):
    admin_client, admin = logged_in("admin")
    who = Person(admin_client, admin)
    target, locked = staff(role="prosecutor"), staff(role="prosecutor")
    for _ in range(5):
        post(app.test_client(), "/login", {"username": locked.username, "password": "wrong password 123"})
    age_step_up(who)
    token = csrf_of(admin_client, "/admin/users")
    held = admin_client.post(f"/admin/users/{target.username}/role", data={"csrf_token": token, "role": "lead"})
    assert held.status_code == 303
    assert held.headers["Location"].startswith("/account/step-up")
    g.pop("csrf_token", None)
    assert "更改账号角色" in admin_client.get(held.headers["Location"]).text
    done = step_up(who, "/admin/users")
    assert (done.status_code, done.headers["Location"]) == (303, "/admin/users")
    db.session.expire_all()
    assert db.session.get(StaffUser, target.id).role == "lead"

    age_step_up(who)
    a_minute_passes(who)
    token = csrf_of(admin_client, "/admin/users")
    held = admin_client.post(f"/admin/users/{locked.username}/unlock", data={"csrf_token": token})
    assert held.headers["Location"].startswith("/account/step-up")
    done = step_up(who, "/admin/users")
    assert (done.status_code, done.headers["Location"]) == (303, "/admin/users")
    db.session.expire_all()
    assert db.session.get(StaffUser, locked.id).locked_until is None
