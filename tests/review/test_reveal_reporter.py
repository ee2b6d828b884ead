"""The reporter's identity on the detail page: masked for the office by default (the name's first character, the
phone's first three and last four digits, no position), shown in full only through the sensitive
``review.reveal_reporter`` (a TOTP code from the last 10 minutes, else step-up and back), audited without personal
data; police never reach that route and keep seeing what a transfer shares; another office finds nothing."""

from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.review.presenters import mask_name, mask_phone
from tests.factories import create_report
from tests.review.detail_helpers import Cast, age_step_up, forms, make_cast, page, step_up, transfer

crew = pytest.fixture(make_cast)

# The builders' reporter (tests/factories.py): none of it may be in a masked page.
MARKERS = ("王医生", "13800000000", "急诊科医生")


def reveal(who, report):
    g.pop("csrf_token", None)
    return who.client.get(f"/review/reports/{report.id}/reporter")


def reveal_entries(report) -> list[AuditEntry]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.reveal_reporter",
                                                            AuditEntry.target_id == str(report.id))))


def test_the_office_sees_the_reporter_masked_and_none_of_it_is_in_the_html(crew: Cast):
    report = create_report(status="reviewing")
    answer = page(crew.prosecutor, report)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    for text in MARKERS:
        assert text not in html, text
    assert '<dd data-field="reporter.name">王某</dd>' in html
    assert '<dd data-field="reporter.phone">138****0000</dd>' in html
    assert '<dd data-field="reporter.position">（已隐藏）</dd>' in html
    assert 'data-reporter="masked"' in html
    assert f'href="/review/reports/{report.id}/reporter" data-link="reveal_reporter">查看报告人身份' in html
    # The contract's hooks are as they were; the other sections are in full.
    assert 'data-field="status" data-status="reviewing"' in html
    assert set(forms(html)) == {"set_risk", "add_note", "ask_reporter", "transfer", "refer", "close"}
    assert all(version == report.version for version in forms(html).values())
    for text in ("小花", "某区某街道", "多处新旧不一的淤伤", "邻居"):
        assert text in html
    assert reveal_entries(report) == []


def test_a_recent_second_factor_reveals_the_reporter_and_the_reveal_is_audited_without_personal_data(crew: Cast):
    report = create_report(status="reviewing")
    answer = reveal(crew.prosecutor, report)  # the login's code is from a moment ago
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    for text in MARKERS:
        assert text in html, text
    assert 'data-reporter="revealed"' in html
    assert f'href="/review/reports/{report.id}" data-link="hide_reporter"' in html
    assert 'data-field="status" data-status="reviewing"' in html
    assert "transfer" in forms(html)
    (entry,) = reveal_entries(report)
    assert (entry.actor_id, entry.actor_role, entry.office_id, entry.target_type) == (
        crew.prosecutor.user.id, "prosecutor", report.office_id, "report")
    stored = " ".join(str(getattr(entry, c.key)) for c in AuditEntry.__table__.columns)
    for text in (*MARKERS, "王某", "138****"):
        assert text not in stored
    # Who saw the identity is on the page's viewing record.
    viewers = page(crew.lead, report).get_data(as_text=True).split('id="h-viewers"')[1]
    assert "王检察官 · 查看报告人身份" in viewers


def test_without_a_code_from_the_last_10_minutes_reveal_asks_for_step_up_then_carries_on(crew: Cast):
    report = create_report(status="reviewing")
    path = f"/review/reports/{report.id}/reporter"
    age_step_up(crew.prosecutor)
    asked = reveal(crew.prosecutor, report)
    assert asked.status_code == 303
    assert asked.headers["Location"] == f"/account/step-up?next=%2Freview%2Freports%2F{report.id}%2Freporter"
    for text in MARKERS:
        assert text not in asked.get_data(as_text=True)
    assert reveal_entries(report) == []
    done = step_up(crew.prosecutor, path)
    assert (done.status_code, done.headers["Location"]) == (303, path)
    html = reveal(crew.prosecutor, report).get_data(as_text=True)
    for text in MARKERS:
        assert text in html, text
    assert len(reveal_entries(report)) == 1
    # Ten minutes on, the code is stale again: asked again, nothing more revealed or recorded.
    age_step_up(crew.prosecutor)
    again = reveal(crew.prosecutor, report)
    assert again.status_code == 303
    assert again.headers["Location"].startswith("/account/step-up?next=")
    assert len(reveal_entries(report)) == 1


def test_a_lead_may_reveal_too(crew: Cast):
    report = create_report(status="new")
    assert "王医生" in reveal(crew.lead, report).get_data(as_text=True)


def test_police_never_reach_the_reveal_route_and_keep_what_a_transfer_shares(crew: Cast):
    report = create_report(status="reviewing")
    transfer(report, crew.prosecutor.actor, share=True)
    assert reveal(crew.police, report).status_code == 403
    assert reveal(crew.other_police, report).status_code == 403
    assert reveal_entries(report) == []
    html = page(crew.police, report).get_data(as_text=True)  # shared: in full, as before, with its entry
    assert "王医生" in html
    assert "13800000000" in html
    assert 'data-link="reveal_reporter"' not in html
    assert len(reveal_entries(report)) == 1
    withheld = create_report(status="reviewing")
    transfer(withheld, crew.prosecutor.actor, share=False)
    html = page(crew.police, withheld).get_data(as_text=True)
    for text in ('data-section="reporter"', "王某", "138****"):
        assert text not in html


def test_another_office_finds_nothing_and_nothing_is_recorded(crew: Cast):
    report = create_report(status="reviewing")
    assert reveal(crew.other_office, report).status_code == 404
    assert reveal_entries(report) == []
    assert crew.prosecutor.client.get("/review/reports/not-a-uuid/reporter").status_code == 404


def test_a_letter_that_names_the_reporter_asks_the_office_for_step_up_and_is_audited(crew: Cast):
    report = create_report(status="reviewing")
    record = transfer(report, crew.prosecutor.actor, share=True)
    path = f"/review/reports/{report.id}/transfers/{record.id}/letter"
    age_step_up(crew.lead)
    asked = crew.lead.client.get(path)
    assert asked.status_code == 303
    assert asked.headers["Location"].startswith("/account/step-up?next=")
    assert reveal_entries(report) == []
    step_up(crew.lead, path)
    assert "王医生" in crew.lead.client.get(path).get_data(as_text=True)
    assert len(reveal_entries(report)) == 1
    assert "王医生" in crew.police.client.get(path).get_data(as_text=True)  # the police, as before
    assert len(reveal_entries(report)) == 2


def test_a_phone_search_still_finds_the_report_whose_page_then_masks_the_phone(crew: Cast):
    report = create_report(status="new")
    g.pop("csrf_token", None)
    listed = crew.prosecutor.client.get("/review/?q=13800000000").get_data(as_text=True)
    assert f'data-report-id="{report.id}"' in listed
    assert "13800000000" not in page(crew.prosecutor, report).get_data(as_text=True)


@pytest.mark.parametrize(("name", "masked"), [("王医生", "王某"), ("欧阳娜娜", "欧某"), ("李", "某"),
                                             (" 张三 ", "张某")])
def test_a_name_is_masked_to_its_first_character(name: str, masked: str):
    assert mask_name(name) == masked


@pytest.mark.parametrize(("phone", "masked"), [("13800000000", "138****0000"), ("0571-88888888", "057****8888"),
                                               ("1234567", "****")])
def test_a_phone_keeps_only_its_first_three_and_last_four(phone: str, masked: str):
    assert mask_phone(phone) == masked
