"""The detail page's action forms: each present only when the user may take it now, each working through its
form, a stale version answered 409 with the current state, a refused input 422 with the page, transfer behind
step-up."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.reports.models import Report
from app.reports.records import Question, Transfer
from tests.factories import create_report
from tests.review.detail_helpers import Cast, act, age_step_up, forms, make_cast, page, step_up, transfer

crew = pytest.fixture(make_cast)


def status_of(report: Report) -> str:
    db.session.expire_all()
    return db.session.get(Report, report.id).status


def test_each_role_sees_only_the_forms_it_may_use_now(crew: Cast):
    report = create_report(status="new")
    assert set(forms(page(crew.prosecutor, report).get_data(as_text=True))) == {
        "acknowledge", "set_risk", "add_note", "ask_reporter"}
    assert "assign" in forms(page(crew.lead, report).get_data(as_text=True))
    reviewing = create_report(status="reviewing")
    assert set(forms(page(crew.prosecutor, reviewing).get_data(as_text=True))) == {
        "set_risk", "add_note", "ask_reporter", "transfer", "refer", "close"}
    transfer(reviewing, crew.prosecutor.actor)
    assert set(forms(page(crew.police, reviewing).get_data(as_text=True))) == {
        "police_acknowledge", "police_return", "record_feedback"}
    assert "transfer" not in forms(page(crew.prosecutor, reviewing).get_data(as_text=True))
    closed = create_report(status="closed")
    assert set(forms(page(crew.prosecutor, closed).get_data(as_text=True))) == {"add_note", "reopen"}


def test_every_form_carries_the_csrf_token_version_and_next(crew: Cast):
    report = create_report(status="reviewing")
    html = page(crew.prosecutor, report).get_data(as_text=True)
    for action in forms(html):
        form = html.split(f'data-action="{action}"')[1].split("</form>")[0]
        assert 'name="csrf_token"' in form
        assert f'name="version" value="{report.version}"' in form
        assert f'name="next" value="/review/reports/{report.id}"' in form
        assert f'action="/review/reports/{report.id}/actions/{action}"' in html


def test_a_report_goes_through_every_action_by_its_forms(crew: Cast):
    report = create_report(status="new", urgent=True)
    p, lead, police = crew.prosecutor, crew.lead, crew.police

    def ok(who, action, **fields):
        answer = act(who, report, action, **fields)
        assert answer.status_code == 303, (action, answer.status_code, answer.get_data(as_text=True)[:2000])
        assert answer.headers["Location"].startswith(f"/review/reports/{report.id}")

    ok(p, "acknowledge")
    assert status_of(report) == "reviewing"
    ok(lead, "assign", assignee=p.user.username)
    ok(p, "set_risk", risk="high")
    ok(p, "add_note", note="内部意见：尽快移送")
    ok(p, "ask_reporter", question="请补充孩子的学校")
    assert db.session.scalars(select(Question).where(Question.report_id == report.id)).one()
    ok(p, "refer", agency="civil_affairs", note="请民政部门关注")
    next_url = f"/review/reports/{report.id}"
    assert step_up(p, next_url).status_code == 303
    ok(p, "transfer", police_unit="pcs-north", document_no="X检移〔2026〕9号", contact="刘警官", share_reporter="0",
       note="事实见移送函")
    assert status_of(report) == "transferred"
    ok(police, "police_acknowledge")
    ok(police, "record_feedback", outcome="not_filed", case_no="", decided_at="", note="证据不足")
    assert status_of(report) == "police_responded"
    ok(p, "supervise", note="请说明不立案理由")
    assert status_of(report) == "supervising"
    ok(police, "police_explain", note="经调查不构成犯罪")
    ok(p, "conclude_supervision", result="accept_reasons", note="理由成立")
    ok(p, "record_feedback", outcome="not_filed", case_no="", decided_at="2026-11-30", note="维持")
    assert status_of(report) == "police_responded"
    ok(p, "close", reason="after_transfer", merge_into="", note="")
    assert status_of(report) == "closed"
    ok(p, "reopen", note="报告人补充了新情况")
    assert status_of(report) == "reviewing"
    record = db.session.scalars(select(Transfer).where(Transfer.report_id == report.id)).one()
    assert (record.feedback_outcome, record.conclusion) == ("not_filed", "accept_reasons")


def test_the_police_return_a_report_through_their_form(crew: Cast):
    report = create_report(status="reviewing")
    transfer(report, crew.prosecutor.actor)
    answer = act(crew.police, report, "police_return", reason="不属于本所辖区")
    assert answer.status_code == 303
    assert status_of(report) == "reviewing"
    assert page(crew.police, report).status_code == 404  # no open transfer to their unit any more


def test_a_stale_version_answers_409_with_the_current_state_and_nothing_changes(crew: Cast):
    report = create_report(status="new")
    stale = report.version
    assert act(crew.lead, report, "acknowledge").status_code == 303
    answer = act(crew.prosecutor, report, "set_risk", version=stale, risk="low")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 409
    assert "该线索已被他人修改" in html
    assert 'data-field="status" data-status="reviewing"' in html
    db.session.expire_all()
    assert db.session.get(Report, report.id).risk is None


def test_a_refused_input_shows_the_page_again_with_the_error(crew: Cast):
    report = create_report(status="reviewing")
    answer = act(crew.prosecutor, report, "add_note", note="   ")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'data-error-for="note"' in html
    assert "此项必填" in html
    answer = act(crew.prosecutor, report, "close", reason="duplicate", merge_into="QZBG-1999-000001", note="")
    assert answer.status_code == 422
    assert status_of(report) == "reviewing"


def test_transfer_asks_for_step_up_first_and_is_carried_out_after_the_code(crew: Cast):
    report = create_report(status="reviewing")
    fields = {"police_unit": "pcs-north", "document_no": "X检移〔2026〕10号", "contact": "", "share_reporter": "1",
              "note": ""}
    age_step_up(crew.prosecutor)
    answer = act(crew.prosecutor, report, "transfer", **fields)
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/account/step-up?next=%2Freview%2Freports%2F{report.id}"
    assert status_of(report) == "reviewing"
    assert step_up(crew.prosecutor, f"/review/reports/{report.id}").headers["Location"] == \
        f"/review/reports/{report.id}"
    assert status_of(report) == "transferred"
    assert db.session.scalars(select(Transfer).where(Transfer.report_id == report.id)).one().share_reporter
    stale = act(crew.prosecutor, report, "transfer", version=report.version, **fields)  # the old page again
    assert stale.status_code == 409  # carried out once only


def test_an_action_of_another_role_another_office_or_an_unknown_action_is_refused(crew: Cast):
    report = create_report(status="reviewing")
    transfer(report, crew.prosecutor.actor)
    assert act(crew.police, report, "close", version=report.version, reason="other").status_code == 403
    assert act(crew.prosecutor, report, "police_acknowledge", version=report.version).status_code == 403
    assert act(crew.other_police, report, "police_acknowledge", version=report.version).status_code == 404
    assert act(crew.other_office, report, "add_note", version=report.version, note="x").status_code == 404
    assert act(crew.prosecutor, report, "explode", version=report.version).status_code == 404
    assert act(crew.prosecutor, report, "assign", version=report.version, assignee="x").status_code == 403
    assert status_of(report) == "transferred"
