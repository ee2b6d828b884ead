"""Who hears what: the duty roster and its defaults, urgent reports on every channel, escalation until somebody
acknowledges, transfers to the police unit, answers and police deadlines to the assigned prosecutor, the digest,
and recipients nobody can reach kept in view."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from flask import current_app
from sqlalchemy import select

from app.core.db import unit_of_work
from app.extensions import db
from app.notify import events, service
from app.notify.models import DutyShift, OutboxMessage
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.reports import answers
from app.reports.models import Report
from app.review import service as review
from tests.factories import create_report
from tests.notify.conftest import channel_settings, staff_member

CST = dt.timezone(dt.timedelta(hours=8))
TUESDAY = dt.datetime(2026, 12, 1, tzinfo=CST)  # a Tuesday


def at(day: dt.datetime, hh: int, mm: int = 0) -> dt.datetime:
    return day.replace(hour=hh, minute=mm).astimezone(dt.UTC)


def queued(kind: str | None = None) -> list[tuple[str, str]]:
    """(username or reason, channel) of the rows queued, of one kind."""
    from app.auth.models import StaffUser

    db.session.expire_all()
    out = []
    for row in db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel != "wechat_subscribe")):
        if kind is not None and row.kind != kind:
            continue
        user = db.session.get(StaffUser, uuid.UUID(row.payload["user_id"])) if row.payload.get("user_id") else None
        out.append((user.username if user else row.payload["reason"], row.channel))
    return sorted(out)


def actor_of(username: str):
    from app.auth.models import StaffUser
    from app.core.actor import Actor

    return Actor.staff(db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one())


def clear() -> None:
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()


@pytest.fixture
def office_app(make_app, wecom, smtp, sms):
    """Every staff channel configured; two prosecutors, a lead, an admin and a police user."""
    app = make_app(**channel_settings(wecom=wecom, smtp=smtp, sms=sms))
    staff_member("pro-a", wecom="ProA", email="a@example.org", mobile="13900000001")
    staff_member("pro-b", email="b@example.org", mobile="13900000002")
    staff_member("lead-c", role="lead", wecom="LeadC", mobile="13900000003")
    staff_member("admin-d", role="admin", email="d@example.org")
    db.session.commit()
    return app


def shift(username: str, weekdays: str, start: str, end: str, channels: str = "email") -> None:
    from app.auth.models import StaffUser

    user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one()
    minutes = [int(t[:2]) * 60 + int(t[3:]) for t in (start, end)]
    db.session.add(DutyShift(office_id=user.office_id, user_id=user.id, weekdays=weekdays, start_minute=minutes[0],
                             end_minute=minutes[1], channels=channels))
    db.session.commit()


def test_without_a_roster_every_prosecutor_and_lead_hears_of_a_new_report_on_their_best_channel(office_app):
    create_report()
    assert queued("new_report") == [("lead-c", "wecom"), ("pro-a", "wecom"), ("pro-b", "email")]


def test_an_urgent_report_goes_at_once_on_every_channel_of_everyone_on_duty(office_app):
    create_report(urgent=True)
    assert queued("new_report") == [
        ("lead-c", "sms"), ("lead-c", "wecom"), ("pro-a", "email"), ("pro-a", "sms"), ("pro-a", "wecom"),
        ("pro-b", "email"), ("pro-b", "sms"),
    ]


def test_the_roster_decides_who_is_on_duty_by_weekday_and_hour_including_nights(office_app):
    shift("pro-a", "01234", "08:30", "17:30", channels="sms")  # weekdays, office hours
    shift("pro-b", "0123456", "17:30", "08:30")  # every night
    create_report(now=at(TUESDAY, 10))
    assert queued() == [("pro-a", "sms")]
    clear()
    create_report(now=at(TUESDAY, 20))
    assert queued() == [("pro-b", "email")]
    clear()
    create_report(now=at(TUESDAY, 3))  # Tuesday 03:00 belongs to Monday night's shift
    assert queued() == [("pro-b", "email")]
    clear()
    create_report(now=at(TUESDAY + dt.timedelta(days=4), 10))  # Saturday morning: nobody but the night ended
    assert queued() == [("lead-c", "wecom")]  # nobody on duty: the leads hear of it


def test_a_roster_channel_that_cannot_work_falls_back_to_one_that_can(office_app):
    shift("pro-b", "0123456", "00:00", "00:00", channels="wecom")  # pro-b has no WeCom account
    create_report()
    assert queued() == [("pro-b", "email")]


def test_an_urgent_report_nobody_acknowledges_is_escalated_to_the_leads_each_period_until_acknowledged(office_app):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    report = create_report(urgent=True, now=start)
    clear()

    def escalate(minutes: int) -> int:
        with unit_of_work():
            return events.run_escalation(start + dt.timedelta(minutes=minutes),
                                         urgent_escalation_minutes=current_app.config["QZBG"].urgent_escalation_minutes,
                                         outbound=Outbound.of(current_app.config["QZBG"]))

    assert escalate(29) == 0
    assert escalate(30) == 1
    assert queued("urgent_escalation") == [("lead-c", "sms"), ("lead-c", "wecom")]
    assert escalate(31) == 0  # the same step is never sent twice
    assert escalate(59) == 0
    assert escalate(60) == 1
    assert len(queued("urgent_escalation")) == 4
    report = db.session.get(Report, report.id)
    review.acknowledge(report, actor=actor_of("pro-a"), version=report.version,
                       now=start + dt.timedelta(minutes=70))
    db.session.commit()
    assert escalate(90) == 0
    assert escalate(240) == 0
    assert len(queued("urgent_escalation")) == 4


def test_the_escalation_period_is_qzbg_urgent_escalation_minutes(make_app, wecom):
    make_app(**channel_settings(wecom=wecom), urgent_escalation_minutes=10)
    staff_member("lead-c", role="lead", wecom="LeadC")
    db.session.commit()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    create_report(urgent=True, now=start)

    def escalate(minutes: int) -> int:
        with unit_of_work():
            return events.run_escalation(start + dt.timedelta(minutes=minutes),
                                         urgent_escalation_minutes=current_app.config["QZBG"].urgent_escalation_minutes,
                                         outbound=Outbound.of(current_app.config["QZBG"]))

    assert escalate(9) == 0
    assert escalate(10) == 1
    assert escalate(19) == 0
    assert escalate(20) == 1
    assert queued("urgent_escalation") == [("lead-c", "wecom"), ("lead-c", "wecom")]


def test_a_worker_that_missed_escalation_steps_sends_only_the_latest(office_app):
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)
    create_report(urgent=True, now=start)
    with unit_of_work():
        sent = events.run_escalation(start + dt.timedelta(minutes=125),
                                     urgent_escalation_minutes=current_app.config["QZBG"].urgent_escalation_minutes,
                                     outbound=Outbound.of(current_app.config["QZBG"]))
        assert sent == 1
    [row, *_] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "urgent_escalation"))
    assert (row.payload["step"], row.payload["minutes"]) == (4, 125)


def police_unit(code: str):
    from app.offices import queries as offices
    from app.offices.models import PoliceUnit

    unit = PoliceUnit(code=code, name="某派出所", office_id=offices.default_office().id)
    db.session.add(unit)
    db.session.flush()
    return unit


def transferred(report: Report, code: str = "pu-ours") -> Report:
    if db.session.scalars(select(PoliceUnit).where(PoliceUnit.code == code)).first() is None:
        police_unit(code)
    review.transfer(report, police_unit=code, document_no="检移〔2026〕1号", contact=None, share_reporter=False,
                    note=None, actor=actor_of("pro-a"), version=report.version,
                    now=dt.datetime.now(dt.UTC), deadlines=review.Deadlines(),
                    outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    return report


def test_a_transfer_is_heard_by_the_police_units_users_only(office_app):
    staff_member("cop-e", role="police", police_unit=police_unit("pu-ours"), wecom="CopE")
    staff_member("cop-f", role="police", police_unit=police_unit("pu-theirs"), wecom="CopF")
    report = create_report(status="reviewing")
    clear()
    transferred(report)
    assert queued("transfer") == [("cop-e", "wecom")]


def test_an_answer_and_a_police_deadline_passed_go_to_the_assigned_prosecutor(office_app):
    from app.auth.models import StaffUser
    from app.reports.records import Question, Transfer

    pro_b = db.session.scalars(select(StaffUser).where(StaffUser.username == "pro-b")).one()
    report = transferred(create_report(status="reviewing"))
    report.assignee_id = pro_b.id
    question = Question(id=uuid.uuid4(), report_id=report.id, asked_at=dt.datetime.now(dt.UTC))
    question.report = report
    question.seal("text_data", "请补充")
    db.session.add(question)
    db.session.commit()
    clear()
    from app.core.actor import Actor

    answers.record_answer(report, question.id, "补充的内容", actor=Actor.public(), now=dt.datetime.now(dt.UTC))
    db.session.commit()
    assert queued("reporter_answered") == [("pro-b", "email")]

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=4)  # past the receipt (24 h) and feedback (72 h) deadlines
    with unit_of_work():
        assert events.run_overdue_reminders(later, outbound=Outbound.of(current_app.config["QZBG"])) == 2
    with unit_of_work():
        assert events.run_overdue_reminders(later + dt.timedelta(hours=1),
                                            outbound=Outbound.of(current_app.config["QZBG"])) == 0
    assert queued("police_receipt_overdue") == [("pro-b", "email")]
    assert queued("police_feedback_overdue") == [("pro-b", "email")]
    transfer = db.session.scalars(select(Transfer)).one()
    assert transfer.acknowledged_at is None


def test_the_daily_digest_goes_once_a_day_to_each_prosecutor_with_something_waiting(office_app):
    create_report()
    clear()
    moment = dt.datetime.now(dt.UTC)
    # The day is China's: the next one starts at 16:00 UTC (a run at 15:58 UTC and one 5 minutes later are two days).
    cst = dt.timezone(dt.timedelta(hours=8))
    next_day = dt.datetime.combine(moment.astimezone(cst).date() + dt.timedelta(days=1), dt.time(), tzinfo=cst)
    with unit_of_work():
        assert events.run_daily_digest(moment, outbound=Outbound.of(current_app.config["QZBG"])) == 3
    with unit_of_work():
        assert events.run_daily_digest(min(moment + dt.timedelta(minutes=5), next_day - dt.timedelta(seconds=1)),
                                       outbound=Outbound.of(current_app.config["QZBG"])) == 0
    assert queued("daily_digest") == [("lead-c", "wecom"), ("pro-a", "wecom"), ("pro-b", "email")]
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "daily_digest")).first()
    assert dict(row.payload["counts"])["unacknowledged"] == 1
    assert row.report_id is None
    with unit_of_work():
        assert events.run_daily_digest(next_day + dt.timedelta(minutes=1),
                                       outbound=Outbound.of(current_app.config["QZBG"])) == 3  # the next day's digest


def test_a_recipient_with_no_working_channel_is_kept_dead_and_listed_and_an_empty_office_too(make_app, smtp):
    make_app(**channel_settings(smtp=smtp))
    staff_member("pro-x", wecom="OnlyWeCom")  # WeCom is not configured here
    report = create_report()
    [row] = db.session.scalars(select(OutboxMessage))
    assert (row.channel, row.state, row.last_error) == ("none", "dead", "no_channel")
    from app.notify import queries

    [listed] = queries.unreachable(report.office_id)
    assert (listed.user.username, listed.tracking_no, listed.reason) == ("pro-x", report.tracking_no, "no_channel")

    from app.offices.models import OfficeDistrict
    from tests.factories import create_office

    empty = create_office("east", "东区人民检察院", ("430399",))
    db.session.commit()
    create_report(district_code="430399")
    assert db.session.get(OfficeDistrict, "430399").office_id == empty.id
    [nobody] = queries.unreachable(empty.id)
    assert nobody.reason == "no_recipient"


def test_training_mode_sends_everything_to_the_sandbox_only(make_app, wecom, smtp, sms):
    from app.notify import worker
    from app.notify.models import SandboxMessage
    from app.notify.registry import channels

    make_app(**channel_settings(wecom=wecom, smtp=smtp, sms=sms), training=True)
    staff_member("pro-a", wecom="ProA", email="a@example.org", mobile="13900000001")
    staff_member("pro-z")  # no address at all: kept in the sandbox as "none"
    db.session.commit()
    assert list(channels(current_app.config["QZBG"])) == ["sandbox"]
    create_report(urgent=True)
    assert Counter(channel for _, channel in queued()) == {"sandbox": 4}
    assert worker.deliver_due(now=dt.datetime.now(dt.UTC)) == {"sent": 4, "retry": 0, "dead": 0}
    kept = db.session.scalars(select(SandboxMessage)).all()
    assert sorted((k.recipient, k.would_be) for k in kept) == [
        ("pro-a", "email"), ("pro-a", "sms"), ("pro-a", "wecom"), ("pro-z", "none")]
    assert (wecom.wecom_sent, sms.sent, smtp.mailbox.received) == ([], [], [])


def test_a_training_report_goes_to_the_sandbox_in_a_real_deployment(office_app):
    report = create_report()
    clear()
    report.training = True  # the column of training reports; set on the object where it does not exist yet
    messages = service.enqueue(service.Kind.NEW_REPORT, report=report, now=dt.datetime.now(dt.UTC),
                               outbound=Outbound.of(current_app.config["QZBG"]))
    assert {m.channel for m in messages} == {"sandbox"}
