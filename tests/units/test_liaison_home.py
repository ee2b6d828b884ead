"""A unit liaison's page ``/unit/``: their own unit's reports as their reporters see them (number, date, the
reporter-visible status; no contents, no names), its QR codes and poster; nothing of another unit."""

from __future__ import annotations

import re

from app.extensions import db
from app.reports.states import REPORTER_STATUS_LABELS
from tests.auth.conftest import login
from tests.factories import create_report, create_staff, create_unit
from tests.test_no_plaintext import marker


def test_a_liaison_lands_on_their_unit_page_and_sees_its_reports_by_the_reporter_visible_status(app):
    mine, other = create_unit("hosp-a", name="甲医院"), create_unit("hosp-b", name="乙医院")
    victim = marker("被害人")
    new = create_report(unit=mine, victim={"name": victim, "gender": "female", "age": 9})
    transferred = create_report(unit=mine, status="police_responded")
    theirs = create_report(unit=other)
    create_report()  # a report of the public: no unit
    liaison = create_staff(role="unit_liaison", unit=mine)
    db.session.commit()
    client = app.test_client()
    answer = login(client, liaison)
    assert answer.headers["Location"] == "/unit/"  # the default landing (the inbox) is not theirs
    page = client.get("/unit/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    shown = dict(re.findall(r'data-tracking-no="([^"]+)">.*?data-status="([^"]+)"', text, re.S))
    assert shown == {new.tracking_no: "submitted", transferred.tracking_no: "transferred"}
    assert REPORTER_STATUS_LABELS["transferred"] in text
    assert "公安已反馈" not in text  # the internal status label is never shown
    assert theirs.tracking_no not in text
    assert victim not in text
    assert 'href="/units/hosp-a/poster"' in text
    assert 'href="/units/hosp-a/qrcode.png?download=1"' in text
    assert "hosp-b" not in text


def test_a_liaison_cannot_reach_another_unit_through_the_query_string_or_any_staff_page(app):
    mine, other = create_unit("hosp-a"), create_unit("hosp-b")
    theirs = create_report(unit=other)
    own = create_report(unit=mine)
    liaison = create_staff(role="unit_liaison", unit=mine)
    db.session.commit()
    client = app.test_client()
    login(client, liaison)
    for query in (f"?unit={other.id}", "?unit=hosp-b", f"?unit_id={other.id}", "?page=2"):
        text = client.get("/unit/" + query).get_data(as_text=True)
        assert theirs.tracking_no not in text, query
        assert "hosp-b" not in text, query
    for path in ("/review/", f"/review/reports/{theirs.id}", f"/review/reports/{own.id}", "/admin/units",
                 f"/admin/units/{other.id}", f"/admin/units/{mine.id}", "/admin/units/posters"):
        assert client.get(path).status_code == 403, path


def test_anonymous_visitors_go_to_login_and_other_roles_are_refused_the_liaison_page(app):
    assert app.test_client().get("/unit/").status_code == 303
    assert app.test_client().get("/unit/").headers["Location"].startswith("/login?next=%2Funit%2F")
    for role in ("admin", "prosecutor", "lead", "police"):
        user = create_staff(role=role)
        db.session.commit()
        client = app.test_client()
        login(client, user)
        assert client.get("/unit/").status_code == 403, role


def _deactivated_units_home(app) -> str:
    """The home page of the liaison of a deactivated unit."""
    unit = create_unit("old-1", active=False)
    liaison = create_staff(role="unit_liaison", unit=unit)
    db.session.commit()
    client = app.test_client()
    login(client, liaison)
    return client.get("/unit/").get_data(as_text=True)


def test_a_deactivated_unit_shows_its_liaison_no_codes(app):
    text = _deactivated_units_home(app)
    assert "已停用" in text
    assert "/units/old-1/poster" not in text


def test_an_administrator_lands_on_the_first_page_of_their_role(app):
    admin = create_staff(role="admin")
    db.session.commit()
    assert login(app.test_client(), admin).headers["Location"] == "/admin/users"


def test_practice_reports_are_left_out_of_a_units_page_and_its_report_count(app):
    from app.reports import of_unit as queries

    mine = create_unit("hosp-a")
    real = create_report(unit=mine)
    practice = create_report(unit=mine, training=True)
    liaison = create_staff(role="unit_liaison", unit=mine)
    db.session.commit()
    client = app.test_client()
    login(client, liaison)
    text = client.get("/unit/").get_data(as_text=True)
    assert real.tracking_no in text
    assert practice.tracking_no not in text
    assert queries.report_count(mine) == 1


def test_a_liaisons_page_links_the_training_entry_of_the_form_with_their_unit_and_its_report_counts_nowhere(app):
    from app.reports.models import Report
    from app.stats import queries as stats
    from app.stats.presenters import parse_period

    mine = create_unit("hosp-a", name="甲医院")
    liaison = create_staff(role="unit_liaison", unit=mine)
    db.session.commit()
    client = app.test_client()
    login(client, liaison)
    text = client.get("/unit/").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-link="training"', text)
    assert link, "the liaison's page links the training entry"
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/report?")
    assert "training=1" in href
    assert "unit=hosp-a" in href
    form = client.get(href).get_data(as_text=True)
    assert 'data-field="training_notice"' in form
    assert re.search(rf'<option value="{mine.id}"[^>]*selected', form)
    practice = create_report(unit=mine, training=True)
    assert db.session.get(Report, practice.id).training
    period, _ = parse_period({})
    import datetime as dt

    figures = stats.figures(stats.Scope(mine.office_id, mine.id), period, now=dt.datetime.now(dt.UTC))
    assert figures.headline["received"] == 0
    assert practice.tracking_no not in client.get("/unit/").get_data(as_text=True)


def test_a_deactivated_units_liaison_is_linked_to_the_training_form_without_the_unit(app):
    text = _deactivated_units_home(app)
    assert 'href="/report?training=1" data-link="training"' in text
