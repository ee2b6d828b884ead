"""Hostile strings in the unit pages' query strings, forms and uploads: a clear zh-CN 4xx or a page, never a
500, and nothing stored from a refused form."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

import pytest

from app.core.fields import INVISIBLE
from app.extensions import db
from tests.factories import create_unit
from tests.test_hostile_input import HAS_NUL, HOSTILE, assert_no_500, assert_refused_in_chinese
from tests.units.helpers import form_post, units
from tests.units.test_import import upload

QUERY_ROUTES = ["/admin/units?q={v}", "/admin/units?type={v}&active={v}&page={v}", "/admin/units/posters?q={v}",
                "/admin/units?{v}=1", "/admin/units/{v}", "/admin/units/1/liaisons/{v}"]
FORM_FIELDS = ["code", "name", "type", "district_code", "address", "liaison_name", "liaison_phone", "unknown"]


@pytest.mark.parametrize("route", QUERY_ROUTES)
def test_a_hostile_query_string_on_a_unit_page_is_a_clear_answer(admin, route):
    client, _ = admin
    create_unit("hosp-1")
    for name, value in HOSTILE.items():
        response = client.get(route.format(v=quote(value, safe="")))
        if name in HAS_NUL:
            assert response.status_code in (400, 404), (route, name)
        else:
            assert_no_500(response, f"{route} {name}")


@pytest.mark.parametrize("field", FORM_FIELDS)
def test_a_hostile_value_in_any_field_of_the_unit_form_is_refused_or_cleaned_never_a_500(admin, field):
    client, _ = admin
    good = {"code": "hosp-1", "name": "某医院", "type": "hospital"}
    for name, value in HOSTILE.items():
        answer = form_post(client, "/admin/units/new", {**good, field: value}, form_page="/admin/units/new")
        if name in HAS_NUL:
            assert_refused_in_chinese(answer, 400)
        else:
            assert_no_500(answer, f"{field} {name}")
        if answer.status_code == 303:  # cleaned and accepted: what was stored is clean; start again
            unit = units()["hosp-1"] if "hosp-1" in units() else next(iter(units().values()))
            for text in (unit.code, unit.name, unit.address or "", unit.district_code or ""):
                assert not any(ch in INVISIBLE or unicodedata.category(ch) == "Cc" for ch in text), (field, name)
            db.session.delete(unit)
            db.session.commit()
        else:
            assert units() == {}, (field, name)

def test_a_hostile_upload_file_name_is_refused_in_chinese(admin):
    client, _ = admin
    for filename in ("units\x00.xlsx", "../../etc/passwd.csv", "单位" * 200 + ".csv", "\u202eslx.csv"):
        answer = upload(client, b"code,name,type\n", filename)
        assert answer.status_code in (400, 422), filename
        assert_no_500(answer, filename)
    assert units() == {}
