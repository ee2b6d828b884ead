"""A prosecutor enters a report received by phone through the web form's schema: channel ``phone``, the office's
own, audited; refused input shows the page again; other roles may not."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.reports.models import Report
from tests.factories import CST
from tests.review.detail_helpers import Cast, make_cast

crew = pytest.fixture(make_cast)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY = re.compile(r'name="entry_key" value="([^"]+)"')


def entry_form(who, **overrides):
    g.pop("csrf_token", None)
    html = who.client.get("/review/reports/new").get_data(as_text=True)
    discovered = (dt.datetime.now(CST) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    return {
        "csrf_token": CSRF.search(html).group(1), "entry_key": KEY.search(html).group(1),
        "categories": ["abandonment"], "urgent": "1", "reporter.name": "电话报告人", "reporter.phone": "13922223333",
        "victim.gender": "male", "victim.age": "8", "incident.discovered_at": discovered,
        "incident.description": "邻居来电称孩子连续多日独自在家无人照料。", "police.notified": "0", **overrides,
    }


def test_a_phone_report_is_stored_with_the_phone_channel_in_the_office_and_audited(crew: Cast):
    form = entry_form(crew.prosecutor)
    answer = crew.prosecutor.client.post("/review/reports/new", data=form)
    assert answer.status_code == 303, answer.get_data(as_text=True)[:1000]
    report = db.session.scalars(select(Report).where(Report.channel == "phone")).one()
    assert answer.headers["Location"] == f"/review/reports/{report.id}"
    assert (report.status, report.urgent, report.office_id) == ("new", True, crew.prosecutor.user.office_id)
    assert report.section("reporter")["name"] == "电话报告人"
    assert report.events[0].actor == f"staff:{crew.prosecutor.user.id}"
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.enter_phone")).one()
    again = crew.prosecutor.client.post("/review/reports/new", data=form)  # a double submit stores once
    assert again.status_code == 303
    assert len(list(db.session.scalars(select(Report).where(Report.channel == "phone")))) == 1


def test_a_report_of_another_office_is_entered_into_that_prosecutors_office(crew: Cast):
    answer = crew.other_office.client.post("/review/reports/new", data=entry_form(crew.other_office))
    assert answer.status_code == 303
    report = db.session.scalars(select(Report).where(Report.channel == "phone")).one()
    assert report.office_id == crew.other_office.user.office_id


def test_the_same_schema_refuses_what_the_web_form_refuses(crew: Cast):
    answer = crew.prosecutor.client.post("/review/reports/new", data=entry_form(
        crew.prosecutor, **{"reporter.phone": "123", "incident.description": ""}))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'data-error-for="reporter.phone"' in html
    assert 'data-error-for="incident.description"' in html
    assert 'value="电话报告人"' in html
    assert db.session.scalars(select(Report)).first() is None


def test_police_may_not_enter_reports(crew: Cast):
    assert crew.police.client.get("/review/reports/new").status_code == 403
