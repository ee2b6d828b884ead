"""No personal data in any notification: a report whose every personal field (and unit, police unit, staff
names, notes, answers) holds a marker string goes through every kind of staff message on every staff channel
(WeCom, e-mail, SMS, the sandbox), and its reporter's status messages through the mini-program's subscribe
channel; the bytes the fakes received (WeCom's and WeChat's JSON, Tencent's signed JSON, the SMTP server's
messages, decoded) and the sandbox's records contain the tracking number and none of the markers, nor a
category's label or code."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from email import message_from_bytes, policy

from flask import current_app
from sqlalchemy import select

from app.core.actor import Actor
from app.core.db import unit_of_work
from app.crypto.vault import get_vault
from app.extensions import db
from app.notify import events, worker
from app.notify.models import STAFF_CHANNELS, OutboxMessage
from app.notify.sandbox import SandboxChannel
from app.notify.service import Kind, Outbound, queue
from app.offices import queries as offices
from app.offices.models import PoliceUnit
from app.reporters import subscriptions
from app.reporters.models import Reporter
from app.reports import answers
from app.reports.constants import CATEGORIES, CATEGORY_SHORT
from app.review import service as review
from tests.factories import create_unit, report_body, valid_id_number
from tests.notify.conftest import channel_settings, staff_member
from tests.wechat.conftest import TEMPLATE, wechat_settings

ID_NUMBER = valid_id_number(dt.date(2015, 3, 9), serial="417")
MARKERS = {
    "reporter.name": "MKRREPNAME", "reporter.phone": "13812345670", "reporter.position": "MKRPOSITION",
    "victim.name": "MKRVICNAME", "victim.id_number": ID_NUMBER, "victim.address": "MKRADDRESS",
    "victim.guardian_name": "MKRGUARDIAN", "victim.guardian_phone": "13812345671",
    "incident.location": "MKRLOCATION", "incident.description": "MKRDESCRIPTION 接诊时发现多处淤伤。",
    "suspect.name": "MKRSUSPECT", "suspect.relation": "MKRRELATION", "suspect.description": "MKRSUSDESC",
    "police.station": "MKRSTATION", "unit.name": "MKRUNITNAME", "police_unit.name": "MKRPOLICEUNIT",
    "staff.name": "MKRSTAFFNAME", "answer": "MKRANSWER", "question": "MKRQUESTION", "return": "MKRRETURN",
    "transfer.contact": "MKRCONTACT", "transfer.note": "MKRTRANSFERNOTE", "transfer.document_no": "MKRDOCNO",
}
GRANTS = 10  # subscribe-message grants of the reporter: more than the report's reporter-visible changes
STAFF_KINDS = {k.value for k in Kind} - {Kind.REPORTER_STATUS_CHANGED.value}


def _json_text(body: bytes) -> str:
    """A JSON body as text, with ``\\uXXXX`` escapes undone (the SMS SDK escapes every non-ASCII character)."""
    try:
        return json.dumps(json.loads(body), ensure_ascii=False) + body.decode("utf-8", "replace")
    except ValueError:
        return body.decode("utf-8", "replace")


def _mail_text(raw: bytes) -> str:
    """Every header and every part of a message, decoded (quoted-printable and base64 undone)."""
    message = message_from_bytes(raw, policy=policy.default)
    parts = [f"{k}: {v}" for k, v in message.items()]
    parts += [str(part.get_content()) for part in message.walk() if not part.is_multipart()]
    return raw.decode("utf-8", "replace") + "\n".join(parts)


def submitted(*, unit, now, account, **sections):
    """Through ``reports.service.submit`` like ``create_report``, by the mini-program reporter ``account``."""
    from app.reports import service
    from app.reports.schemas import ReportBody

    body = report_body(unit_id=unit.id, **sections)
    data = ReportBody().load({k: v for k, v in body.items() if k != "client_id"})
    report = service.submit(data, actor=Actor.reporter(account.id), reporter=account, client_key=f"test:{uuid.uuid4()}",
                            now=now, vault=get_vault(),
                            ack_deadlines=service.AckDeadlines.from_settings(current_app.config["QZBG"])).report
    db.session.commit()
    return report


def test_every_message_kind_on_every_channel_carries_no_personal_data(make_app, wecom, smtp, sms):
    app = make_app(**channel_settings(wecom=wecom, smtp=smtp, sms=sms), **wechat_settings(wecom))
    # A mini-program reporter who granted a status message for each change, so the reporter's channel is searched too.
    login = app.test_client().post("/api/v1/auth/wechat", json={"code": "dev-markers"}).get_json()
    reporter_id = uuid.UUID(login["reporter"]["id"])
    for _ in range(GRANTS):
        subscriptions.record_grants(reporter_id, [TEMPLATE], now=dt.datetime.now(dt.UTC))
    wecom.grant("o-dev-markers", TEMPLATE, count=GRANTS)
    unit = create_unit(name=MARKERS["unit.name"])
    police = PoliceUnit(code="pu-markers", name=MARKERS["police_unit.name"], office_id=offices.default_office().id)
    db.session.add(police)
    db.session.flush()
    everyone = {"wecom": None, "email": None, "mobile": None}
    for username, role in (("pro-m", "prosecutor"), ("lead-m", "lead")):
        everyone.update(wecom=f"{username}-wx", email=f"{username}@example.org", mobile="13900000009")
        staff_member(username, role=role, display_name=MARKERS["staff.name"], **everyone)
    cop = staff_member("cop-m", role="police", police_unit=police, display_name=MARKERS["staff.name"], wecom="cop-wx",
                email="cop@example.org", mobile="13900000008")
    db.session.commit()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    report = submitted(
        unit=unit, now=start, account=db.session.get(Reporter, reporter_id), urgent=True,
        categories=["sexual_assault_under_14", "genital_injury"],
        reporter={"name": MARKERS["reporter.name"], "phone": MARKERS["reporter.phone"],
                  "position": MARKERS["reporter.position"]},
        victim={"name": MARKERS["victim.name"], "id_number": ID_NUMBER, "age": None,
                "address": MARKERS["victim.address"], "guardian_name": MARKERS["victim.guardian_name"],
                "guardian_phone": MARKERS["victim.guardian_phone"]},
        incident={"location": MARKERS["incident.location"], "description": MARKERS["incident.description"]},
        suspect={"name": MARKERS["suspect.name"], "relation": MARKERS["suspect.relation"],
                 "description": MARKERS["suspect.description"]},
        police={"notified": True, "station": MARKERS["police.station"]},
    )
    prosecutor = Actor.staff(db.session.scalars(
        select(type(cop)).where(type(cop).username == "pro-m")).one())
    with unit_of_work():
        events.run_escalation(start + dt.timedelta(minutes=31),
                              urgent_escalation_minutes=current_app.config["QZBG"].urgent_escalation_minutes,
                              outbound=Outbound.of(current_app.config["QZBG"]))
    moment = dt.datetime.now(dt.UTC)
    review.acknowledge(report, actor=prosecutor, version=report.version, now=moment)
    review.transfer(report, police_unit="pu-markers", document_no=MARKERS["transfer.document_no"],
                    contact=MARKERS["transfer.contact"], share_reporter=True, note=MARKERS["transfer.note"],
                    actor=prosecutor, version=report.version,
                    now=moment, deadlines=review.Deadlines(), outbound=Outbound.of(current_app.config["QZBG"]))
    question = review.ask_reporter(report, MARKERS["question"], actor=prosecutor, version=report.version, now=moment)
    db.session.commit()
    with unit_of_work():
        events.run_overdue_reminders(moment + dt.timedelta(days=4), outbound=Outbound.of(current_app.config["QZBG"]))
    answers.record_answer(report, question.id, MARKERS["answer"], actor=Actor.public(), now=moment)
    review.police_return(report, MARKERS["return"], actor=Actor.staff(cop), version=report.version, now=moment,
                         outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()
    with unit_of_work():
        events.run_daily_digest(moment, outbound=Outbound.of(current_app.config["QZBG"]))

    rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel != "wechat_subscribe")))
    assert {row.kind for row in rows} == STAFF_KINDS
    # Only urgent ones go on every channel; the others on the best one (WeCom). Each kind goes on the other
    # channels too, the same message to the same person, so that every kind is rendered on every channel.
    queued = {(row.kind, row.channel) for row in rows}
    for kind in sorted(STAFF_KINDS):
        first = next(row for row in rows if row.kind == kind)
        for channel in STAFF_CHANNELS:
            if (kind, channel) not in queued:
                queue(channel, kind, now=moment, payload=dict(first.payload), report_id=first.report_id)
    db.session.commit()
    rows = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel != "wechat_subscribe")))
    assert {(row.kind, row.channel) for row in rows} == {(k, c) for k in STAFF_KINDS for c in STAFF_CHANNELS}
    # The sandbox renders each of them as it would have gone out.
    kept = []
    for row in rows:
        row.payload = {**row.payload, "would_be": row.channel}
        item = SandboxChannel(current_app.config["QZBG"].public_url).prepare(row)
        kept.append(f"{item.title}\n{item.body}")
    db.session.rollback()
    statuses = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.channel == "wechat_subscribe")).all()
    assert set(statuses) == {Kind.REPORTER_STATUS_CHANGED.value}
    assert len(statuses) < GRANTS
    counts = worker.deliver_due(now=moment + dt.timedelta(days=5), limit=1000)
    assert counts == {"sent": len(rows) + len(statuses), "retry": 0, "dead": 0}

    received = {
        "wecom": "\n".join(_json_text(c.body) + json.dumps(c.query, ensure_ascii=False) for c in wecom.calls
                           if c.path.startswith("/cgi-bin/message/send")),
        "wechat_subscribe": "\n".join(_json_text(c.body) for c in wecom.calls
                                      if c.path == "/cgi-bin/message/subscribe/send"),
        "sms": "\n".join(_json_text(body) for body in sms.requests),
        "email": "\n".join(_mail_text(raw) for raw in smtp.mailbox.raw),
        "sandbox": "\n".join(kept),
    }
    forbidden = [*MARKERS.values(), "13812345670"[3:], ID_NUMBER[-8:], "sexual_assault", "genital_injury",
                 CATEGORY_SHORT["sexual_assault_under_14"], CATEGORIES["sexual_assault_under_14"],
                 CATEGORY_SHORT["genital_injury"], "性侵", "市妇幼"]
    for channel, text in received.items():
        assert report.tracking_no in text, channel
        found = [marker for marker in forbidden if marker in text]
        assert found == [], channel
    assert len(smtp.mailbox.raw) == len([r for r in rows if r.channel == "email"])
    assert uuid.UUID(str(rows[0].id))
