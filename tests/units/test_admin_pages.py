"""``/admin/units`` as an administrator uses it: create, find, edit, deactivate, liaisons, posters."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.crypto.models import DataKey
from app.extensions import db
from app.units.models import UnitLiaison
from tests.factories import create_office, create_report, create_staff, create_unit
from tests.units.helpers import audit_actions, form_post, units

NEW = {"code": "hosp-001", "name": "市第一人民医院", "type": "hospital", "district_code": "430102",
       "address": "人民路1号", "liaison_name": "王联络", "liaison_phone": "13812345678"}


def test_an_admin_creates_a_unit_with_its_first_liaison_and_finds_it_in_the_list(admin):
    client, _ = admin
    answer = form_post(client, "/admin/units/new", NEW)
    assert answer.status_code == 303
    unit = units()["hosp-001"]
    assert answer.headers["Location"].startswith(f"/admin/units/{unit.id}?done=created")
    assert (unit.name, unit.type, unit.district_code, unit.address, unit.active) == (
        "市第一人民医院", "hospital", "430102", "人民路1号", True)
    detail = client.get(f"/admin/units/{unit.id}?done=created")
    assert detail.headers["Cache-Control"] == "no-store"
    text = detail.get_data(as_text=True)
    assert "单位已新建" in text
    assert "王联络" in text
    assert "13812345678" in text
    assert 'href="/units/hosp-001/poster"' in text
    assert 'href="/units/hosp-001/qrcode.png?download=1"' in text
    listing = client.get("/admin/units").get_data(as_text=True)
    assert 'data-unit="hosp-001"' in listing
    assert audit_actions()[-2:] == ["unit.create", "unit.liaison.add"]


def test_a_bad_unit_form_shows_each_error_next_to_its_field_in_chinese_and_stores_nothing(admin):
    client, _ = admin
    bad = {"code": "含中文 的代码", "name": "", "type": "prison", "district_code": "12ab",
           "liaison_name": "王联络", "liaison_phone": "12345"}
    answer = form_post(client, "/admin/units/new", bad, form_page="/admin/units/new")
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    for field in ("code", "name", "type", "district_code", "liaison_phone"):
        assert f'data-error-for="{field}"' in text, field
    assert "此项必填" in text
    assert "不是可选的值" in text
    assert 'value="含中文 的代码"' in text  # what was typed stays in the form
    assert units() == {}


def test_a_code_already_taken_is_refused_next_to_the_code(admin):
    client, _ = admin
    create_unit("hosp-001")
    db.session.commit()
    answer = form_post(client, "/admin/units/new", {**NEW, "liaison_name": "", "liaison_phone": ""})
    assert answer.status_code == 422
    assert re.search(r'data-error-for="code">该单位代码已存在', answer.get_data(as_text=True))


def test_half_a_liaison_is_refused_with_the_missing_half_named(admin):
    client, _ = admin
    answer = form_post(client, "/admin/units/new", {**NEW, "liaison_phone": ""})
    assert answer.status_code == 422
    assert 'data-error-for="liaison_phone">填写了联络人姓名' in answer.get_data(as_text=True)
    assert units() == {}


def test_editing_a_unit_changes_its_fields_keeps_its_code_and_is_audited(admin):
    client, _ = admin
    unit = create_unit("sch-1", name="实验小学", type="school")
    db.session.commit()
    form = client.get(f"/admin/units/{unit.id}/edit").get_data(as_text=True)
    assert 'value="实验小学"' in form
    answer = form_post(client, f"/admin/units/{unit.id}/edit",
                       {"name": "实验小学（东校区）", "type": "school", "district_code": "", "address": "东路2号"})
    assert answer.status_code == 303
    changed = units()["sch-1"]
    assert (changed.name, changed.district_code, changed.address) == ("实验小学（东校区）", None, "东路2号")
    assert audit_actions()[-1] == "unit.update"
    refused = form_post(client, f"/admin/units/{unit.id}/edit", {"code": "other", "name": "x", "type": "school"},
                        form_page=f"/admin/units/{unit.id}/edit")
    assert refused.status_code == 422
    assert "sch-1" in units()


def test_a_deactivated_unit_loses_its_poster_and_comes_back_when_reactivated(admin):
    client, _ = admin
    unit = create_unit("clinic-7", type="clinic")
    db.session.commit()
    page = f"/admin/units/{unit.id}"
    assert form_post(client, f"{page}/active", {"active": "0"}, form_page=page).status_code == 303
    assert units()["clinic-7"].active is False
    assert client.get("/units/clinic-7/poster").status_code == 404
    assert "单位已停用" in client.get(page).get_data(as_text=True)
    assert form_post(client, f"{page}/active", {"active": "1"}, form_page=page).status_code == 303
    assert units()["clinic-7"].active is True
    assert client.get("/units/clinic-7/poster").status_code == 200
    assert audit_actions()[-2:] == ["unit.deactivate", "unit.reactivate"]
    assert form_post(client, f"{page}/active", {"active": "maybe"}, form_page=page).status_code == 422


def test_the_list_searches_filters_and_counts_reports_per_unit(admin):
    client, _ = admin
    hospital = create_unit("hosp-1", name="市第一人民医院", type="hospital")
    create_unit("sch-1", name="实验小学", type="school")
    create_unit("old-1", name="旧医院", type="hospital", active=False)
    db.session.commit()
    for _ in range(3):
        create_report(unit=hospital)

    def listed(query: str) -> set[str]:
        return set(re.findall(r'data-unit="([^"]+)"', client.get("/admin/units" + query).get_data(as_text=True)))

    assert listed("") == {"hosp-1", "sch-1", "old-1"}
    assert listed("?type=hospital") == {"hosp-1", "old-1"}
    assert listed("?type=hospital&active=1") == {"hosp-1"}
    assert listed("?active=0") == {"old-1"}
    assert listed("?q=小学") == {"sch-1"}
    assert listed("?q=HOSP") == {"hosp-1"}
    assert listed("?q=%25") == set()  # a LIKE wildcard is a character, not "everything"
    assert listed("?type=prison&active=x&page=-1") == {"hosp-1", "sch-1", "old-1"}  # bad filters: ignored
    row = re.search(r'data-unit="hosp-1">.*?data-field="report_count">(\d+)<',
                    client.get("/admin/units").get_data(as_text=True), re.S)
    assert row.group(1) == "3"


def test_a_liaison_phone_number_finds_its_unit(admin):
    client, _ = admin
    form_post(client, "/admin/units/new", NEW)
    create_unit("sch-1", name="实验小学", type="school")
    db.session.commit()
    found = re.findall(r'data-unit="([^"]+)"', client.get("/admin/units?q=13812345678").get_data(as_text=True))
    assert found == ["hosp-001"]


def test_a_liaison_is_edited_and_removed_and_their_data_key_destroyed(admin):
    client, _ = admin
    form_post(client, "/admin/units/new", NEW)
    unit = units()["hosp-001"]
    liaison = db.session.scalars(select(UnitLiaison)).one()
    key_id, liaison_id = liaison.data_key_id, liaison.id
    path = f"/admin/units/{unit.id}/liaisons/{liaison_id}"
    assert 'value="13812345678"' in client.get(path).get_data(as_text=True)
    bad = form_post(client, path, {"name": "李联络", "phone": "电话"})
    assert bad.status_code == 422
    assert 'data-error-for="phone"' in bad.get_data(as_text=True)
    assert form_post(client, path, {"name": "李联络", "phone": "0731-88886666"}).status_code == 303
    detail = client.get(f"/admin/units/{unit.id}").get_data(as_text=True)
    assert "李联络" in detail
    assert "0731-88886666" in detail
    assert "王联络" not in detail
    assert form_post(client, f"{path}/remove", {}, form_page=f"/admin/units/{unit.id}").status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(UnitLiaison)).all() == []
    key = db.session.get(DataKey, key_id)
    assert key.wrapped is None
    assert key.destroyed_at is not None
    assert audit_actions()[-2:] == ["unit.liaison.update", "unit.liaison.remove"]


def test_a_second_liaison_is_added_from_the_unit_page(admin):
    client, _ = admin
    unit = create_unit("hosp-2")
    db.session.commit()
    answer = form_post(client, f"/admin/units/{unit.id}/liaisons/new", {"name": "赵联络", "phone": "13900001111"})
    assert answer.status_code == 303
    assert "赵联络" in client.get(f"/admin/units/{unit.id}").get_data(as_text=True)


def test_another_offices_units_are_not_found_for_an_admin(admin):
    client, _ = admin
    north = create_office()
    theirs = create_unit("north-1", name="北区医院")
    theirs.office_id = north.id
    db.session.commit()
    assert "north-1" not in client.get("/admin/units").get_data(as_text=True)
    for path in (f"/admin/units/{theirs.id}", f"/admin/units/{theirs.id}/edit",
                 f"/admin/units/{theirs.id}/liaisons/new"):
        assert client.get(path).status_code == 404, path
    mine = create_unit("mine-1")
    db.session.commit()
    answer = form_post(client, f"/admin/units/{theirs.id}/active", {"active": "0"},
                       form_page=f"/admin/units/{mine.id}")
    assert answer.status_code == 404
    assert units()["north-1"].active is True
    assert "north-1" not in client.get("/admin/units/posters").get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(admin):
    client, _ = admin
    answer = client.post("/admin/units/new", data=NEW)
    assert answer.status_code == 400
    assert "页面已过期" in answer.get_data(as_text=True)
    assert units() == {}


def test_the_poster_sheet_holds_one_poster_per_active_unit_without_inline_style_or_script(admin):
    client, _ = admin
    create_unit("a-1", name="甲幼儿园", type="kindergarten")
    create_unit("b-1", name="乙小学", type="school")
    create_unit("c-1", name="丙诊所", type="clinic", active=False)
    db.session.commit()
    answer = client.get("/admin/units/posters")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    text = answer.get_data(as_text=True)
    assert sorted(re.findall(r'data-poster="([^"]+)"', text)) == ["a-1", "b-1"]
    assert "<script" not in text
    assert "style=" not in text
    assert 'src="/units/a-1/qrcode.png"' in text
    only_schools = client.get("/admin/units/posters?type=school").get_data(as_text=True)
    assert re.findall(r'data-poster="([^"]+)"', only_schools) == ["b-1"]


def test_a_unit_id_that_is_no_number_is_not_found_after_the_guard(app, admin):
    client, _ = admin
    for path in ("/admin/units/abc", "/admin/units/1e3", "/admin/units/" + "9" * 40, "/admin/units/%EF%BC%91"):
        assert client.get(path).status_code == 404, path
    anonymous = app.test_client()
    assert anonymous.get("/admin/units/abc").status_code == 303


def test_other_roles_get_403_on_every_unit_admin_page(app):
    unit = create_unit("u-1")
    users = [create_staff(role=role) for role in ("prosecutor", "lead", "police", "unit_liaison")]
    db.session.commit()
    from tests.auth.conftest import login

    for user in users:
        client = app.test_client()
        assert login(client, user).status_code == 303
        for path in ("/admin/units", f"/admin/units/{unit.id}", "/admin/units/new", "/admin/units/import",
                     "/admin/units/template.xlsx", "/admin/units/posters", f"/admin/units/{unit.id}/edit"):
            assert client.get(path).status_code == 403, (user.role, path)


def test_a_units_training_qr_code_opens_the_practice_form_with_the_unit(app, client):
    """The unit page offers a training code: a QR code of /report?unit=CODE&training=1 (the form with the
    practice notice), what a trainer prints for a liaison training."""
    import io as _io

    import qrcode

    unit = create_unit("train-1", name="培训用医院")
    db.session.commit()
    settings = app.config["QZBG"]
    url = f"{settings.public_url}/report?unit=train-1&training=1"
    expected = _io.BytesIO()
    qrcode.make(url, error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4).save(expected)
    answer = client.get("/units/train-1/training-qrcode.png")
    assert answer.status_code == 200
    assert answer.mimetype == "image/png"
    assert answer.data == expected.getvalue()
    form = client.get("/report?unit=train-1&training=1").get_data(as_text=True)
    assert 'data-field="training_notice"' in form
    assert unit.name in form
