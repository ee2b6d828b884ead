"""The review workflow's actions: the whole life of a report, through the one state machine, with its records,
timeline, audit entries and sealed texts; stale versions, other offices and other police units are refused."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.core.actor import Actor
from app.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.reports import answers
from app.reports.models import Report
from app.reports.records import Question, Transfer
from app.review import service as review
from tests.factories import create_office, create_report, create_staff

DEADLINES = review.Deadlines()


@pytest.fixture
def cast(app):
    """A prosecutor, a lead, and a police user of the default office's police unit."""
    unit = PoliceUnit(code="pcs-001", name="城北派出所", office_id=1)
    db.session.add(unit)
    db.session.flush()
    people = {
        "prosecutor": create_staff(role="prosecutor", username="wang"),
        "lead": create_staff(role="lead", username="zhao"),
        "police": create_staff(role="police", police_unit=unit, username="li.jing"),
        "other_police": create_staff(role="police", username="zhou"),
    }
    db.session.commit()
    return {name: Actor.staff(user) for name, user in people.items()}


def later(minutes: int) -> dt.datetime:
    """A moment after now (reports are submitted at the real now, so steps must come after it)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


def test_a_report_lives_from_submission_to_closed_through_every_step(cast):
    report = create_report(status="new", urgent=True)
    p, police = cast["prosecutor"], cast["police"]
    review.acknowledge(report, actor=p, version=report.version, now=later(1))
    assert (report.status, report.assignee_id) == ("reviewing", p.id)
    review.set_risk(report, "high", actor=p, version=report.version, now=later(2))
    review.add_note(report, "内部意见：需尽快移送", actor=p, version=report.version, now=later(3))
    asked = review.ask_reporter(report, "请补充孩子的就读学校", actor=p, version=report.version, now=later(4))
    at = later(5)
    record = review.transfer(report, police_unit="pcs-001", document_no="X检未移〔2026〕1号", contact="刘警官",
                             share_reporter=False, note="事实概要", actor=p, version=report.version,
                             now=at, deadlines=DEADLINES, outbound=Outbound.of(current_app.config["QZBG"]))
    assert report.status == "transferred"
    assert record.feedback_due_at == at + dt.timedelta(hours=72)
    review.police_acknowledge(report, actor=police, version=report.version, now=later(6))
    review.record_feedback(report, outcome="not_filed", case_no=None, decided_at=later(7).date(), note="证据不足",
                           actor=police, version=report.version, now=later(7),
                           outbound=Outbound.of(current_app.config["QZBG"]))
    assert report.status == "police_responded"
    review.supervise(report, "请说明不立案理由", actor=p, version=report.version, now=later(8), deadlines=DEADLINES)
    review.police_explain(report, "经查无犯罪事实", actor=police, version=report.version, now=later(9),
                          outbound=Outbound.of(current_app.config["QZBG"]))
    review.conclude_supervision(report, "notify_filing", "理由不成立", actor=p, version=report.version, now=later(10))
    review.record_feedback(report, outcome="filed", case_no="A2026-88", decided_at=None, note=None,
                           actor=police, version=report.version, now=later(11),
                           outbound=Outbound.of(current_app.config["QZBG"]))
    review.refer(report, "civil_affairs", "申请临时救助", actor=p, version=report.version, now=later(12))
    review.close(report, "after_transfer", merge_into=None, note=None, actor=p, version=report.version, now=later(13))
    db.session.commit()
    assert report.status == "closed"
    assert [e.action for e in report.events] == [
        "submit", "acknowledge", "set_risk", "add_note", "ask_reporter", "transfer", "police_acknowledge",
        "record_feedback", "supervise", "police_explain", "conclude_supervision", "record_feedback", "refer", "close",
    ]
    assert report.events[3].unseal("note_data") == "内部意见：需尽快移送"
    assert b"\xe5\x86\x85\xe9\x83\xa8" not in (report.events[3].note_data or b"")  # sealed, not UTF-8 text
    assert asked.unseal("text_data") == "请补充孩子的就读学校"
    stored = db.session.get(Transfer, record.id)
    assert (stored.state, stored.feedback_outcome, stored.conclusion) == ("done", "filed", "notify_filing")
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(report.id))).all()
    assert len(actions) == 13
    assert "report.transfer" in actions


def test_a_stale_version_is_refused_and_nothing_is_half_done(cast):
    report = create_report(status="reviewing")
    rendered = report.version
    review.set_risk(report, "low", actor=cast["prosecutor"], version=rendered, now=later(1))
    db.session.commit()
    with pytest.raises(ConflictError, match="已被他人修改"):
        review.transfer(report, police_unit="pcs-001", document_no="1号", contact=None, share_reporter=False,
                        note=None, actor=cast["lead"], version=rendered, now=later(2), deadlines=DEADLINES,
                        outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.rollback()
    assert db.session.scalars(select(Transfer)).all() == []
    assert db.session.get(Report, report.id).status == "reviewing"


def test_of_two_prosecutors_acting_at_once_one_succeeds(app, cast, backend_name):
    if backend_name != "postgresql":
        pytest.skip("SQLite runs one writer at a time")
    report = create_report(status="reviewing")
    report_id, version = report.id, report.version
    results: list[str] = []

    def act(actor: Actor) -> None:
        with app.app_context():
            mine = db.session.get(Report, report_id)
            try:
                review.set_risk(mine, "high", actor=actor, version=version, now=later(1))
                db.session.commit()
                results.append("ok")
            except ConflictError:
                db.session.rollback()
                results.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=act, args=(cast[who],)) for who in ("prosecutor", "lead")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["conflict", "ok"]


def test_another_office_and_another_police_unit_see_nothing(cast):
    north = create_office()
    stranger = Actor.staff(create_staff(role="prosecutor", office=north))
    report = create_report(status="transferred")
    with pytest.raises(NotFoundError):
        review.add_note(report, "x", actor=stranger, version=report.version, now=later(1))
    with pytest.raises(NotFoundError):
        review.police_acknowledge(report, actor=cast["other_police"], version=report.version, now=later(1))


def test_police_may_take_only_their_own_actions(cast):
    report = create_report(status="reviewing")
    review.transfer(report, police_unit="pcs-001", document_no="2号", contact=None, share_reporter=False, note=None,
                    actor=cast["prosecutor"], version=report.version, now=later(1), deadlines=DEADLINES,
                    outbound=Outbound.of(current_app.config["QZBG"]))
    with pytest.raises(ForbiddenError):
        review.close(report, "other", merge_into=None, note=None, actor=cast["police"], version=report.version,
                     now=later(2))
    review.police_return(report, "不属本所管辖", actor=cast["police"], version=report.version, now=later(3),
                         outbound=Outbound.of(current_app.config["QZBG"]))
    assert report.status == "reviewing"
    with pytest.raises(NotFoundError):  # returned: no longer theirs
        review.police_acknowledge(report, actor=cast["police"], version=report.version, now=later(4))


def test_only_a_lead_assigns_and_only_to_the_offices_prosecutors(cast):
    report = create_report(status="reviewing")
    with pytest.raises(ForbiddenError):
        review.assign(report, "zhao", actor=cast["prosecutor"], version=report.version, now=later(1))
    with pytest.raises(ValidationError):
        review.assign(report, "li.jing", actor=cast["lead"], version=report.version, now=later(1))
    review.assign(report, "wang", actor=cast["lead"], version=report.version, now=later(1))
    assert report.assignee_id == cast["prosecutor"].id


def test_a_duplicate_closes_into_another_report_of_the_office(cast):
    first, second = create_report(status="reviewing"), create_report(status="reviewing")
    with pytest.raises(ValidationError):
        review.close(second, "duplicate", merge_into="QZBG-2026-999999", note=None, actor=cast["prosecutor"],
                     version=second.version, now=later(1))
    review.close(second, "duplicate", merge_into=first.tracking_no, note=None, actor=cast["prosecutor"],
                 version=second.version, now=later(1))
    assert (second.status, second.merged_into_id) == ("closed", first.id)
    review.reopen(second, "并案有误", actor=cast["prosecutor"], version=second.version, now=later(2))
    assert (second.status, second.merged_into_id, second.close_reason) == ("reviewing", None, None)


def test_supervision_starts_only_from_a_decision_not_to_file(cast):
    report = create_report(status="reviewing")
    review.transfer(report, police_unit="pcs-001", document_no="3号", contact=None, share_reporter=False, note=None,
                    actor=cast["prosecutor"], version=report.version, now=later(1), deadlines=DEADLINES,
                    outbound=Outbound.of(current_app.config["QZBG"]))
    review.record_feedback(report, outcome="filed", case_no="A1", decided_at=None, note=None,
                           actor=cast["prosecutor"], version=report.version, now=later(2),
                           outbound=Outbound.of(current_app.config["QZBG"]))
    with pytest.raises(ConflictError):
        review.supervise(report, "?", actor=cast["prosecutor"], version=report.version, now=later(3),
                         deadlines=DEADLINES)


def test_the_reporter_answers_an_open_question_once(cast):
    report = create_report(status="reviewing")
    asked = review.ask_reporter(report, "请补充", actor=cast["prosecutor"], version=report.version, now=later(1))
    reporter = Actor.public()
    answers.record_answer(report, asked.id, "孩子在实验小学", actor=reporter, now=later(2))
    assert db.session.get(Question, asked.id).unseal("answer_data") == "孩子在实验小学"
    with pytest.raises(ConflictError):
        answers.record_answer(report, asked.id, "again", actor=reporter, now=later(3))


def test_a_transfer_to_another_offices_or_an_inactive_police_unit_is_refused_and_changes_nothing(cast):
    north = create_office()
    db.session.add_all([PoliceUnit(code="pcs-far", name="北区派出所", office_id=north.id),
                        PoliceUnit(code="pcs-old", name="已撤销派出所", office_id=1, active=False)])
    report = create_report(status="reviewing")
    version = report.version
    for code in ("pcs-far", "pcs-old"):
        with pytest.raises(ValidationError) as caught:
            review.transfer(report, police_unit=code, document_no="1", contact=None, share_reporter=False, note=None,
                            actor=cast["prosecutor"], version=report.version, now=later(1), deadlines=DEADLINES,
                            outbound=Outbound.of(current_app.config["QZBG"]))
        assert "police_unit" in caught.value.fields
        db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(Report, report.id)
    assert (stored.status, stored.version) == ("reviewing", version)
    assert db.session.scalars(select(Transfer)).all() == []


def test_bad_choices_and_empty_texts_name_their_field(cast):
    report = create_report(status="reviewing")
    p = cast["prosecutor"]
    for call, field in (
        (lambda: review.set_risk(report, "extreme", actor=p, version=report.version, now=later(1)), "risk"),
        (lambda: review.add_note(report, "  ", actor=p, version=report.version, now=later(1)), "note"),
        (lambda: review.refer(report, "army", None, actor=p, version=report.version, now=later(1)), "agency"),
        (lambda: review.transfer(report, police_unit="nope", document_no="1", contact=None, share_reporter=False,
                                 note=None, actor=p, version=report.version, now=later(1), deadlines=DEADLINES,
                                 outbound=Outbound.of(current_app.config["QZBG"])),
         "police_unit"),
    ):
        with pytest.raises(ValidationError) as caught:
            call()
        assert field in caught.value.fields
