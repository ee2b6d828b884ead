"""The inbox's 已办结 tab: the office's counter row, kept in the transaction of every close and reopen; under a
filter the closed reports are counted up to a cap ("1000+"); migration 0008 counts the reports already closed."""

from __future__ import annotations

import datetime as dt
import re

import flask_migrate
import pytest
import sqlalchemy as sa

from app.errors import ConflictError
from app.extensions import db
from app.reports import service as reports
from app.reports.models import ClosedReportCount
from app.review import queries
from app.review import service as review
from tests.auth.conftest import login
from tests.factories import PROSECUTOR, create_office, create_report, create_staff
from tests.test_migration_0003 import _insert_report_at_0002, empty_database, schema_at_0002  # noqa: F401 - fixture


def tab(client, status: str, query: str = "") -> str:
    page = client.get("/review/" + query)
    assert page.status_code == 200
    match = re.search(rf'data-status-count="{status}">([^<]+)<', page.get_data(as_text=True))
    assert match, status
    return match.group(1)


@pytest.fixture
def prosecutor(app):
    user = create_staff(role="prosecutor")
    db.session.commit()
    client = app.test_client()
    assert login(client, user).status_code == 303
    return client, user


def stored_count(office_id: int) -> int | None:
    db.session.expire_all()
    row = db.session.get(ClosedReportCount, office_id)
    return None if row is None else row.closed


def test_closing_and_reopening_keep_the_offices_closed_count_and_the_tab_shows_it(prosecutor):
    client, user = prosecutor
    from app.core.actor import Actor

    actor = Actor.staff(user)
    north = create_office()
    db.session.commit()
    create_report(status="closed", district_code="430299")  # another office's
    first, second = create_report(status="closed"), create_report(status="reviewing")
    assert tab(client, "closed") == "1"
    review.close(second, "other", merge_into=None, note=None, actor=actor, version=second.version,
                 now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert tab(client, "closed") == "2"
    assert (stored_count(1), stored_count(north.id)) == (2, 1)
    review.reopen(first, None, actor=actor, version=first.version, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert tab(client, "closed") == "1"
    assert tab(client, "reviewing") == "1"
    assert stored_count(1) == 1


def test_a_close_rolled_back_or_refused_as_stale_leaves_the_count_as_it_was(prosecutor):
    client, user = prosecutor
    from app.core.actor import Actor

    actor = Actor.staff(user)
    report = create_report(status="reviewing")
    review.close(report, "other", merge_into=None, note=None, actor=actor, version=report.version,
                 now=dt.datetime.now(dt.UTC))
    db.session.rollback()
    assert stored_count(1) is None
    assert tab(client, "closed") == "0"
    with pytest.raises(ConflictError):
        review.close(report, "other", merge_into=None, note=None, actor=actor, version=report.version - 1,
                     now=dt.datetime.now(dt.UTC))
    db.session.rollback()
    assert tab(client, "closed") == "0"


def test_a_filtered_closed_tab_counts_up_to_the_cap_and_says_so(prosecutor, monkeypatch):
    client, _ = prosecutor
    monkeypatch.setattr(queries, "CLOSED_CAP", 2)
    for _ in range(3):
        create_report(status="closed", urgent=True)
    create_report(status="closed")
    assert tab(client, "closed") == "4"  # the office's whole tab: its counter, exact
    assert tab(client, "closed", "?urgent=1") == "2+"
    assert tab(client, "closed", "?urgent=1&status=closed") == "2+"
    assert tab(client, "closed", "?q=QZBG-2000-000001") == "0"


def test_the_counter_can_be_recounted_from_the_reports(app):
    create_report(status="closed")
    create_report(status="closed")
    create_report(status="new")
    db.session.execute(sa.update(ClosedReportCount).values(closed=40))
    reports.recount_closed()
    db.session.commit()
    assert stored_count(1) == 2


def test_a_status_change_that_is_not_a_close_or_reopen_leaves_the_counter_alone(app):
    report = create_report(status="new")
    reports.change_status(report, "acknowledge", actor=PROSECUTOR, now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert stored_count(1) is None


def test_migration_0008_counts_the_reports_already_closed(backend, empty_database, tmp_path):  # noqa: F811
    with schema_at_0002(empty_database, tmp_path) as tables:
        with db.engine.begin() as conn:
            for _ in range(3):
                _insert_report_at_0002(conn, tables, ["abuse_injury"])
        flask_migrate.upgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE reports SET status = 'closed' WHERE id IN "
                                 "(SELECT id FROM reports ORDER BY tracking_no LIMIT 2)"))
        flask_migrate.upgrade(revision="0008_inbox_indexes")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT office_id, closed FROM closed_report_counts")).all() == [(1, 2)]
        flask_migrate.downgrade(revision="0007")
        with db.engine.connect() as conn:
            assert "closed_report_counts" not in sa.inspect(conn).get_table_names()
