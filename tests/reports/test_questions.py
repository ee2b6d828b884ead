"""The office's questions in the reporter's view of the JSON API, and the reporter's answers (补充材料):
``GET /api/v1/reports/<id>`` shows them, ``POST /api/v1/reports/<id>/answers`` answers one, once; files are taken
while a question is open, even after the transfer. Nothing of the office's inside shows, nothing is stored in clear."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid

import pytest
from flask import current_app
from sqlalchemy import update

from app.core.actor import Actor
from app.errors import ConflictError
from app.extensions import db
from app.notify.service import Outbound
from app.offices.models import PoliceUnit
from app.reports import answers
from app.reports.models import Report
from app.reports.records import Question
from app.review import service as review
from tests.factories import create_staff, report_body
from tests.reports.test_attachments import png_bytes
from tests.test_no_plaintext import find_leaks, marker, storage_bytes

DEADLINES = review.Deadlines()
NOTE = "内部意见：报告人可能是亲属"
POLICE_NOTE = "移送事实概要，仅供公安"


@pytest.fixture
def prosecutor(app):
    unit = PoliceUnit(code="pcs-q1", name="城东派出所", office_id=1)
    db.session.add(unit)
    user = create_staff(role="prosecutor", username="wang.q")
    db.session.commit()
    return Actor.staff(user)


@pytest.fixture
def own_report(client, reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert created.status_code == 201
    return db.session.get(Report, uuid.UUID(created.json["id"]))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def acknowledge(report, actor) -> None:
    review.acknowledge(report, actor=actor, version=report.version, now=now())
    db.session.commit()


def ask(report, actor, text="请补充孩子就读的学校") -> Question:
    asked = review.ask_reporter(report, text, actor=actor, version=report.version, now=now())
    db.session.commit()
    return asked


def transfer(report, actor) -> None:
    review.transfer(report, police_unit="pcs-q1", document_no="X检未移〔2026〕7号", contact="刘警官 13900000000",
                    share_reporter=False, note=POLICE_NOTE, actor=actor, version=report.version, now=now(),
                    deadlines=DEADLINES, outbound=Outbound.of(current_app.config["QZBG"]))
    db.session.commit()


def post_answer(client, reporter, report, question_id, text="孩子在实验小学三年级"):
    return client.post(f"/api/v1/reports/{report.id}/answers", json={"question_id": str(question_id), "text": text},
                       headers=reporter.headers)


def upload(client, reporter, report):
    return client.post(
        f"/api/v1/reports/{report.id}/attachments", data={"file": (io.BytesIO(png_bytes()), "补充.png", "image/png")},
        headers=reporter.headers, content_type="multipart/form-data",
    )


def detail(client, reporter, report) -> dict:
    response = client.get(f"/api/v1/reports/{report.id}", headers=reporter.headers)
    assert response.status_code == 200
    return response.json


def test_the_reporter_sees_the_questions_asked_and_nothing_internal(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    review.add_note(own_report, NOTE, actor=prosecutor, version=own_report.version, now=now())
    first = ask(own_report, prosecutor, "请补充孩子就读的学校")
    transfer(own_report, prosecutor)
    second = ask(own_report, prosecutor, "请问孩子现在是否安全？")

    view = detail(client, reporter, own_report)

    # CONTRACT.md's fields, and the files that came with each answer (issue 16: answers with photos)
    fields = {"id", "asked_at", "text", "answered_at", "answer", "attachments"}
    assert [set(q) for q in view["questions"]] == [fields] * 2
    assert [(q["id"], q["text"], q["answered_at"], q["answer"]) for q in view["questions"]] == [
        (str(first.id), "请补充孩子就读的学校", None, None), (str(second.id), "请问孩子现在是否安全？", None, None),
    ]
    assert dt.datetime.fromisoformat(view["questions"][0]["asked_at"]).tzinfo is not None
    # The reporter-visible statuses only: a question, a note or a police receipt adds no step.
    assert [t["status"] for t in view["timeline"]] == ["submitted", "received", "transferred"]
    text = json.dumps(view, ensure_ascii=False)
    for internal in (NOTE, POLICE_NOTE, "X检未移", "刘警官", "城东派出所", "pcs-q1", "wang.q", "reviewing"):
        assert internal not in text


def test_an_open_question_is_answered_once(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    asked = ask(own_report, prosecutor)

    answered = post_answer(client, reporter, own_report, asked.id, "孩子在实验小学\n三年级二班")
    again = post_answer(client, reporter, own_report, asked.id, "再答一次")

    assert answered.status_code == 201, answered.json
    assert set(answered.json) == {"id", "question_id", "answered_at"}
    assert answered.json["id"] == answered.json["question_id"] == str(asked.id)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "conflict"
    db.session.expire_all()
    stored = db.session.get(Question, asked.id)
    assert stored.unseal("answer_data") == "孩子在实验小学\n三年级二班"
    shown = detail(client, reporter, own_report)["questions"][0]
    assert (shown["answer"], shown["answered_at"] is not None) == ("孩子在实验小学\n三年级二班", True)
    assert dt.datetime.fromisoformat(shown["answered_at"]) == dt.datetime.fromisoformat(answered.json["answered_at"])
    assert [t["status"] for t in detail(client, reporter, own_report)["timeline"]] == ["submitted", "received"]


def test_someone_elses_report_is_not_found_and_its_question_stays_open(
    client, reporter, other_reporter, own_report, prosecutor
):
    asked = ask(own_report, prosecutor)

    theirs = post_answer(client, other_reporter, own_report, asked.id)
    nowhere = client.post(f"/api/v1/reports/{uuid.uuid4()}/answers",
                          json={"question_id": str(asked.id), "text": "答复"}, headers=other_reporter.headers)

    assert (theirs.status_code, nowhere.status_code) == (404, 404)
    assert theirs.json["error"]["message"] == nowhere.json["error"]["message"]
    db.session.expire_all()
    assert db.session.get(Question, asked.id).answered_at is None


def test_an_unknown_question_or_one_of_another_report_is_refused_on_question_id(
    client, reporter, own_report, prosecutor
):
    other = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers).json
    elsewhere = ask(db.session.get(Report, uuid.UUID(other["id"])), prosecutor)

    for question_id in (uuid.uuid4(), elsewhere.id):
        response = post_answer(client, reporter, own_report, question_id)
        assert response.status_code == 422
        assert list(response.json["error"]["fields"]) == ["question_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"text": "答复"}, "question_id", id="no-question-id"),
        pytest.param({"question_id": "q-1", "text": "答复"}, "question_id", id="question-id-not-uuid"),
        pytest.param({"question_id": None, "text": "答复"}, "question_id", id="question-id-null"),
        pytest.param({"text": ""}, "text", id="empty-text"),
        pytest.param({"text": " \u200b\x00\n"}, "text", id="text-only-invisible"),
        pytest.param({"text": "字" * 5001}, "text", id="text-5001-chars"),
        pytest.param({"text": 42}, "text", id="text-a-number"),
        pytest.param({"text": "答复", "files": []}, "files", id="unknown-field"),
    ],
)
def test_an_answer_is_checked_before_anything_is_stored(client, reporter, own_report, prosecutor, body, field):
    asked = ask(own_report, prosecutor)
    sent = body if field == "question_id" else {"question_id": str(asked.id), **body}

    response = client.post(f"/api/v1/reports/{own_report.id}/answers", json=sent, headers=reporter.headers)

    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    db.session.expire_all()
    assert db.session.get(Question, asked.id).answered_at is None


def test_an_answer_of_5000_characters_is_taken_and_one_not_json_is_415(client, reporter, own_report, prosecutor):
    asked = ask(own_report, prosecutor)
    form = client.post(f"/api/v1/reports/{own_report.id}/answers", data={"question_id": str(asked.id), "text": "x"},
                       headers=reporter.headers)
    longest = post_answer(client, reporter, own_report, asked.id, "字" * 5000)
    assert form.status_code == 415
    assert longest.status_code == 201


def test_a_closed_report_takes_no_answer(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    asked = ask(own_report, prosecutor)
    review.close(own_report, "insufficient", merge_into=None, note=None, actor=prosecutor,
                 version=own_report.version, now=now())
    db.session.commit()

    response = post_answer(client, reporter, own_report, asked.id)

    assert response.status_code == 409
    assert response.json["error"]["message"] == "该报告已办结，无需再回复"


def test_a_staff_change_between_the_read_and_the_answer_asks_the_reporter_to_send_it_again(
    reporter, own_report, prosecutor
):
    asked = ask(own_report, prosecutor)
    report = db.session.get(Report, own_report.id)
    table = Report.__table__
    # Someone else's write in between: the row's version moves on, the loaded report does not know.
    db.session.execute(update(table).where(table.c.id == report.id).values(version=table.c.version + 1))

    with pytest.raises(ConflictError) as refused:
        answers.answer(report, asked.id, "实验小学", actor=Actor.reporter(reporter.id), now=now())

    assert refused.value.message == answers.CHANGED
    db.session.rollback()


def test_files_are_taken_after_the_transfer_while_a_question_is_open(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    transfer(own_report, prosecutor)
    refused_before = upload(client, reporter, own_report)
    asked = ask(own_report, prosecutor)

    taken = upload(client, reporter, own_report)
    post_answer(client, reporter, own_report, asked.id)
    refused_after = upload(client, reporter, own_report)

    assert refused_before.status_code == 409
    assert taken.status_code == 201, taken.json
    assert refused_after.status_code == 409
    assert [a["filename"] for a in detail(client, reporter, own_report)["attachments"]] == ["补充.png"]


def test_a_closed_report_takes_no_file_even_with_a_question_open(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    ask(own_report, prosecutor)
    review.close(own_report, "insufficient", merge_into=None, note=None, actor=prosecutor,
                 version=own_report.version, now=now())
    db.session.commit()

    assert upload(client, reporter, own_report).status_code == 409


def test_answers_and_questions_are_never_stored_or_logged_in_clear(
    app, client, reporter, own_report, prosecutor, backend_name, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    question_marker, answer_marker = marker("问题"), marker("回复")
    asked = ask(own_report, prosecutor, f"请补充：{question_marker}")
    assert post_answer(client, reporter, own_report, asked.id, f"补充如下：{answer_marker}").status_code == 201
    assert detail(client, reporter, own_report)["questions"][0]["answer"] == f"补充如下：{answer_marker}"

    db.session.remove()
    db.engine.dispose()  # SQLite: make sure nothing sits only in a connection
    out, err = capfd.readouterr()
    logs = "\n".join(logging.Formatter("%(message)s %(args)s").format(r) + repr(r.__dict__) for r in caplog.records)
    haystacks = {"database": storage_bytes(app, backend_name), "logs": (logs + out + err).encode("utf-8")}
    assert find_leaks(haystacks, [question_marker, answer_marker]) == []


def test_an_answer_and_the_view_with_questions_answer_as_the_document_says(app, reporter, own_report, prosecutor):
    from tests.test_openapi_fuzz import load_schema

    asked = ask(own_report, prosecutor)
    schema = load_schema(app)
    answering = schema["/api/v1/reports/{report_id}/answers"]["POST"].Case(
        path_parameters={"report_id": str(own_report.id)}, body={"question_id": str(asked.id), "text": "实验小学"},
        headers=reporter.headers,
    )
    assert answering.call_and_validate().status_code == 201
    reading = schema["/api/v1/reports/{report_id}"]["GET"].Case(
        path_parameters={"report_id": str(own_report.id)}, headers=reporter.headers,
    )
    assert reading.call_and_validate().json()["questions"][0]["answer"] == "实验小学"
