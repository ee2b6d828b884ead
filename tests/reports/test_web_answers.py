"""The web status page (``/report/status``) shows the office's questions and takes the answers (补充材料), for
whoever just opened it with the tracking number and 查询码; errors beside the field, CSRF and the look-up limit."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from flask import g
from flask.testing import FlaskClient

from app.core.actor import Actor
from app.extensions import db
from app.reports import answers, service
from app.reports.answers import VIEW_TTL
from app.reports.models import Report
from app.reports.records import Question
from app.review import service as review
from tests.factories import create_report, create_staff
from tests.reports.test_web import Node, parse

CODE = "ABCDEFGH23"
NOTE = "内部意见：需核实监护情况"
LOOKUP_AGAIN = "页面已过期，请重新输入查询号和查询码"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def prosecutor(app):
    user = create_staff(role="prosecutor", username="li.w")
    db.session.commit()
    return Actor.staff(user)


def known_report(status: str = "new") -> Report:
    """A web-form report whose 查询码 the test knows."""
    report = create_report(status=status, commit=False)
    report.status_code_hash = service._hasher.hash(CODE)
    db.session.commit()
    return report


def ask(report: Report, actor: Actor, text: str) -> Question:
    asked = review.ask_reporter(report, text, actor=actor, version=report.version, now=now())
    db.session.commit()
    return asked


def look_up(client: FlaskClient, report: Report, code: str = CODE):
    token = parse(client.get("/report/status").text).find("input", name="csrf_token").attrs["value"]
    return client.post("/report/status", data={"csrf_token": token, "tracking_no": report.tracking_no,
                                               "status_code": code})


def answer_form(page: Node, question: Question) -> dict[str, str]:
    """The named fields of the question's answer form, as the page rendered them."""
    item = page.find("li", data_question_id=str(question.id))
    form = item.find("form")
    return {n.attrs["name"]: n.attrs.get("value", n.text()) for n in form.iter() if "name" in n.attrs}


def answer(client: FlaskClient, page: Node, question: Question, text: str):
    return client.post("/report/status", data={**answer_form(page, question), "text": text})


def stored(question: Question) -> Question:
    db.session.expire_all()
    return db.session.get(Question, question.id)


def test_the_status_page_shows_open_questions_with_a_form_and_answered_ones_with_their_answer(client, prosecutor):
    report = known_report("reviewing")
    review.add_note(report, NOTE, actor=prosecutor, version=report.version, now=now())
    done = ask(report, prosecutor, "孩子现在和谁一起住？")
    answers.record_answer(report, done.id, "和外婆住", actor=Actor.public(), now=now())
    db.session.commit()
    waiting = ask(report, prosecutor, "请补充孩子就读的学校")

    response = look_up(client, report)

    assert response.status_code == 200
    page = parse(response.text)
    answered = page.find("li", data_question_id=str(done.id))
    assert "孩子现在和谁一起住？" in answered.text()
    assert answered.find(data_field="answer").text() == "和外婆住"
    assert answered.find_all("form") == []
    assert "请补充孩子就读的学校" in page.find("li", data_question_id=str(waiting.id)).text()
    form = page.find("li", data_question_id=str(waiting.id)).find("form")
    assert (form.attrs["method"], form.attrs["action"]) == ("post", "/report/status")
    assert set(answer_form(page, waiting)) == {"csrf_token", "question_id", "text", "files"}
    assert answer_form(page, waiting)["question_id"] == str(waiting.id)
    assert NOTE not in response.text
    timeline = next(n for n in page.find_all("ol") if n.attrs.get("class") == "timeline")
    assert [li.text().split()[-1] for li in timeline.find_all("li")] == ["已提交", "已受理"]


def test_a_report_without_questions_shows_no_question_section(client):
    report = known_report()
    page = parse(look_up(client, report).text)
    assert [n for n in page.find_all("li") if n.attrs.get("class") == "question"] == []
    assert page.find_all("form") == []


def test_answering_on_the_status_page_stores_the_answer_and_shows_the_page_with_thanks(client, prosecutor):
    report = known_report("reviewing")
    asked = ask(report, prosecutor, "请补充孩子就读的学校")
    page = parse(look_up(client, report).text)

    response = answer(client, page, asked, "  实验小学\r\n三年级  ")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    shown = parse(response.text)
    assert shown.find(data_field="answer_thanks").text().startswith("感谢您的补充")
    item = shown.find("li", data_question_id=str(asked.id))
    assert item.find(data_field="answer").text() == "实验小学\n三年级"
    assert item.find_all("form") == []
    assert stored(asked).unseal("answer_data") == "实验小学\n三年级"
    events = db.session.get(Report, report.id).events
    assert [e.actor for e in events if e.action == "answer"] == ["channel:web"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(" \u200b ", "此项必填", id="blank"),
        pytest.param("字" * 5001, "不能超过 5000 个字", id="5001-chars"),
    ],
)
def test_a_refused_answer_is_shown_beside_its_field_with_the_text_kept(client, prosecutor, text, message):
    report = known_report("reviewing")
    other = ask(report, prosecutor, "第一个问题")
    asked = ask(report, prosecutor, "第二个问题")
    page = parse(look_up(client, report).text)

    response = answer(client, page, asked, text)

    assert response.status_code == 422
    shown = parse(response.text)
    field = shown.find("li", data_question_id=str(asked.id)).find(data_error_for="text")
    assert field.text() == message
    area = shown.find("textarea", id=f"f-text-{asked.id}")
    assert area.attrs["aria-invalid"] == "true"
    assert field.attrs["id"] in area.attrs["aria-describedby"].split()
    assert area.text() == text.strip()
    assert shown.find("li", data_question_id=str(other.id)).find_all(data_error_for="text") == []
    assert stored(asked).answered_at is None


