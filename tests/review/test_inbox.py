"""The inbox ``/review/``: filters, exact search through the blind indexes, urgent and overdue first, counts per
status, keyset pages, office and police scoping, and hostile query values that never break the page."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from flask import current_app

from app.core.actor import Actor
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.review import listing
from app.review import service as review
from tests.auth.conftest import login
from tests.factories import create_office, create_report, create_staff, create_unit, report_body, valid_id_number

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(autouse=True)
def _now_is_now() -> None:
    """NOW is the test's own start: deadlines and timers are relative to the real clock, and a long run would
    otherwise age a module-level moment by minutes."""
    global NOW  # noqa: PLW0603 - one moment per test, read by the helpers
    NOW = dt.datetime.now(dt.UTC)
ROW = re.compile(r'data-tracking-no="(QZBG-[0-9-]+)"')


@pytest.fixture
def staff(app):
    def build(**kwargs):
        user = create_staff(**kwargs)
        db.session.commit()
        return user

    return build


@pytest.fixture
def logged_in(app, staff):
    """A new client logged in as a new account of ``role`` (as in tests/auth/conftest.py)."""

    def make(role="prosecutor", **kwargs):
        user = staff(role=role, **kwargs)
        client = app.test_client()
        assert login(client, user).status_code == 303
        return client, user

    return make


def listed(client, query: str = "") -> list[str]:
    page = client.get("/review/" + query)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return ROW.findall(page.get_data(as_text=True))


def count(client, status: str, query: str = "") -> int:
    text = client.get("/review/" + query).get_data(as_text=True)
    match = re.search(rf'data-status-count="{status}">(\d+)<', text)
    assert match, status
    return int(match.group(1))


def submitted(**sections):
    """A web report with these sections (``create_report`` takes ``reporter`` for the mini-program account)."""
    from app.reports import service
    from app.reports.schemas import ReportBody

    body = report_body(**sections)
    data = ReportBody().load({k: v for k, v in body.items() if k != "client_id"})
    report = service.submit(data, actor=Actor.public(), client_key=f"test:{uuid.uuid4()}", now=NOW, vault=get_vault(),
                            ack_deadlines=service.AckDeadlines.from_settings(current_app.config["QZBG"])).report
    db.session.commit()
    return report


def at(hours: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours)


def test_rows_show_number_time_short_categories_urgent_unit_masked_victim_status_assignee_and_timer(logged_in):
    client, user = logged_in("prosecutor")
    unit = create_unit(name="市第一医院")
    report = create_report(unit=unit, urgent=True, now=at(0.5), categories=["abuse_injury", "abandonment"],
                           victim={"name": "小花"})
    text = client.get("/review/").get_data(as_text=True)
    row = text[text.index(f'data-report-id="{report.id}"'):]
    row = row[:row.index("</tr>")]
    assert f'data-tracking-no="{report.tracking_no}"' in row
    assert f'href="/review/reports/{report.id}"' in row
    for shown in ("多处损伤/虐待", "遗弃/无人照料", "紧急", "市第一医院", "小*", "待签收", "未分配"):
        assert shown in row, shown
    assert re.search(r'data-field="deadline"[^>]*>剩余 (29|30) 分钟<', row)
    assert "小花" not in text


def test_the_deadline_timer_counts_down_in_hours_and_up_in_days():
    assert listing.timer_text(NOW + dt.timedelta(hours=3, minutes=20), NOW) == "剩余 3 小时"
    assert listing.timer_text(NOW - dt.timedelta(days=2, hours=5), NOW) == "已超期 2 天"
    assert listing.timer_text(NOW - dt.timedelta(minutes=5), NOW) == "已超期 5 分钟"
    assert listing.timer_text(None, NOW) == "—"
    assert listing.mask_name("欧阳娜娜") == "欧*"
    assert listing.mask_name(None) == "—"


def test_urgent_and_overdue_come_first_then_the_newest(logged_in):
    client, _ = logged_in("prosecutor")
    plain_new = create_report(now=at(1))
    overdue_old = create_report(now=at(30))  # past its 24 h acknowledgement
    urgent_old = create_report(now=at(50), status="reviewing", urgent=True)
    plain_older = create_report(now=at(2), status="reviewing")
    closed_urgent = create_report(now=at(0.2), status="closed", urgent=True)
    # Open and urgent or overdue first (newest first among them), then the rest; the 全部 tab lists open reports.
    assert listed(client) == [overdue_old.tracking_no, urgent_old.tracking_no, plain_new.tracking_no,
                              plain_older.tracking_no]
    # The closed tab has the closed ones, and a search finds them from the 全部 tab.
    assert listed(client, "?status=closed") == [closed_urgent.tracking_no]
    assert listed(client, f"?q={closed_urgent.tracking_no}") == [closed_urgent.tracking_no]


def test_every_filter_narrows_the_list(logged_in, staff):
    client, me = logged_in("prosecutor", username="wang.fang")
    other = staff(role="prosecutor", username="li.na")
    school = create_unit(code="school-1", type="school", district_code="330105")
    hospital = create_unit(code="hosp-1", type="hospital", district_code="330102")
    a = create_report(unit=school, now=at(0.5), categories=["abandonment"], urgent=True)
    b = create_report(unit=hospital, now=at(5), status="reviewing")
    c = create_report(now=at(24 * 3), status="reviewing")
    d = create_report(now=at(30))  # overdue: not acknowledged for 30 h
    b.assignee_id, c.assignee_id = me.id, other.id
    db.session.commit()
    everything = {a.tracking_no, b.tracking_no, c.tracking_no, d.tracking_no}
    assert set(listed(client)) == everything
    assert listed(client, "?status=reviewing") == [b.tracking_no, c.tracking_no]
    assert listed(client, "?category=abandonment") == [a.tracking_no]
    assert listed(client, "?urgent=1") == [a.tracking_no]
    assert listed(client, "?unit=hosp-1") == [b.tracking_no]
    assert listed(client, "?unit_type=school") == [a.tracking_no]
    assert listed(client, "?district=330105") == [a.tracking_no]
    assert listed(client, "?overdue=1") == [d.tracking_no]
    assert listed(client, "?assignee=me") == [b.tracking_no]
    assert listed(client, "?assignee=li.na") == [c.tracking_no]
    assert set(listed(client, "?assignee=none")) == {a.tracking_no, d.tracking_no}
    cst = dt.timezone(dt.timedelta(hours=8))
    day_c = c.submitted_at.astimezone(cst).date()
    assert c.tracking_no in listed(client, f"?from={day_c}&to={day_c}")
    assert c.tracking_no not in listed(client, f"?from={day_c + dt.timedelta(days=1)}")
    assert listed(client, f"?to={day_c - dt.timedelta(days=1)}") == []
    assert listed(client, "?status=reviewing&unit_type=hospital&assignee=me") == [b.tracking_no]


def test_search_finds_by_tracking_number_id_number_and_phone_exactly(logged_in):
    client, _ = logged_in("prosecutor")
    id_number = valid_id_number(dt.date(2014, 3, 5))
    a = submitted(victim={"id_number": id_number}, reporter={"phone": "13912345678"})
    b = submitted(reporter={"phone": "0571-88888888"})
    assert listed(client, f"?q={a.tracking_no}") == [a.tracking_no]
    assert listed(client, f"?q={a.tracking_no.lower()}") == [a.tracking_no]
    assert listed(client, f"?q={id_number}") == [a.tracking_no]
    assert listed(client, f"?q={id_number[:-1]}") == []
    assert listed(client, "?q=13912345678") == [a.tracking_no]
    assert listed(client, "?q=0571-88888888") == [b.tracking_no]
    assert listed(client, "?q=1391234567") == []  # no partial match
    assert listed(client, "?q=小花") == []  # nothing decrypted to search


def test_a_tracking_number_is_found_by_its_last_digits_and_an_empty_search_says_what_it_searches(logged_in):
    client, _ = logged_in("prosecutor")
    a, b = submitted(), submitted()
    number_a = a.tracking_no.rsplit("-", 1)[1]  # e.g. 000001
    year = a.tracking_no.split("-")[1]
    assert listed(client, f"?q={number_a}") == [a.tracking_no]
    assert listed(client, f"?q={int(number_a)}") == [a.tracking_no]  # leading zeros may be left out
    assert listed(client, f"?q={year}-{number_a}") == [a.tracking_no]
    assert listed(client, f"?q={int(year) - 1}-{number_a}") == []
    assert b.tracking_no not in listed(client, f"?q={number_a}")
    empty = client.get("/review/?q=999999").text
    assert 'data-field="search_empty"' in empty
    assert "末尾数字" in empty
    assert 'data-field="search_empty"' not in client.get("/review/").text


def test_counts_per_status_and_overdue_are_in_the_tabs(logged_in):
    client, _ = logged_in("prosecutor")
    create_report(now=at(1))
    create_report(now=at(30))
    create_report(status="reviewing")
    create_report(status="closed")
    assert [count(client, s) for s in ("new", "reviewing", "transferred", "closed", "overdue")] == [2, 1, 0, 1, 1]
    assert count(client, "new", "?status=closed") == 2  # the tabs count under the other filters, not the status


def test_pages_follow_each_other_without_gap_or_repeat(logged_in, monkeypatch):
    client, _ = logged_in("prosecutor")
    monkeypatch.setattr(listing, "PAGE", 3)
    made = [create_report(now=at(i + 0.1), urgent=i % 4 == 0, commit=False) for i in range(8)]
    db.session.commit()
    seen, query, pages = [], "", 0
    for _ in range(5):
        text = client.get("/review/" + query).get_data(as_text=True)
        seen += ROW.findall(text)
        pages += 1
        nxt = re.search(r'href="/review/\?after=([A-Za-z0-9_-]+)"', text)
        if not nxt:
            break
        query = f"?after={nxt.group(1)}"
    urgent = [r.tracking_no for r in made if r.urgent]
    plain = [r.tracking_no for r in made if not r.urgent]
    assert seen == urgent + plain
    assert pages == 3


def test_another_offices_reports_never_appear_or_count(logged_in):
    client, _ = logged_in("prosecutor")
    north = create_office()
    db.session.commit()
    theirs = create_report(district_code="430299", urgent=True)
    assert theirs.office_id == north.id
    mine = create_report()
    assert listed(client) == [mine.tracking_no]
    assert listed(client, f"?q={theirs.tracking_no}") == []
    assert count(client, "new") == 1


def test_police_see_only_reports_with_an_open_transfer_to_their_unit(app):
    unit = PoliceUnit(code="pcs-1", name="城北派出所", office_id=1)
    db.session.add(unit)
    db.session.flush()
    prosecutor = Actor.staff(create_staff(role="prosecutor"))
    police = create_staff(role="police", police_unit=unit)
    db.session.commit()
    deadlines = review.Deadlines()

    def transferred():
        report = create_report(status="reviewing")
        review.transfer(report, police_unit="pcs-1", document_no="X检〔2026〕1号", contact=None,
                        share_reporter=False, note=None, actor=prosecutor, version=report.version, now=NOW,
                        deadlines=deadlines, outbound=Outbound.of(current_app.config["QZBG"]))
        db.session.commit()
        return report

    kept, returned, closed = transferred(), transferred(), transferred()
    create_report(status="reviewing")
    review.police_return(returned, "非本辖区", actor=Actor.staff(police), version=returned.version, now=NOW,
                         outbound=Outbound.of(current_app.config["QZBG"]))
    review.record_feedback(closed, outcome="filed", case_no="A1", decided_at=None, note=None, actor=prosecutor,
                           version=closed.version, now=NOW, outbound=Outbound.of(current_app.config["QZBG"]))
    review.close(closed, "after_transfer", merge_into=None, note=None, actor=prosecutor, version=closed.version,
                 now=NOW)
    db.session.commit()
    client = app.test_client()
    assert login(client, police).status_code == 303
    assert listed(client) == [kept.tracking_no]
    assert count(client, "transferred") == 1
    assert 'data-status-count="reviewing"' not in client.get("/review/").text  # no prosecutors' tabs


@pytest.mark.parametrize("query", [
    "?status=nope", "?status[]=new", "?category=%00", "?urgent=yes", "?unit=%27%20OR%201=1--",
    "?unit_type=" + "x" * 500,
    "?district=abc", "?from=2026-13-45", "?to=yesterday", "?from=99999-01-01", "?overdue=2", "?assignee=%E2%80%AE",
    "?q=" + "9" * 5000, "?q=%F0%9F%98%80", "?after=not-a-cursor", "?after=MXx4fHk", "?after=" + "A" * 199,
    "?q=%00", "?from=0000-00-00&to=0001-01-01",
])
def test_hostile_query_values_never_break_the_page(logged_in, query):
    client, _ = logged_in("prosecutor")
    report = create_report()
    page = client.get("/review/" + query)
    assert page.status_code in (200, 400)  # a NUL is refused for every page before the view
    if page.status_code == 400:
        assert "%00" in query
        return
    text = page.get_data(as_text=True)
    assert "QZBG-" in text or 'data-field="list_empty"' in text or 'data-field="search_empty"' in text
    del report


def test_a_bad_value_is_ignored_and_the_others_still_apply(logged_in):
    client, _ = logged_in("prosecutor")
    urgent = create_report(urgent=True)
    create_report()
    text = client.get("/review/?urgent=1&status=bogus&from=nope").get_data(as_text=True)
    assert ROW.findall(text) == [urgent.tracking_no]
    assert "部分筛选条件无效" in text


def test_one_unreadable_row_does_not_take_the_inbox_down(logged_in):
    client, _ = logged_in("prosecutor")
    readable, moved = create_report(now=at(1)), create_report(now=at(2))
    moved.victim_data = readable.victim_data  # a ciphertext moved to another row no longer opens
    db.session.commit()
    page = client.get("/review/")
    assert page.status_code == 200
    assert f'data-report-id="{moved.id}"' in page.text
    assert f'data-report-id="{readable.id}"' in page.text
