"""The report detail page: what each role sees, attachments through a staff-only route, related reports, who
viewed it; every view and download audited; another office and another police unit find nothing."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.crypto.vault import get_vault
from app.extensions import db
from app.reports import attachments
from tests.factories import create_report, valid_id_number
from tests.review.detail_helpers import Cast, make_cast, page, transfer
from tests.test_no_plaintext import png_with

crew = pytest.fixture(make_cast)


def audited(action: str, target: object) -> int:
    return len(list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target_id == str(target)))))


def test_a_prosecutor_sees_every_field_decrypted_but_the_reporter_and_the_view_is_audited(crew: Cast):
    report = create_report(status="new", urgent=True)
    answer = page(crew.prosecutor, report)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert 'data-field="status" data-status="new"' in html
    for text in ("小花", "某区某街道", "多处新旧不一的淤伤", "邻居", "城北派出所"):
        assert text in html
    assert "王医生" not in html  # masked until revealed: test_reveal_reporter.py
    assert audited("report.view", report.id) == 1
    assert audited("report.reveal_reporter", report.id) == 0


def test_police_of_the_unit_see_only_what_was_shared_and_never_internal_notes(crew: Cast):
    from app.review import service as review

    report = create_report(status="reviewing")
    review.add_note(report, "内部意见不给公安看", actor=crew.prosecutor.actor, version=report.version,
                    now=report.updated_at)
    db.session.commit()
    transfer(report, crew.prosecutor.actor, share=False)
    html = page(crew.police, report).get_data(as_text=True)
    assert "多处新旧不一的淤伤" in html
    assert "小花" in html
    assert "王医生" not in html
    assert "13800000000" not in html
    assert "内部意见不给公安看" not in html
    assert 'data-event="add_note"' not in html
    assert audited("report.reveal_reporter", report.id) == 0
    assert 'data-section="reporter"' not in html
    assert "查看记录" not in html
    assert "相关线索" not in html
    prosecutor_html = page(crew.prosecutor, report).get_data(as_text=True)
    assert "内部意见不给公安看" in prosecutor_html


def test_police_see_the_reporter_when_the_transfer_shares_it(crew: Cast):
    report = create_report(status="reviewing")
    transfer(report, crew.prosecutor.actor, share=True)
    html = page(crew.police, report).get_data(as_text=True)
    assert "王医生" in html
    assert "13800000000" in html
    assert audited("report.reveal_reporter", report.id) == 1


def test_another_office_another_police_unit_and_police_without_a_transfer_find_nothing(crew: Cast):
    report = create_report(status="reviewing")
    assert page(crew.other_office, report).status_code == 404
    assert page(crew.police, report).status_code == 404
    transfer(report, crew.prosecutor.actor)
    assert page(crew.other_police, report).status_code == 404
    assert page(crew.police, report).status_code == 200


def test_the_timeline_names_the_staff_who_acted(crew: Cast):
    from app.review import service as review

    report = create_report(status="new")
    review.acknowledge(report, actor=crew.lead.actor, version=report.version, now=report.updated_at)
    db.session.commit()
    html = page(crew.prosecutor, report).get_data(as_text=True)
    assert "赵科长" in html
    assert f"staff:{crew.lead.user.id}" not in html


def test_related_reports_of_the_office_are_linked_by_victim_id_or_reporter_phone(crew: Cast):
    number = valid_id_number(dt.date(2015, 3, 1))
    first = create_report(victim={"id_number": number, "age": None})
    same_victim = create_report(victim={"id_number": number, "age": None})
    same_phone = create_report()  # the builders' reporter phone
    stranger = create_report()
    same_victim.reporter_phone_bidx = stranger.reporter_phone_bidx = None  # only the ID number links this one
    db.session.commit()
    html = page(crew.prosecutor, first).get_data(as_text=True)
    assert f'href="/review/reports/{same_victim.id}"' in html
    assert f'href="/review/reports/{same_phone.id}"' in html
    assert f"/review/reports/{stranger.id}" not in html


def test_the_page_lists_who_viewed_the_report(crew: Cast):
    report = create_report()
    page(crew.lead, report)
    html = page(crew.prosecutor, report).get_data(as_text=True)
    viewers = html.split('id="h-viewers"')[1]
    assert "赵科长" in viewers
    assert "王检察官" in viewers


def _with_attachments(app) -> object:
    report = create_report(commit=False)
    directory = app.config["QZBG"].attachments_dir
    from app.core.dbtypes import utcnow

    image = attachments.store(report, io.BytesIO(png_with("附件像素")), "伤情照片.png", directory=directory,
                              max_bytes=10_000_000, now=utcnow(), vault=get_vault())
    pdf = attachments.store(report, io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"), "病历.pdf",
                            directory=directory, max_bytes=10_000_000, now=utcnow(), vault=get_vault())
    db.session.commit()
    return report, image, pdf


def test_attachments_come_through_the_staff_route_no_store_and_audited(app, crew: Cast):
    report, image, pdf = _with_attachments(app)
    html = page(crew.prosecutor, report).get_data(as_text=True)
    assert f'<img src="/review/reports/{report.id}/attachments/{image.id}"' in html
    assert f"/review/reports/{report.id}/attachments/{pdf.id}?download=1" in html
    assert image.storage_name not in html
    shown = crew.prosecutor.client.get(f"/review/reports/{report.id}/attachments/{image.id}")
    assert shown.status_code == 200
    assert shown.mimetype == "image/png"
    assert shown.headers["Cache-Control"] == "no-store"
    assert shown.headers["Content-Disposition"].startswith("inline;")
    downloaded = crew.prosecutor.client.get(f"/review/reports/{report.id}/attachments/{pdf.id}")
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E7%97%85%E5%8E%86.pdf" in downloaded.headers["Content-Disposition"]
    assert downloaded.data.startswith(b"%PDF")
    assert audited("report.attachment", image.id) == 1
    assert audited("report.attachment", pdf.id) == 1


def test_attachments_are_not_found_for_another_office_unshared_police_or_another_report(app, crew: Cast):
    report, image, _pdf = _with_attachments(app)
    other = create_report()
    path = f"/review/reports/{report.id}/attachments/{image.id}"
    assert crew.other_office.client.get(path).status_code == 404
    assert crew.police.client.get(path).status_code == 404
    assert crew.prosecutor.client.get(f"/review/reports/{other.id}/attachments/{image.id}").status_code == 404
    assert audited("report.attachment", image.id) == 0


def test_an_anonymous_visitor_is_sent_to_login(client):
    report = create_report()
    answer = client.get(f"/review/reports/{report.id}")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/login?next=")


def test_a_malformed_report_or_attachment_id_is_not_found(crew: Cast):
    report = create_report()
    for path in ("/review/reports/not-a-uuid", f"/review/reports/{report.id}/attachments/nope",
                 f"/review/reports/{report.id}/transfers/nope/letter"):
        assert crew.prosecutor.client.get(path).status_code == 404, path
