"""Step-up keeps the action (CONTRACT.md "Step-up"): a sensitive form posted without a fresh second factor is
held, sealed, on the session, and carried out with the values that were posted once the code is given; the user
lands on its result. A wrong code keeps it waiting; a session that ends drops it; QZBG_STEP_UP_MINUTES sets the
window and 0 makes every sensitive action ask."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import g
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.auth import permissions
from app.auth.models import StaffSession
from app.extensions import db
from app.offices.models import PoliceUnit
from app.reports.models import Report
from app.reports.records import Transfer
from tests.auth.conftest import login, post, totp_now
from tests.factories import create_report
from tests.review.detail_helpers import Cast, a_minute_passes, act, age_step_up, make_cast, step_up

crew = pytest.fixture(make_cast)
MARKER = "X检移〔2026〕HELD-7f3a9"


def status_of(report: Report) -> str:
    db.session.expire_all()
    return db.session.get(Report, report.id).status


def transfer_fields(**overrides: str) -> dict[str, str]:
    return {"police_unit": "pcs-north", "document_no": MARKER, "contact": "刘警官", "share_reporter": "1",
            "note": "事实见移送函", **overrides}


def wrong_code(who, next_url: str):
    code = totp_now(who.user.unseal("totp_secret_data"), who.step + 1)
    bad = "000000" if code != "000000" else "111111"
    return post(who.client, "/account/step-up", {"otp": bad, "next": next_url},
                form_page=f"/account/step-up?next={next_url}")


def test_a_transfer_posted_without_a_fresh_code_is_carried_out_after_the_code_with_the_values_posted(crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    held = act(crew.prosecutor, report, "transfer", **transfer_fields())
    assert (held.status_code, held.headers["Location"]) == (
        303, f"/account/step-up?next=%2Freview%2Freports%2F{report.id}")
    assert status_of(report) == "reviewing"
    g.pop("csrf_token", None)
    asking = crew.prosecutor.client.get(held.headers["Location"]).text
    assert re.search(r'data-field="held_action">[^<]*<strong>移送公安（线索 QZBG-', asking)

    done = step_up(crew.prosecutor, f"/review/reports/{report.id}")
    assert (done.status_code, done.headers["Location"]) == (303, f"/review/reports/{report.id}")
    assert status_of(report) == "transferred"
    record = db.session.scalars(select(Transfer).where(Transfer.report_id == report.id)).one()
    assert (record.unseal("document_no_data"), record.share_reporter, record.unseal("contact_data")) == (
        MARKER, True, "刘警官")
    page = crew.prosecutor.client.get(done.headers["Location"]).text
    assert 'data-field="status" data-status="transferred"' in page
    assert re.search(r'data-field="done">已移送城北派出所', page)
    actions = [e.action for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
    assert actions.index("step_up") < actions.index("report.transfer")
    session_row = db.session.scalars(select(StaffSession).where(StaffSession.user_id == crew.prosecutor.user.id,
                                                                 StaffSession.ended_at.is_(None))).one()
    assert session_row.pending_action_data is None  # carried out once, then gone


def test_a_wrong_code_changes_nothing_and_keeps_the_action_waiting_for_the_right_one(crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    act(crew.prosecutor, report, "transfer", **transfer_fields())
    refused = wrong_code(crew.prosecutor, f"/review/reports/{report.id}")
    assert refused.status_code == 401
    assert 'data-field="held_action"' in refused.text
    assert status_of(report) == "reviewing"
    done = step_up(crew.prosecutor, f"/review/reports/{report.id}")
    assert done.status_code == 303
    assert status_of(report) == "transferred"


def test_the_held_action_is_sealed_on_the_session_and_never_stored_in_clear(crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    act(crew.prosecutor, report, "transfer", **transfer_fields(note="备注-HELD-c41e"))
    rows = db.session.execute(text("SELECT * FROM staff_sessions")).all()
    raw = repr(rows).encode() + b"".join(v for row in rows for v in row if isinstance(v, bytes))
    assert any(row.pending_action_data for row in db.session.scalars(select(StaffSession)))
    for marker in (MARKER, "备注-HELD-c41e", "刘警官"):
        assert marker.encode() not in raw
        assert marker not in repr(rows)


def test_a_session_that_ends_drops_the_held_action(app, crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    act(crew.prosecutor, report, "transfer", **transfer_fields())
    post(crew.prosecutor.client, "/logout", {}, form_page="/review/")
    db.session.expire_all()
    rows = db.session.scalars(select(StaffSession).where(StaffSession.user_id == crew.prosecutor.user.id)).all()
    assert [(r.end_reason, r.pending_action_data) for r in rows] == [("logout", None)]
    assert login(crew.prosecutor.client, crew.prosecutor.user, step=1).status_code == 303
    g.pop("csrf_token", None)
    assert crew.prosecutor.client.get(f"/review/reports/{report.id}").status_code == 200
    assert status_of(report) == "reviewing"


def test_a_sensitive_page_opened_after_the_post_replaces_the_held_action(crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    act(crew.prosecutor, report, "transfer", **transfer_fields())
    g.pop("csrf_token", None)
    assert crew.prosecutor.client.get(f"/review/reports/{report.id}/reporter").status_code == 303
    after = step_up(crew.prosecutor, f"/review/reports/{report.id}/reporter")
    assert after.headers["Location"] == f"/review/reports/{report.id}/reporter"
    assert status_of(report) == "reviewing"


def test_a_held_action_refused_after_the_code_shows_the_page_with_the_values_kept(crew: Cast):
    report = create_report(status="reviewing")
    age_step_up(crew.prosecutor)
    act(crew.prosecutor, report, "transfer", **transfer_fields())
    unit = db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == "pcs-north")).one()
    unit.active = False  # deactivated while the prosecutor looked for the phone
    db.session.commit()
    refused = step_up(crew.prosecutor, f"/review/reports/{report.id}")
    html = refused.text
    assert refused.status_code == 422
    assert 'data-error-for="police_unit"' in html
    assert f'value="{MARKER}"' in html  # what was typed is still there
    assert re.search(r'id="a-transfer-police_unit"[^>]*aria-invalid="true"[^>]*autofocus', html)
    assert status_of(report) == "reviewing"
    db.session.expire_all()
    live = db.session.scalars(select(StaffSession).where(StaffSession.user_id == crew.prosecutor.user.id,
                                                         StaffSession.ended_at.is_(None))).one()
    assert live.stepped_up_at is not None  # the code given still counts for the next try
    unit.active = True
    db.session.commit()
    assert act(crew.prosecutor, report, "transfer", **transfer_fields()).status_code == 303
    assert status_of(report) == "transferred"


def test_every_sensitive_form_of_the_site_is_one_these_tests_carry_through_step_up(app):
    """A new sensitive POST route must join the tests above (and name what it does with ``held_label``)."""
    sensitive_posts = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if "POST" in (rule.methods or ()) and getattr(view, "qzbg_permission", None) in permissions.SENSITIVE:
            sensitive_posts.add(rule.endpoint)
    assert sensitive_posts == {"admin.user_role", "admin.user_unlock",  # tests/auth/test_step_up_admin.py
                               # tests/admin/test_held_admin_changes.py:
                               "admin.user_new", "admin.user_action", "admin.add_liaison_login",
                               "admin.police_unit_new", "admin.police_unit_edit", "admin.police_unit_deactivate",
                               "admin.police_unit_reactivate",
                               # tests/admin/test_districts_admin.py:
                               "admin.district_add", "admin.district_rename",
                               # tests/institutions/test_institution_admin.py:
                               "admin.institution_add", "admin.institution_rotate", "admin.institution_revoke",
                               # tests/cases/test_filed_cases.py (a file upload: asked again, not held):
                               "review.cases_import"}
    from app.reports.states import RULES

    assert [a.value for a, r in RULES.items() if r.sensitive] == ["transfer"]  # through review.report_action


def test_with_step_up_minutes_at_zero_every_sensitive_action_asks(make_app):
    app = make_app(step_up_minutes=0)
    crew = make_cast(app)
    report = create_report(status="reviewing")
    # No age_step_up: the login's own code does not count either.
    held = act(crew.prosecutor, report, "transfer", **transfer_fields())
    assert held.headers["Location"].startswith("/account/step-up")
    assert step_up(crew.prosecutor, f"/review/reports/{report.id}").status_code == 303
    assert status_of(report) == "transferred"
    g.pop("csrf_token", None)
    reveal = crew.prosecutor.client.get(f"/review/reports/{report.id}/reporter")
    assert reveal.headers["Location"].startswith("/account/step-up")  # the code was spent on the transfer
    a_minute_passes(crew.prosecutor)
    opened = step_up(crew.prosecutor, f"/review/reports/{report.id}/reporter")
    assert opened.headers["Location"] == f"/review/reports/{report.id}/reporter"
    g.pop("csrf_token", None)
    assert crew.prosecutor.client.get(opened.headers["Location"]).status_code == 200  # one use...
    g.pop("csrf_token", None)
    again = crew.prosecutor.client.get(f"/review/reports/{report.id}/reporter")
    assert again.headers["Location"].startswith("/account/step-up")  # ...and asked again


def test_the_step_up_window_follows_the_setting(make_app):
    app = make_app(step_up_minutes=30)
    crew = make_cast(app)
    report = create_report(status="reviewing")
    from sqlalchemy import update

    db.session.execute(update(StaffSession).where(StaffSession.user_id == crew.prosecutor.user.id)
                       .values(stepped_up_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)))
    db.session.commit()
    assert act(crew.prosecutor, report, "transfer", **transfer_fields()).headers["Location"] == \
        f"/review/reports/{report.id}"  # 20 minutes ago is within 30
    assert status_of(report) == "transferred"


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("240", True), ("-1", False), ("241", False), ("x", False)])
def test_qzbg_step_up_minutes_is_read_by_its_name_and_checked(value, ok):
    from app.config import ConfigError, Settings

    env = {"QZBG_SECRET_KEY": "k" * 40, "QZBG_STEP_UP_MINUTES": value}
    if ok:
        assert Settings.from_env(env).step_up_minutes == int(value)
    else:
        with pytest.raises(ConfigError, match="QZBG_STEP_UP_MINUTES"):
            Settings.from_env(env)
