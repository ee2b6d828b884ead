"""Step-up keeps the action for every administration form (CONTRACT.md "Step-up"): posted without a recent code,
each is held, named on the step-up page, and carried out with the posted values after the code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import g
from sqlalchemy import select

from app.auth.models import StaffUser
from app.extensions import db
from app.offices.models import PoliceUnit
from tests.auth.conftest import csrf_of
from tests.factories import create_unit
from tests.review.detail_helpers import Person, age_step_up, step_up


def _user(name: str) -> StaffUser | None:
    db.session.expire_all()
    return db.session.scalars(select(StaffUser).where(StaffUser.username == name)).one_or_none()


def _unit(code: str) -> PoliceUnit | None:
    db.session.expire_all()
    return db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == code)).one_or_none()


CASES: dict[str, tuple[str, dict[str, str], str, Callable[[], Any]]] = {
    "user_new": ("/admin/users/new", {"username": "held.new", "role": "prosecutor"}, "新建账号",
                 lambda: _user("held.new") is not None),
    "user_action": ("/admin/users/held.target/actions/change_role", {"role": "lead"}, "账号管理操作",
                    lambda: getattr(_user("held.target"), "role", None) == "lead"),
    "add_liaison_login": ("/admin/units/held-unit/liaison-login", {"username": "held.liaison"}, "为联络人开通登录",
                          lambda: getattr(_user("held.liaison"), "unit_id", None) is not None),
    "police_unit_new": ("/admin/police-units/new", {"code": "pcs-held2", "name": "新派出所"}, "新建公安机关",
                        lambda: getattr(_unit("pcs-held2"), "name", None) == "新派出所"),
    "police_unit_edit": ("/admin/police-units/pcs-held/edit", {"name": "改名派出所", "district_code": ""},
                         "修改公安机关", lambda: getattr(_unit("pcs-held"), "name", None) == "改名派出所"),
    "police_unit_deactivate": ("/admin/police-units/pcs-held/deactivate", {}, "停用公安机关",
                               lambda: getattr(_unit("pcs-held"), "active", None) is False),
    "police_unit_reactivate": ("/admin/police-units/pcs-off/reactivate", {}, "启用公安机关",
                               lambda: getattr(_unit("pcs-off"), "active", None) is True),
}


@pytest.mark.parametrize("endpoint", list(CASES))
def test_an_administration_form_posted_without_a_recent_code_is_carried_out_after_it(app, logged_in, staff,
                                                                                      endpoint):
    client, admin = logged_in("admin")
    staff(role="prosecutor", username="held.target")
    create_unit("held-unit")
    db.session.add_all([PoliceUnit(code="pcs-held", name="原派出所", office_id=1),
                        PoliceUnit(code="pcs-off", name="停用派出所", office_id=1, active=False)])
    db.session.commit()
    path, data, label, done = CASES[endpoint]
    who = Person(client, admin)
    age_step_up(who)
    token = csrf_of(client, "/admin/users")
    held = client.post(path, data={"csrf_token": token, **data})
    assert held.status_code == 303
    assert held.headers["Location"].startswith("/account/step-up")
    g.pop("csrf_token", None)
    assert label in client.get(held.headers["Location"]).text
    assert not done()
    carried = step_up(who, "/admin/users")
    assert carried.status_code == 303
    assert done()
