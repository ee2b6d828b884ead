"""The office names its districts in the browser (/admin/districts): added with a 6-digit code, renamed, each change
audited and behind step-up; a code another office covers is refused; the name then labels the statistics."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.offices.models import OfficeDistrict
from tests.auth.conftest import csrf_of, post
from tests.factories import create_office
from tests.review.detail_helpers import Person, age_step_up, step_up


@pytest.fixture
def admin(logged_in):
    return logged_in("admin")


def district(code: str) -> OfficeDistrict | None:
    db.session.expire_all()
    return db.session.get(OfficeDistrict, code)


def test_an_admin_adds_and_renames_a_district_audited(app, admin):
    client, _ = admin
    answer = post(client, "/admin/districts", {"code": "430181", "name": " 浏阳市 "}, form_page="/admin/districts")
    assert (answer.status_code, answer.headers["Location"]) == (303, "/admin/districts")
    page = client.get("/admin/districts").text
    assert "已添加辖区 浏阳市（430181）" in page
    assert 'data-district="430181"' in page
    assert (district("430181").name, district("430181").office_id) == ("浏阳市", 1)
    token = csrf_of(client, "/admin/districts")
    assert client.post("/admin/districts/430181/rename", data={"csrf_token": token, "name": "浏阳"}).status_code == 303
    assert district("430181").name == "浏阳"
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "district")
                                 .order_by(AuditEntry.seq)).all()
    assert actions == ["district.add", "district.rename"]
    assert 'data-link="districts"' in client.get("/admin/police-units").text


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"code": "4301", "name": "某区"}, "code", "6位数字"),
    ({"code": "430181", "name": ""}, "name", ""),
    ({"code": "430181", "name": "=HYPERLINK(\"http://x\")" * 5}, "name", "不能超过"),
    ({"code": "<b>430181</b>", "name": "某区"}, "code", ""),
])
def test_a_refused_district_is_shown_beside_its_field_and_nothing_is_stored(app, admin, data, field, message):
    client, _ = admin
    answer = post(client, "/admin/districts", data, form_page="/admin/districts")
    assert answer.status_code == 422
    assert f'data-error-for="{field}"' in answer.text
    assert message in answer.text
    assert "<b>430181" not in answer.text
    assert db.session.scalars(select(OfficeDistrict)).all() == []


def test_a_district_of_another_office_is_refused_and_not_renamed_from_here(app, admin):
    client, _ = admin
    other = create_office()
    db.session.commit()
    theirs = db.session.scalars(select(OfficeDistrict).where(OfficeDistrict.office_id == other.id)).first()
    answer = post(client, "/admin/districts", {"code": theirs.code, "name": "抢来的区"}, form_page="/admin/districts")
    assert answer.status_code == 422
    assert "该区划已属于其他检察院" in answer.text
    token = csrf_of(client, "/admin/districts")
    assert client.post(f"/admin/districts/{theirs.code}/rename",
                       data={"csrf_token": token, "name": "改名"}).status_code == 404
    assert district(theirs.code).office_id == other.id


def test_adding_a_district_needs_a_recent_code_and_is_carried_out_after_it(app, admin):
    client, me = admin
    who = Person(client, me)
    age_step_up(who)
    token = csrf_of(client, "/admin/districts")
    held = client.post("/admin/districts", data={"csrf_token": token, "code": "430102", "name": "芙蓉区"})
    assert held.headers["Location"].startswith("/account/step-up")
    assert district("430102") is None
    assert step_up(who, "/admin/districts").status_code == 303
    assert district("430102").name == "芙蓉区"


@pytest.mark.parametrize("role", ["prosecutor", "lead", "police", "unit_liaison"])
def test_only_administrators_reach_the_districts_page(app, logged_in, role):
    client, _ = logged_in(role)
    assert client.get("/admin/districts").status_code == 403
