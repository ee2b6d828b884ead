"""Answers that carry photos (issue 16): files uploaded while a question is open go with the answer that names them
(``attachment_ids`` in the API, the file field of the status page's answer form), and the reporter's view lists
them under the question. A file of another report, one uploaded before the question, or one already sent with an
answer is refused in zh-CN, and nothing of the answer is stored."""

from __future__ import annotations

import io
import uuid

import pytest

from app.core.actor import Actor
from app.extensions import db
from app.reports.answers import NOT_FOR_ANSWER
from app.reports.models import Attachment, Report
from tests.factories import create_staff, report_body
from tests.reports.test_attachments import png_bytes
from tests.reports.test_questions import acknowledge, ask
from tests.reports.test_web import parse
from tests.reports.test_web_answers import answer_form, known_report, look_up
from tests.reports.test_web_answers import stored as stored_question


@pytest.fixture
def prosecutor(app):
    user = create_staff(role="prosecutor", username="zhao.a")
    db.session.commit()
    return Actor.staff(user)


@pytest.fixture
def own_report(client, reporter):
    created = client.post("/api/v1/reports", json=report_body(), headers=reporter.headers)
    assert created.status_code == 201
    return db.session.get(Report, uuid.UUID(created.json["id"]))


def upload(client, reporter, report, name="补充.png"):
    response = client.post(f"/api/v1/reports/{report.id}/attachments", headers=reporter.headers,
                           data={"file": (io.BytesIO(png_bytes()), name)}, content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return response.json["id"]


def answer(client, reporter, report, question, ids):
    return client.post(f"/api/v1/reports/{report.id}/answers", headers=reporter.headers,
                       json={"question_id": str(question.id), "text": "照片已附上", "attachment_ids": ids})


def test_an_answer_names_the_photos_uploaded_for_it_and_the_view_lists_them(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    question = ask(own_report, prosecutor, "请补充伤情照片")
    photo = upload(client, reporter, own_report, "伤情.png")

    response = answer(client, reporter, own_report, question, [photo])

    assert response.status_code == 201, response.json
    view = client.get(f"/api/v1/reports/{own_report.id}", headers=reporter.headers).json
    [asked] = view["questions"]
    assert asked["answer"] == "照片已附上"
    assert [(a["id"], a["filename"]) for a in asked["attachments"]] == [(photo, "伤情.png")]
    assert db.session.get(Attachment, uuid.UUID(photo)).question_id == question.id


def test_an_answer_without_files_still_works_as_before(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    question = ask(own_report, prosecutor)
    response = client.post(f"/api/v1/reports/{own_report.id}/answers", headers=reporter.headers,
                           json={"question_id": str(question.id), "text": "在实验小学"})
    assert response.status_code == 201
    view = client.get(f"/api/v1/reports/{own_report.id}", headers=reporter.headers).json
    assert view["questions"][0]["attachments"] == []


def test_a_file_sent_with_the_report_cannot_be_passed_off_as_an_answer(client, reporter, own_report, prosecutor):
    earlier = upload(client, reporter, own_report)  # before any question
    acknowledge(own_report, prosecutor)
    question = ask(own_report, prosecutor)

    response = answer(client, reporter, own_report, question, [earlier])

    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"attachment_ids": [NOT_FOR_ANSWER]}
    assert stored_question(question).answered_at is None
    assert db.session.get(Attachment, uuid.UUID(earlier)).question_id is None


def test_a_file_of_another_report_or_an_unknown_id_is_refused(client, reporter, own_report, prosecutor):
    acknowledge(own_report, prosecutor)
    question = ask(own_report, prosecutor)
    for ids in ([str(uuid.uuid4())], ["not-a-uuid"], [str(uuid.uuid4())] * 2, [str(uuid.uuid4()) for _ in range(10)]):
        response = answer(client, reporter, own_report, question, ids)
        assert response.status_code == 422, ids
        assert [key.split(".")[0] for key in response.json["error"]["fields"]] == ["attachment_ids"], ids
    assert stored_question(question).answered_at is None


def test_the_status_page_answer_form_takes_photos(client, prosecutor):
    report = known_report("reviewing")
    question = ask(report, prosecutor, "请补充伤情照片")
    page = parse(look_up(client, report).text)
    form = answer_form(page, question)
    assert page.find("li", data_question_id=str(question.id)).find("form").attrs["enctype"] == "multipart/form-data"

    response = client.post("/report/status", content_type="multipart/form-data", data={
        **form, "text": "照片已附上",
        "files": [(io.BytesIO(png_bytes()), "伤情.png"), (io.BytesIO(png_bytes()), "2.png")],
    })

    assert response.status_code == 200
    answered = parse(response.text).find("li", data_question_id=str(question.id))
    assert answered.find(data_field="answer_attachments").text() == "随回复提交的附件 2 个"
    files = db.session.query(Attachment).filter_by(question_id=question.id).all()
    assert len(files) == 2
    assert stored_question(question).answered_at is not None


def test_a_refused_file_on_the_status_page_stores_nothing_and_says_why_beside_the_field(client, prosecutor):
    report = known_report("reviewing")
    question = ask(report, prosecutor, "请补充伤情照片")
    form = answer_form(parse(look_up(client, report).text), question)

    response = client.post("/report/status", content_type="multipart/form-data", data={
        **form, "text": "见附件", "files": [(io.BytesIO(b"#!/bin/sh\necho hello\n"), "run.sh")],
    })

    assert response.status_code == 422
    item = parse(response.text).find("li", data_question_id=str(question.id))
    assert item.find(data_error_for="files").text()
    assert item.find("textarea").text() == "见附件"
    db.session.expire_all()
    assert db.session.query(Attachment).filter_by(report_id=report.id).count() == 0
    assert stored_question(question).answered_at is None


def test_the_staff_report_page_says_which_files_came_with_which_answer(app, client, reporter, own_report, prosecutor):
    from tests.auth.conftest import login
    from tests.factories import create_staff as staff

    acknowledge(own_report, prosecutor)
    question = ask(own_report, prosecutor, "请补充伤情照片")
    photo = upload(client, reporter, own_report, "补充伤情.png")
    assert answer(client, reporter, own_report, question, [photo]).status_code == 201
    reader = staff(role="prosecutor", username="qian.b")
    db.session.commit()
    desk = app.test_client()
    assert login(desk, reader).status_code == 303
    page = desk.get(f"/review/reports/{own_report.id}").get_data(as_text=True)
    answered = page.split("data-answer-files")[1].split("</p>")[0]
    assert f'data-answer-file="{photo}"' in answered
    assert "补充伤情.png" in answered
    assert "随补充回答提交" in page
