"""A report's categories are rows of report_categories: one per code, filtered by the same SQL on both backends."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select

from app.extensions import db
from app.reports.models import Report, ReportCategory
from app.reports.queries import has_category
from tests.factories import report_body

REPORTS = "/api/v1/reports"


def _submit(client, reporter, categories):
    response = client.post(REPORTS, json=report_body(categories=categories), headers=reporter.headers)
    assert response.status_code == 201, response.json
    return uuid.UUID(response.json["id"])


def test_each_chosen_code_is_one_row_and_the_report_lists_them_in_domain_order(client, reporter):
    report_id = _submit(client, reporter, ["missing_or_trafficked", "genital_injury", "abandonment"])

    rows = db.session.execute(select(ReportCategory.code).order_by(ReportCategory.code)).scalars().all()
    assert rows == ["abandonment", "genital_injury", "missing_or_trafficked"]
    report = db.session.get(Report, report_id)
    assert report.categories == ["genital_injury", "abandonment", "missing_or_trafficked"]
    detail = client.get(f"{REPORTS}/{report_id}", headers=reporter.headers)
    assert detail.json["categories"] == ["genital_injury", "abandonment", "missing_or_trafficked"]


def test_reports_are_filtered_and_counted_by_category_in_sql(client, reporter):
    both = _submit(client, reporter, ["abuse_injury", "abandonment"])
    only_abuse = _submit(client, reporter, ["abuse_injury"])
    _submit(client, reporter, ["organised_begging"])

    with_abandonment = db.session.scalars(select(Report.id).where(has_category("abandonment"))).all()
    abuse = db.session.scalars(select(Report.id).where(has_category("abuse_injury"))).all()
    counted = select(ReportCategory.code, func.count()).group_by(ReportCategory.code)
    per_code = {row[0]: row[1] for row in db.session.execute(counted)}
    assert with_abandonment == [both]
    assert sorted(abuse) == sorted([both, only_abuse])
    assert per_code == {"abuse_injury": 2, "abandonment": 1, "organised_begging": 1}


def test_changing_a_reports_categories_replaces_its_rows(client, reporter):
    report_id = _submit(client, reporter, ["abuse_injury"])
    report = db.session.get(Report, report_id)

    report.categories = ["other_serious_harm", "abuse_injury"]
    db.session.commit()
    db.session.expire_all()

    assert db.session.get(Report, report_id).categories == ["abuse_injury", "other_serious_harm"]
    assert db.session.scalar(select(func.count()).select_from(ReportCategory)) == 2


def test_deleting_a_report_deletes_its_categories(client, reporter):
    report_id = _submit(client, reporter, ["abuse_injury", "abandonment"])
    db.session.execute(delete(Report).where(Report.id == report_id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ReportCategory)) == 0
