"""A report goes to its unit's office, or for the public to the office covering the chosen district."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.reports.models import Report
from tests.conftest import login_reporter
from tests.factories import create_office, create_unit, report_body
from tests.reports.test_web import filled, open_form, post_form


def stored() -> Report:
    return db.session.scalars(select(Report)).one()


def test_districts_lists_what_the_offices_cover(client):
    create_office("north", "北区人民检察院", ("430299", "430298"))
    db.session.commit()
    assert client.get("/api/v1/districts").json == {
        "items": [{"code": "430298", "name": "430298"}, {"code": "430299", "name": "430299"}]
    }


def test_a_public_report_goes_to_the_office_covering_its_district(client):
    north = create_office("north", "北区人民检察院", ("430299",))
    north_id = north.id
    db.session.commit()
    login = login_reporter("o-public")
    answer = client.post("/api/v1/reports", json=report_body(district_code="430299"), headers=login.headers)
    assert answer.status_code == 201
    report = stored()
    assert (report.office_id, report.district_code) == (north_id, "430299")


def test_a_report_without_a_district_goes_to_the_default_office(client):
    login = login_reporter("o-public")
    assert client.post("/api/v1/reports", json=report_body(), headers=login.headers).status_code == 201
    assert stored().office_id == 1


def test_the_units_office_wins_over_a_chosen_district(client):
    create_office("north", "北区人民检察院", ("430299",))
    unit = create_unit(district_code="430281")
    unit_id = unit.id
    db.session.commit()
    login = login_reporter("o-doctor")
    body = report_body(unit_id=unit_id, district_code="430299")
    assert client.post("/api/v1/reports", json=body, headers=login.headers).status_code == 201
    report = stored()
    assert (report.office_id, report.district_code) == (1, "430281")


def test_an_uncovered_district_is_refused_and_nothing_is_stored(client):
    login = login_reporter("o-public")
    for code in ("999999", "12345", "abcdef"):
        answer = client.post("/api/v1/reports", json=report_body(district_code=code), headers=login.headers)
        assert answer.status_code == 422
        assert "district_code" in answer.json["error"]["fields"]
    assert db.session.scalars(select(Report)).all() == []


def test_the_web_form_offers_the_districts_and_routes_by_them(client):
    north = create_office("north", "北区人民检察院", ("430299",))
    north_id = north.id
    db.session.commit()
    doc, hidden = open_form(client)
    assert doc.find("select", name="district_code")
    assert post_form(client, filled(hidden, district_code="430299")).status_code == 303
    assert stored().office_id == north_id


def test_without_districts_the_form_asks_for_none(client):
    doc, _hidden = open_form(client)
    assert not doc.find_all("select", name="district_code")
