"""The printable transfer letter (移送函): office, document number, date, tracking number, police unit, the facts
as entered, the reporter only when shared; audited; A4 print stylesheet. And the review texts (notes, questions,
answers, transfer fields, the letter's data) are never stored in clear."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core.actor import Actor
from app.extensions import db
from app.notify.service import Outbound
from app.offices import queries as offices
from app.reports import answers
from app.reports.records import Question
from app.review import service as review
from tests.factories import create_report
from tests.review.detail_helpers import Cast, act, make_cast, transfer
from tests.test_no_plaintext import find_leaks, marker, storage_bytes

crew = pytest.fixture(make_cast)


def letter_path(report, record) -> str:
    return f"/review/reports/{report.id}/transfers/{record.id}/letter"


def test_the_letter_holds_the_transfer_and_the_facts_without_the_reporter_unless_shared(crew: Cast):
    report = create_report(status="reviewing")
    record = transfer(report, crew.prosecutor.actor, share=False)
    detail = crew.prosecutor.client.get(f"/review/reports/{report.id}").get_data(as_text=True)
    assert f'href="{letter_path(report, record)}"' in detail
    answer = crew.prosecutor.client.get(letter_path(report, record))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    for text in (offices.default_office().name, "X检移〔2026〕7号", report.tracking_no, "城北派出所",
                 "多处新旧不一的淤伤", "市妇幼保健院急诊科", record.created_at.astimezone(
                     dt.timezone(dt.timedelta(hours=8))).strftime("%Y年%m月%d日")):
        assert text in html
    assert "王医生" not in html
    assert "13800000000" not in html
    assert 'data-field="reporter_withheld"' in html
    assert "letter.css" in html
    assert db.session.scalars(select(AuditEntry).where(AuditEntry.action == "report.letter",
                                                       AuditEntry.target_id == str(record.id))).one()


def test_the_letter_names_the_reporter_when_the_transfer_shares_it(crew: Cast):
    report = create_report(status="reviewing")
    record = transfer(report, crew.prosecutor.actor, share=True)
    html = crew.police.client.get(letter_path(report, record)).get_data(as_text=True)
    assert "王医生" in html
    assert "13800000000" in html


def test_the_letter_is_not_found_for_another_office_or_police_unit(crew: Cast):
    report = create_report(status="reviewing")
    record = transfer(report, crew.prosecutor.actor)
    other = create_report(status="reviewing")
    assert crew.other_office.client.get(letter_path(report, record)).status_code == 404
    assert crew.other_police.client.get(letter_path(report, record)).status_code == 404
    assert crew.prosecutor.client.get(letter_path(other, record)).status_code == 404


def test_the_print_stylesheet_is_a4():
    from pathlib import Path

    import app as package

    css = (Path(package.__file__).parent / "static" / "letter.css").read_text(encoding="utf-8")
    assert "size:A4" in css
    assert "@media print" in css


def test_notes_answers_transfer_fields_and_the_letter_are_never_stored_in_clear(app, crew: Cast, backend_name,
                                                                             caplog):
    caplog.set_level(logging.DEBUG)
    texts = {name: marker(name) for name in (
        "备注", "问题", "回答", "联系人", "移送说明", "反馈说明", "监督意见", "公安说明", "监督结论", "转介说明",
        "退回理由", "办结说明")}
    report = create_report(status="reviewing", incident={"description": marker("经过") + "，孩子身上有伤。"})
    p, police = crew.prosecutor, crew.police
    assert act(p, report, "add_note", note=texts["备注"]).status_code == 303
    assert act(p, report, "ask_reporter", question=texts["问题"]).status_code == 303
    question = db.session.scalars(select(Question).where(Question.report_id == report.id)).one()
    answers.record_answer(report, question.id, texts["回答"], actor=Actor.public(), now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert act(p, report, "refer", agency="education", note=texts["转介说明"]).status_code == 303
    record = review.transfer(report, police_unit="pcs-north", document_no="X检移〔2026〕8号", contact=texts["联系人"],
                             share_reporter=True, note=texts["移送说明"], actor=p.actor, version=report.version,
                             now=dt.datetime.now(dt.UTC), deadlines=review.Deadlines(),
                             outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    assert act(police, report, "record_feedback", outcome="not_filed", case_no="", decided_at="",
               note=texts["反馈说明"]).status_code == 303
    assert act(p, report, "supervise", note=texts["监督意见"]).status_code == 303
    assert act(police, report, "police_explain", note=texts["公安说明"]).status_code == 303
    assert act(p, report, "conclude_supervision", result="accept_reasons",
               note=texts["监督结论"]).status_code == 303
    letter = p.client.get(letter_path(report, record)).get_data(as_text=True)
    assert texts["移送说明"] in letter
    assert act(p, report, "close", reason="after_transfer", merge_into="", note=texts["办结说明"]).status_code == 303
    returned = create_report(status="reviewing")
    transfer(returned, p.actor)
    assert act(police, returned, "police_return", reason=texts["退回理由"]).status_code == 303
    detail = p.client.get(f"/review/reports/{report.id}").get_data(as_text=True)
    assert texts["公安说明"] in detail
    db.session.commit()
    markers = [*texts.values(), report.section("incident")["description"].split("，")[0]]
    logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records).encode()
    assert find_leaks({"database": storage_bytes(app, backend_name), "logs": logs}, markers) == []


def test_the_letter_carries_urgency_the_police_call_and_a_seal_and_signature_block(crew: Cast):
    report = create_report(status="reviewing", urgent=True)
    record = transfer(report, crew.prosecutor.actor)
    html = crew.prosecutor.client.get(letter_path(report, record)).get_data(as_text=True)
    assert '<span class="urgent-stamp" data-field="urgent">紧急</span>' in html
    police = html.split('data-section="police"')[1].split("</table>")[0]
    assert "是否已报警" in police
    signoff = html.split('data-field="signoff"')[1].split("</footer>")[0]
    assert "承办检察官（签名）" in signoff
    assert "（院印）" in signoff
    assert "签收回执" in html
    plain = create_report(status="reviewing", urgent=False)
    record = transfer(plain, crew.prosecutor.actor)
    assert 'data-field="urgent"' not in crew.prosecutor.client.get(letter_path(plain, record)).get_data(as_text=True)
