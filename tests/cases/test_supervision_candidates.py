"""立案监督 candidates (issue 18 item 4): transferred reports the police declined to file and that nobody
supervised yet, and those past the feedback deadline with no case filed; never a report with a case filed, one
already supervised, a practice report, or another office's."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.notify.service import Outbound
from app.reports.records import Transfer
from app.review import service as review
from tests.factories import create_report
from tests.review.detail_helpers import Cast, make_cast, transfer

crew = pytest.fixture(make_cast)


def transferred(crew: Cast, **kwargs):
    report = create_report(status="reviewing", **kwargs)
    transfer(report, crew.prosecutor.actor)
    return report


def feedback(crew: Cast, report, outcome: str) -> None:
    review.record_feedback(report, outcome=outcome, case_no=None, decided_at=None, note=None,
                           actor=crew.prosecutor.actor, version=report.version, now=dt.datetime.now(dt.UTC),
                           outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()


def listed(client) -> dict[str, set[str]]:
    page = client.get("/review/supervision").get_data(as_text=True)
    found: dict[str, set[str]] = {"not_filed": set(), "no_case": set()}
    for number, kind in re.findall(r'data-tracking-no="([^"]+)" data-supervision="(\w+)"', page):
        found[kind].add(number)
    return found


def past_deadline(report) -> None:
    db.session.execute(update(Transfer).where(Transfer.report_id == report.id)
                       .values(feedback_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)))
    db.session.commit()


def test_declined_and_overdue_transfers_are_candidates_and_nothing_else_is(app, crew: Cast):
    declined, silent, accepted, filed, in_time = (transferred(crew) for _ in range(5))
    practice = transferred(crew, training=True)
    feedback(crew, declined, "not_filed")
    feedback(crew, accepted, "accepted")
    feedback(crew, filed, "filed")
    for report in (silent, accepted, filed, practice):
        past_deadline(report)
    supervised = transferred(crew)
    feedback(crew, supervised, "not_filed")
    review.supervise(supervised, "请说明不立案理由", actor=crew.prosecutor.actor, version=supervised.version,
                     now=dt.datetime.now(dt.UTC), deadlines=review.Deadlines())
    db.session.commit()

    assert listed(crew.prosecutor.client) == {"not_filed": {declined.tracking_no},
                                              "no_case": {silent.tracking_no, accepted.tracking_no}}
    assert in_time.tracking_no not in str(listed(crew.lead.client))
    assert listed(crew.other_office.client) == {"not_filed": set(), "no_case": set()}
    assert crew.police.client.get("/review/supervision").status_code == 403
