"""Bulk 签收 and 指派 from the inbox: each ticked report through the one action pipeline in a transaction of its
own, one audit entry each; a stale, no-longer-allowed or unreachable report is skipped and named, the others done;
only prosecutors and leads (指派: leads) may, with a CSRF token."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.reports.models import Report
from app.review import bulk
from app.review import service as review
from tests.auth.conftest import csrf_of
from tests.factories import create_report
from tests.review.detail_helpers import make_cast

crew = pytest.fixture(make_cast)
TICK = re.compile(r'name="report" value="([0-9a-f-]+:\d+)" form="bulk"')


def ticks(who) -> dict[str, str]:
    """report id -> the value its checkbox on the list carries (id:version)."""
    g.pop("csrf_token", None)
    return {value.split(":")[0]: value for value in TICK.findall(who.client.get("/review/").text)}


def send(who, action: str, values: list[str], **fields):
    token = csrf_of(who.client, "/review/")
    return who.client.post("/review/bulk", data={"csrf_token": token, "action": action, "report": values,
                                                 "next": "/review/?sort=deadline", **fields})


def audited(action: str, report: Report) -> int:
    return len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                           AuditEntry.target_id == str(report.id))).all())


def fresh(report: Report) -> Report:
    db.session.expire_all()
    return db.session.get(Report, report.id)


def test_bulk_acknowledge_does_each_report_and_names_the_stale_and_the_no_longer_allowed(crew):
    a, b, stale, moved_on = (create_report() for _ in range(4))
    shown = ticks(crew.prosecutor)
    # After the list was shown: someone acknowledges one, someone else changes another.
    review.acknowledge(moved_on, actor=crew.lead.actor, version=moved_on.version, now=dt.datetime.now(dt.UTC))
    review.set_risk(stale, "high", actor=crew.lead.actor, version=stale.version, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    answer = send(crew.prosecutor, "acknowledge", [shown[str(r.id)] for r in (a, b, stale, moved_on)])
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/review/?sort=deadline"
    assert [fresh(r).status for r in (a, b, stale)] == ["reviewing", "reviewing", "new"]
    assert fresh(a).assignee_id == crew.prosecutor.user.id
    assert [audited("report.acknowledge", r) for r in (a, b, stale, moved_on)] == [1, 1, 0, 1]
    page = crew.prosecutor.client.get(answer.headers["Location"]).text
    done = re.search(r'data-field="done">([^<]+)<', page).group(1)
    assert done.startswith("已签收：2 条")
    assert a.tracking_no in done
    assert b.tracking_no in done
    skipped = re.search(r'data-field="bulk_skipped">([^<]+)<', page).group(1)
    assert f"{stale.tracking_no}（已被他人修改）" in skipped
    assert f"{moved_on.tracking_no}（已被他人修改）" in skipped  # its version moved with its status
    assert skipped.startswith("跳过 2 条")


def test_a_report_in_a_status_that_cannot_be_acknowledged_is_skipped_with_the_reason(crew):
    reviewing = create_report(status="reviewing")
    answer = send(crew.prosecutor, "acknowledge", [f"{reviewing.id}:{reviewing.version}"])
    assert answer.status_code == 303
    page = crew.prosecutor.client.get("/review/").text
    assert f"{reviewing.tracking_no}（当前状态不能签收）" in page
    assert 'data-field="done"' not in page


def test_a_lead_assigns_several_reports_at_once_each_audited(crew):
    first, second = create_report(), create_report(status="reviewing")
    shown = ticks(crew.lead)
    answer = send(crew.lead, "assign", [shown[str(first.id)], shown[str(second.id)]],
                  assignee=crew.prosecutor.user.username)
    assert answer.status_code == 303
    assert {fresh(r).assignee_id for r in (first, second)} == {crew.prosecutor.user.id}
    assert [audited("report.assign", r) for r in (first, second)] == [1, 1]
    page = crew.lead.client.get("/review/").text
    assert re.search(r'data-field="done">已指派给王检察官承办：2 条', page)


def test_a_bulk_assign_to_nobody_or_to_someone_outside_the_office_changes_nothing(crew):
    report = create_report()
    for assignee in ("", crew.other_office.user.username, crew.police.user.username, "nobody.at.all"):
        answer = send(crew.lead, "assign", [f"{report.id}:{report.version}"], assignee=assignee)
        assert answer.status_code == 303
        assert fresh(report).assignee_id is None
        assert "请选择承办人" in crew.lead.client.get("/review/").text
    assert audited("report.assign", report) == 0


def test_reports_out_of_reach_and_values_that_mean_nothing_are_counted_as_not_found(crew):
    theirs = create_report(district_code="430299")  # the other office's
    assert theirs.office_id != crew.prosecutor.user.office_id
    answer = send(crew.prosecutor, "acknowledge", [f"{theirs.id}:{theirs.version}", "nonsense", "1:2"])
    assert answer.status_code == 303
    assert fresh(theirs).status == "new"
    page = crew.prosecutor.client.get("/review/").text
    assert "跳过 3 条：3 条无法找到" in page
    assert theirs.tracking_no not in page


def test_only_leads_assign_and_police_have_no_bulk_actions(crew):
    report = create_report()
    assert 'value="assign"' not in crew.prosecutor.client.get("/review/").text
    assert 'value="assign"' in crew.lead.client.get("/review/").text
    assert send(crew.prosecutor, "assign", [f"{report.id}:{report.version}"],
                assignee=crew.prosecutor.user.username).status_code == 403
    g.pop("csrf_token", None)
    token = csrf_of(crew.police.client, "/review/")
    answer = crew.police.client.post("/review/bulk", data={"csrf_token": token, "action": "acknowledge",
                                                           "report": [f"{report.id}:{report.version}"]})
    assert answer.status_code == 403
    assert fresh(report).status == "new"


def test_a_bulk_post_without_its_csrf_token_is_refused(crew):
    report = create_report()
    answer = crew.prosecutor.client.post("/review/bulk", data={"action": "acknowledge",
                                                               "report": [f"{report.id}:{report.version}"]})
    assert answer.status_code == 400
    assert fresh(report).status == "new"


def test_nothing_ticked_an_unknown_action_or_too_many_reports_are_refused_with_a_message(crew):
    report = create_report()
    for action, values, message in (
        ("acknowledge", [], "请先勾选要操作的线索"),
        ("close", [f"{report.id}:{report.version}"], "请选择批量操作"),
        ("acknowledge", [f"{report.id.hex[:-4]}{n:04x}:1" for n in range(bulk.MOST + 1)], "一次最多操作"),
    ):
        assert send(crew.prosecutor, action, values).status_code == 303
        assert message in crew.prosecutor.client.get("/review/").text
    assert fresh(report).status == "new"


def test_selection_reads_id_and_version_pairs_once_each():
    import uuid

    one, two = uuid.uuid4(), uuid.uuid4()
    chosen, bad = bulk.selection([f"{one}:3", f"{two}:1", f"{one}:4", "x:1", f"{two}:", f"{two}:1e3"])
    assert chosen == [(one, 3), (two, 1)]
    assert bad == 3
