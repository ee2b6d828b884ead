"""Each institution's system has its own ceiling (QZBG_INSTITUTION_RATE_LIMIT): past it a signed report is a 429
with Retry-After and nothing stored, while another institution's reports go on; a refused report costs nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.reports.models import Report
from tests.factories import create_staff, create_unit
from tests.institutions.test_institutional_api import FakeHospital, registered


def test_an_institution_past_its_ceiling_gets_429_and_another_goes_on(make_app):
    app = make_app(institution_rate_limit="2 per minute")
    client, runner = app.test_client(), app.test_cli_runner()
    create_unit("his-a-unit", name="甲医院")
    create_unit("his-b-unit", name="乙医院")
    create_staff(role="prosecutor")
    db.session.commit()
    first = FakeHospital(client, *registered(runner, "his-a", "甲医院HIS", "--unit", "his-a-unit"))
    second = FakeHospital(client, *registered(runner, "his-b", "乙医院HIS", "--unit", "his-b-unit"))

    refused_body = first.send("A-0", {"categories": []})  # a refused report spends nothing
    assert refused_body.status_code == 422
    assert [first.send(f"A-{n}").status_code for n in (1, 2, 3)] == [201, 201, 429]
    limited = first.send("A-4")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json["error"]["code"] == "rate_limited"
    assert second.send("B-1").status_code == 201
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Report)) == 3
