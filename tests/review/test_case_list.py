"""The inbox as a case list: sorting by column with keyset pages that visit every report once, the list's total
and pages, unit, unit type and district (by name) as selects, an empty list that says why, and the police's own
list (their tabs, their unit's receipt, the prosecutor's contact, none of the prosecutors' filters)."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid

import pytest
from flask import current_app, g

from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import OfficeDistrict
from app.review import listing
from app.review import service as review
from tests.factories import create_report, create_unit
from tests.review.detail_helpers import make_cast

ROW = re.compile(r'data-tracking-no="(QZBG-[0-9-]+)"')
NEXT = re.compile(r'href="([^"]+)" rel="next"')
crew = pytest.fixture(make_cast)


def walk(client, query: str) -> tuple[list[str], int]:
    """Every page of the list from ``query`` on, following 下一页: the tracking numbers in order, and the pages."""
    seen, path, pages = [], "/review/" + query, 0
    while path:
        answer = client.get(path)
        assert answer.status_code == 200
        seen += ROW.findall(answer.text)
        pages += 1
        found = NEXT.search(answer.text)
        path = html.unescape(found.group(1)) if found else None
        assert pages < 50
    return seen, pages


def expected(reports, sort: str, order: str) -> list[str]:
    """The order the list must follow, computed here: the sort's key, then submitted_at, then id, one direction;
    a report without a deadline last either way."""
    ranks = {status: rank for rank, status in enumerate(listing.STATUS_ORDER)}

    def key(report):
        if sort == "deadline":
            due = report.acknowledge_due_at if report.status == "new" else None
            first = due or (listing.FAR_FUTURE if order == "asc" else listing.FAR_PAST)
        elif sort == "status":
            first = ranks[report.status]
        elif sort == "unit":
            first = report.unit.name if report.unit else ""
        else:
            first = 0
        return (first, report.submitted_at, report.id.int)

    return [r.tracking_no for r in sorted(reports, key=key, reverse=order == "desc")]


@pytest.fixture
def many(app):
    """Fourteen open reports with many ties: four share one moment, units repeat, half have no deadline."""
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    units = [create_unit(name=name) for name in ("A医院", "B学校", "C诊所")]
    made = []
    for i in range(14):
        at = moment if i < 4 else moment - dt.timedelta(minutes=7 * i)
        made.append(create_report(status=("new", "reviewing", "transferred", "new")[i % 4], now=at,
                                  unit=units[i % 3] if i % 5 else None, urgent=i % 6 == 0, commit=False))
    create_report(status="closed", now=moment)  # not on the 全部 tab
    db.session.commit()
    return made


@pytest.mark.parametrize("sort", ["submitted", "deadline", "status", "unit"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_through_a_sorted_list_visits_every_report_once_in_the_sorted_order(crew, many, monkeypatch,
                                                                                     sort, order):
    monkeypatch.setattr(listing, "PAGE", 3)
    seen, pages = walk(crew.prosecutor.client, f"?sort={sort}&dir={order}")
    assert seen == expected(many, sort, order)
    assert len(seen) == len(set(seen)) == 14
    assert pages == 5


def test_each_sort_has_its_own_direction_unless_dir_says_otherwise(crew, many):
    client = crew.prosecutor.client
    assert ROW.findall(client.get("/review/?sort=deadline").text) == expected(many, "deadline", "asc")
    assert ROW.findall(client.get("/review/?sort=submitted").text) == expected(many, "submitted", "desc")
    # The active column's header links to the other direction, and says which one it is.
    page = client.get("/review/?sort=deadline").text
    assert 'aria-sort="ascending"' in page
    assert re.search(r'href="/review/\?sort=deadline&amp;dir=desc" data-sort="deadline"', page)


def test_a_cursor_of_another_order_starts_again_at_the_first_page(crew, many, monkeypatch):
    monkeypatch.setattr(listing, "PAGE", 3)
    client = crew.prosecutor.client
    by_deadline = html.unescape(NEXT.search(client.get("/review/?sort=deadline").text).group(1))
    after = re.search(r"after=([A-Za-z0-9_-]+)", by_deadline).group(1)
    assert ROW.findall(client.get(f"/review/?sort=unit&after={after}").text) == expected(many, "unit", "asc")[:3]
    assert ROW.findall(client.get(f"/review/?after={after}").text) == ROW.findall(client.get("/review/").text)


def test_the_list_says_its_total_and_which_page_of_how_many(crew, many, monkeypatch):
    monkeypatch.setattr(listing, "PAGE", 3)
    client = crew.prosecutor.client
    first = client.get("/review/?sort=status").text
    assert re.search(r'data-field="list_total">共 <strong>14</strong> 条 · 第 1 / 5 页', first)
    second = client.get(html.unescape(NEXT.search(first).group(1))).text
    assert "第 2 / 5 页" in second
    assert "第一页" in second
    assert re.search(r'共 <strong>1</strong> 条 · 第 1 / 1 页', client.get("/review/?status=closed").text)


def test_the_all_tab_lists_open_reports_and_counts_them(crew, many):
    client = crew.prosecutor.client
    page = client.get("/review/").text
    assert len(ROW.findall(page)) == 14
    assert re.search(r'data-status-count="open">14<', page)
    assert re.search(r'data-status-count="closed">1<', page)
    create_report(training=True)
    create_report(training=True, status="closed")
    page = client.get("/review/").text
    assert re.search(r'data-status-count="training">1<', page)  # the open practice reports, as that list shows
    assert len(ROW.findall(client.get("/review/?training=1").text)) == 1


def test_unit_unit_type_and_district_are_selects_and_districts_show_by_name(crew):
    db.session.add(OfficeDistrict(code="330105", name="拱墅区", office_id=1))
    school = create_unit(code="school-9", name="D小学", type="school", district_code="330105")
    report = create_report(unit=school)
    page = crew.prosecutor.client.get("/review/").text
    assert '<select id="f-unit" name="unit">' in page
    assert '<option value="school-9">D小学</option>' in page
    assert '<select id="f-unit-type" name="unit_type">' in page
    assert '<option value="school">中小学校</option>' in page
    assert '<option value="330105">拱墅区</option>' in page
    row = page[page.index(f'data-report-id="{report.id}"'):]
    assert re.search(r'data-field="district">拱墅区<', row[:row.index("</tr>")])
    assert ROW.findall(crew.prosecutor.client.get("/review/?district=330105").text) == [report.tracking_no]


def test_an_empty_list_says_why_and_how_to_widen_it(crew):
    client = crew.prosecutor.client
    assert "目前没有在办的线索" in client.get("/review/").text
    filtered = client.get("/review/?urgent=1").text
    assert 'data-field="list_empty"' in filtered
    assert "清除筛选条件" in filtered
    assert "暂无线索" not in filtered


def test_short_cells_and_the_urgent_badge_are_marked_not_to_wrap(crew):
    create_report(urgent=True)
    page = crew.prosecutor.client.get("/review/").text
    assert '<td class="nowrap"><span class="urgent" data-field="urgent">紧急</span></td>' in page
    css = (current_app.static_folder + "/staff.css")
    with open(css, encoding="utf-8") as sheet:
        text = sheet.read()
    assert ".nowrap{white-space:nowrap}" in text
    assert re.search(r"\.urgent\{[^}]*white-space:nowrap", text)


# --- The police's list -------------------------------------------------------------------------------------


def _police_cases(crew) -> dict[str, object]:
    """One report of the unit in each place of its life with the police, through the real services."""
    prosecutor, police = crew.prosecutor.actor, crew.police.actor
    outbound, deadlines, now = Outbound.of(current_app.config["QZBG"]), review.Deadlines(), dt.datetime.now(dt.UTC)

    def moved(contact: str | None = "王检察官 0731-83000000"):
        report = create_report(status="reviewing")
        review.transfer(report, police_unit=crew.unit.code, document_no="浏检〔2026〕1号", contact=contact,
                        share_reporter=False, note=None, actor=prosecutor, version=report.version, now=now,
                        deadlines=deadlines, outbound=outbound)
        return report

    def step(report, action, who, **kwargs):
        getattr(review, action)(report, actor=who, version=report.version, now=now, **kwargs)

    def feedback(report, outcome="not_filed", who=None):
        step(report, "record_feedback", who or police, outcome=outcome, case_no=None, decided_at=None, note=None,
             outbound=outbound)

    cases = {"receipt": moved()}
    cases["feedback"] = moved()
    step(cases["feedback"], "police_acknowledge", police)
    cases["responded"] = moved(contact=None)
    step(cases["responded"], "police_acknowledge", police)
    feedback(cases["responded"], "filed")
    for name in ("supervision", "reasons_stand", "must_file"):
        cases[name] = moved()
        step(cases[name], "police_acknowledge", police)
        feedback(cases[name])
        step(cases[name], "supervise", prosecutor, note="请说明不立案理由", deadlines=deadlines)
    step(cases["reasons_stand"], "police_explain", police, note="证据不足", outbound=outbound)
    step(cases["reasons_stand"], "conclude_supervision", prosecutor, result="accept_reasons", note=None)
    step(cases["must_file"], "police_explain", police, note="证据不足", outbound=outbound)
    step(cases["must_file"], "conclude_supervision", prosecutor, result="notify_filing", note=None)
    elsewhere = create_report(status="reviewing")  # another unit's transfer: never on this list
    review.transfer(elsewhere, police_unit=crew.other_unit.code, document_no="X", contact=None, share_reporter=False,
                    note=None, actor=prosecutor, version=elsewhere.version, now=now, deadlines=deadlines,
                    outbound=outbound)
    db.session.commit()
    return {name: report.tracking_no for name, report in cases.items()}


def test_the_police_tabs_split_their_units_list_by_what_is_awaited_of_them(crew):
    cases = _police_cases(crew)
    client = crew.police.client
    tabs = {
        "receipt": [cases["receipt"]],
        "feedback": [cases["feedback"], cases["must_file"]],
        "supervision": [cases["supervision"]],
        "responded": [cases["responded"], cases["reasons_stand"]],
    }
    page = client.get("/review/").text
    for tab, numbers in tabs.items():
        assert sorted(ROW.findall(client.get(f"/review/?tab={tab}").text)) == sorted(numbers), tab
        assert re.search(rf'data-police-tab-count="{tab}">{len(numbers)}<', page), tab
    assert sorted(ROW.findall(page)) == sorted(cases.values())
    # The contract's hooks stay: the counts of the internal statuses the list holds.
    for status, count in (("transferred", 2), ("police_responded", 1), ("supervising", 3)):
        assert re.search(rf'data-status-count="{status}">{count}<', page), status


def test_a_police_row_shows_their_receipt_the_prosecutors_contact_and_their_stage(crew):
    cases = _police_cases(crew)
    page = crew.police.client.get("/review/").text

    def row(name):
        start = page.index(f'data-tracking-no="{cases[name]}"')
        return page[start:page.index("</tr>", start)]

    assert re.search(r'data-field="receipt"><span class="pending">未签收</span>', row("receipt"))
    assert re.search(r'data-field="receipt">已签收 \d{4}-\d{2}-\d{2} \d{2}:\d{2}<', row("feedback"))
    assert 'data-field="contact">王检察官 0731-83000000<' in row("receipt")
    assert 'data-field="contact">—<' in row("responded")
    assert 'data-field="stage">待签收<' in row("receipt")
    assert 'data-field="stage">待反馈<' in row("must_file")
    assert 'data-field="stage">已反馈<' in row("reasons_stand")


def test_police_see_none_of_the_prosecutors_filters_tabs_bulk_form_or_export(crew):
    _police_cases(crew)
    page = crew.police.client.get("/review/").text
    for absent in ('id="f-category"', 'id="f-assignee"', 'id="f-unit"', 'id="f-unit-type"', 'id="f-district"',
                   'data-status-count="new"', 'data-status-count="reviewing"', 'data-status-count="closed"',
                   'data-status-count="training"', 'id="bulk"', 'data-field="export"', 'name="report"'):
        assert absent not in page, absent
    assert 'id="f-q"' in page
    assert crew.police.client.get("/review/inbox.xlsx").status_code == 403


def test_a_prosecutor_may_use_the_police_tabs_to_follow_the_police(crew):
    cases = _police_cases(crew)
    listed = ROW.findall(crew.prosecutor.client.get("/review/?tab=receipt").text)
    assert cases["receipt"] in listed
    assert cases["feedback"] not in listed


def test_hostile_sort_dir_and_tab_values_are_ignored(crew, many):
    client = crew.prosecutor.client
    for query in ("?sort=nope", "?dir=sideways", "?tab=%27", "?sort=unit&dir=asc&after=" + "A" * 999,
                  "?after=" + uuid.uuid4().hex):
        g.pop("csrf_token", None)
        answer = client.get("/review/" + query)
        assert answer.status_code == 200, query
        assert len(ROW.findall(answer.text)) == 14, query