def test_an_answer_given_twice_is_shown_as_answered_the_second_time(client, prosecutor):
    report = known_report("reviewing")
    asked = ask(report, prosecutor, "请补充孩子就读的学校")
    page = parse(look_up(client, report).text)

    first = answer(client, page, asked, "实验小学")
    second = answer(client, page, asked, "另一所学校")  # a second tab, or the back button

    assert (first.status_code, second.status_code) == (200, 409)
    assert parse(second.text).find(data_field="answer_notice").text() == "该问题已回答"
    assert stored(asked).unseal("answer_data") == "实验小学"


def test_a_closed_report_shows_its_open_question_without_a_form(client, prosecutor):
    report = known_report("reviewing")
    asked = ask(report, prosecutor, "请补充孩子就读的学校")
    page = parse(look_up(client, report).text)
    review.close(report, "insufficient", merge_into=None, note=None, actor=prosecutor, version=report.version,
                 now=now())
    db.session.commit()

    late = answer(client, page, asked, "实验小学")
    again = parse(look_up(client, report).text)

    assert late.status_code == 409
    assert parse(late.text).find(data_field="answer_notice").text() == "该报告已办结，无需再回复"
    assert again.find("li", data_question_id=str(asked.id)).find_all("form") == []
    assert stored(asked).answered_at is None


def test_an_answer_needs_a_look_up_of_that_report_in_this_browser(app, client, prosecutor):
    report, elsewhere = known_report("reviewing"), known_report("reviewing")
    asked, theirs = ask(report, prosecutor, "问题一"), ask(elsewhere, prosecutor, "问题二")
    page = parse(look_up(client, report).text)
    stranger = app.test_client()
    g.pop("csrf_token", None)  # Flask-WTF caches the token in g, which the test's app context keeps
    token = parse(stranger.get("/report/status").text).find("input", name="csrf_token").attrs["value"]

    no_look_up = stranger.post("/report/status", data={"csrf_token": token, "question_id": str(asked.id),
                                                       "text": "冒充回复"})
    other_report = client.post("/report/status", data={**answer_form(page, asked), "question_id": str(theirs.id)})
    unknown = client.post("/report/status", data={**answer_form(page, asked), "question_id": "not-a-question"})

    for refused in (no_look_up, other_report, unknown):
        assert refused.status_code == 400
        assert LOOKUP_AGAIN in refused.text
        assert parse(refused.text).find("input", name="tracking_no")
    assert stored(asked).answered_at is None
    assert stored(theirs).answered_at is None


def test_the_look_up_proof_expires(client, prosecutor, monkeypatch):
    report = known_report("reviewing")
    asked = ask(report, prosecutor, "请补充孩子就读的学校")
    page = parse(look_up(client, report).text)
    later = time.time() + VIEW_TTL + 60
    monkeypatch.setattr(time, "time", lambda: later)  # Fernet reads the clock through time.time

    response = answer(client, page, asked, "实验小学")

    assert response.status_code == 400
    assert LOOKUP_AGAIN in response.text
    assert stored(asked).answered_at is None


def test_the_answer_form_needs_its_csrf_token(client, prosecutor):
    report = known_report("reviewing")
    asked = ask(report, prosecutor, "请补充孩子就读的学校")
    page = parse(look_up(client, report).text)
    fields = {k: v for k, v in answer_form(page, asked).items() if k != "csrf_token"}

    missing = client.post("/report/status", data={**fields, "text": "实验小学"})
    wrong = client.post("/report/status", data={**fields, "text": "实验小学", "csrf_token": "forged"})

    assert (missing.status_code, wrong.status_code) == (400, 400)
    assert stored(asked).answered_at is None


def test_answers_count_against_the_look_up_limit(make_app):
    app = make_app(lookup_rate_limit="3 per minute")
    client = app.test_client()
    report = known_report("reviewing")
    user = create_staff(role="prosecutor", username="li.limit")
    db.session.commit()
    questions = [ask(report, Actor.staff(user), f"问题{i}") for i in range(3)]
    page = parse(look_up(client, report).text)

    answers = [answer(client, page, q, "回复") for q in questions]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "操作过于频繁" in answers[2].text
    assert stored(questions[2]).answered_at is None
