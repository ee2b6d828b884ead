"""Police units in the browser's pages (CONTRACT.md "Administration"): created, edited and deactivated on
/admin/police-units with the import's own rules, each change audited and behind step-up; a deactivated unit leaves
the transfer form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.offices.models import PoliceUnit
from tests.auth.conftest import csrf_of, post
from tests.review.detail_helpers import Person, age_step_up, step_up


@pytest.fixture
def admin(logged_in):
    return logged_in("admin")


def unit_of(code: str) -> PoliceUnit:
    db.session.expire_all()
    return db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == code)).one()


def test_an_admin_creates_edits_and_deactivates_a_police_unit_audited(app, admin):
    client, _ = admin
    created = post(client, "/admin/police-units/new", {"code": "pcs-south", "name": " 城南派出所 ",
                                                       "district_code": "430102"})
    assert (created.status_code, created.headers["Location"]) == (303, "/admin/police-units")
    page = client.get("/admin/police-units").text
    assert "已新建公安机关 城南派出所（pcs-south）" in page
    assert 'data-police-unit="pcs-south"' in page
    unit = unit_of("pcs-south")
    assert (unit.name, unit.district_code, unit.office_id, unit.active) == ("城南派出所", "430102", 1, True)
    token = csrf_of(client, "/admin/police-units")
    assert client.post("/admin/police-units/pcs-south/edit", data={"csrf_token": token, "name": "城南公安分局",
                                                                   "district_code": ""}).status_code == 303
    assert (unit_of("pcs-south").name, unit_of("pcs-south").district_code) == ("城南公安分局", None)
    token = csrf_of(client, "/admin/police-units")
    assert client.post("/admin/police-units/pcs-south/deactivate", data={"csrf_token": token}).status_code == 303
    assert unit_of("pcs-south").active is False
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "police_unit")
                                 .order_by(AuditEntry.seq)).all()
    assert actions == ["police_unit.create", "police_unit.update", "police_unit.deactivate"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"code": "bad code!", "name": "某派出所"}, "code", "代码须为1至32个"),
    ({"code": "pcs-x", "name": ""}, "name", ""),
    ({"code": "pcs-x", "name": "某派出所", "district_code": "43"}, "district_code", "6位数字"),
    ({"code": "pcs-x", "name": "<script>alert(1)</script>" * 10}, "name", "不能超过"),
])
def test_a_refused_police_unit_is_shown_beside_its_field_and_nothing_is_stored(app, admin, data, field, message):
    client, _ = admin
    answer = post(client, "/admin/police-units/new", data)
    assert answer.status_code == 422
    assert f'data-error-for="{field}"' in answer.text
    assert message in answer.text
    assert "<script>alert" not in answer.text
    assert db.session.scalars(select(PoliceUnit)).all() == []


def test_a_code_in_use_is_refused(app, admin):
    client, _ = admin
    db.session.add(PoliceUnit(code="pcs-dup", name="甲派出所", office_id=1))
    db.session.commit()
    answer = post(client, "/admin/police-units/new", {"code": "pcs-dup", "name": "乙派出所"})
    assert answer.status_code == 422
    assert "该代码已被使用" in answer.text


def test_a_bad_edit_comes_back_on_the_list_with_the_value_kept(app, admin):
    client, _ = admin
    db.session.add(PoliceUnit(code="pcs-e", name="东派出所", office_id=1))
    db.session.commit()
    token = csrf_of(client, "/admin/police-units")
    answer = client.post("/admin/police-units/pcs-e/edit", data={"csrf_token": token, "name": "东派出所",
                                                                 "district_code": "abc"})
    assert answer.status_code == 422
    assert 'value="abc"' in answer.text
    assert unit_of("pcs-e").district_code is None


def test_creating_a_police_unit_needs_a_recent_code_and_is_carried_out_after_it(app, admin):
    client, me = admin
    who = Person(client, me)
    age_step_up(who)
    assert client.get("/admin/police-units/new").headers["Location"].startswith("/account/step-up")
    token = csrf_of(client, "/admin/police-units")
    held = client.post("/admin/police-units/new", data={"csrf_token": token, "code": "pcs-held", "name": "等候派出所"})
    assert held.headers["Location"].startswith("/account/step-up")
    assert step_up(who, "/admin/police-units").status_code == 303
    assert unit_of("pcs-held").name == "等候派出所"
