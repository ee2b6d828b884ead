"""A public report without a district goes to the default office without a look-up of its own."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.extensions import db
from app.offices.queries import default_office
from app.reports.models import Report
from tests.factories import report_body
from tests.reports.test_request_overhead import statements

REPORTS = "/api/v1/reports"


def test_a_public_report_without_a_district_is_routed_to_the_default_office_inside_its_insert(
    client, reporter, backend_name
):
    client.get("/api/v1/me", headers=reporter.headers)  # the first request also checks the keyring
    db.session.rollback()
    with statements(backend_name) as sent:
        created = client.post(REPORTS, json=report_body(), headers=reporter.headers)
    assert created.status_code == 201
    assert not [s for s in sent if "FROM offices" in s and s.startswith("SELECT")], "\n".join(sent)
    db.session.rollback()
    stored = db.session.scalars(select(Report).where(Report.id == uuid.UUID(created.json["id"]))).one()
    assert stored.office_id == default_office().id
    assert stored.district_code is None
