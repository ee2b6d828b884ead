"""The test builders make real rows through the project's own services, at every status."""

from __future__ import annotations

import pytest

from app.reports.states import Status
from tests.conftest import login_reporter
from tests.factories import STATUS_PATH, create_report, create_unit


@pytest.mark.parametrize("status", list(STATUS_PATH))
def test_a_built_report_reaches_its_status_through_the_state_machine(app, status):
    report = create_report(status=status)
    assert report.status == status
    assert [e.action for e in report.events] == ["submit", *STATUS_PATH[status]]
    assert report.tracking_no.startswith("QZBG-")


def test_every_status_has_a_path(app):
    assert set(STATUS_PATH) == {s.value for s in Status}


def test_a_built_report_can_belong_to_a_reporter_and_a_unit(app):
    login = login_reporter("o-builder")
    from app.extensions import db
    from app.reporters.models import Reporter

    reporter = db.session.get(Reporter, login.id)
    unit = create_unit(type="school", name="实验小学")
    report = create_report(reporter=reporter, unit=unit, victim={"age": 8})
    assert (report.reporter_id, report.unit_id, report.unit_type) == (reporter.id, unit.id, "school")
    assert report.victim_age_band == "6-11"
