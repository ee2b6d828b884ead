"""The report page puts the next step first: the actions that move the report before those that annotate it, a
supervision request at the top of the police's page with the answer form beside it, and a refused form's error
inside that form."""

from __future__ import annotations

import pytest

from tests.factories import create_report
from tests.review.detail_helpers import Cast, act, forms, make_cast, page, transfer

crew = pytest.fixture(make_cast)


def order(html: str) -> list[str]:
    return list(forms(html))


def test_a_prosecutor_sees_transfer_and_close_before_risk_questions_and_notes(crew: Cast):
    reviewing = create_report(status="reviewing")
    shown = order(page(crew.prosecutor, reviewing).get_data(as_text=True))
    assert shown == ["transfer", "close", "set_risk", "ask_reporter", "refer", "add_note"]
    fresh = create_report(status="new")
    assert order(page(crew.lead, fresh).get_data(as_text=True))[0] == "acknowledge"


def test_the_page_names_the_two_groups_in_order(crew: Cast):
    html = page(crew.prosecutor, create_report(status="reviewing")).get_data(as_text=True)
    assert html.index("下一步") < html.index('data-action="transfer"') < html.index("其他操作") \
        < html.index('data-action="set_risk"')
    closed = page(crew.prosecutor, create_report(status="closed")).get_data(as_text=True)
    assert order(closed) == ["reopen", "add_note"]


def test_the_actions_come_before_the_report_text_in_the_page(crew: Cast):
    html = page(crew.prosecutor, create_report(status="reviewing")).get_data(as_text=True)
    assert html.index('data-action="transfer"') < html.index('data-section="victim"')


def test_the_police_see_a_supervision_request_first_and_the_answer_form_first(crew: Cast):
    report = create_report(status="reviewing")
    transfer(report, crew.prosecutor.actor)
    assert act(crew.police, report, "police_acknowledge").status_code == 303
    assert act(crew.police, report, "record_feedback", outcome="not_filed", case_no="", decided_at="",
               note="证据不足").status_code == 303
    assert act(crew.prosecutor, report, "supervise", note="请说明为何不立案标记甲").status_code == 303
    html = page(crew.police, report).get_data(as_text=True)
    request = html.index('data-field="supervision_request"')
    assert request < html.index('data-field="status"') < html.index('data-section="victim"')
    assert "请说明为何不立案标记甲" in html[request:html.index('data-field="status"')]
    assert order(html)[0] == "police_explain"
    assert act(crew.police, report, "police_explain", note="经调查不构成犯罪").status_code == 303
    assert 'data-field="supervision_request"' not in page(crew.police, report).get_data(as_text=True)
    # The prosecutor's own page has no such banner: they asked.
    assert 'data-field="supervision_request"' not in page(crew.prosecutor, report).get_data(as_text=True)


def test_a_refused_form_shows_its_error_inside_the_form_not_far_above(crew: Cast):
    report = create_report(status="reviewing")
    html = act(crew.prosecutor, report, "close", reason="duplicate", merge_into="QZBG-1999-000001",
               note="").get_data(as_text=True)
    form = html.split('data-action="close"')[1].split("</form>")[0]
    assert 'role="alert"' in form
    assert 'data-error-for="merge_into"' in form
    assert 'autofocus' in form
    assert html.count('data-field="error"') == 1
