"""The reporter's answers to the office's questions (补充材料), from the mini-program and the web status page.

``record_answer`` is the action itself (through the one state machine), ``answer`` words its refusals for
the reporter; this module also keeps the web status page's proof of a look-up: the answer forms on that page do
not send the 查询码 again, so a successful look-up leaves, sealed in the session cookie (which Flask only signs),
the id of the report it opened, good for ``VIEW_TTL`` seconds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from app.core.actor import Actor
from app.errors import ConflictError, ValidationError
from app.extensions import db
from app.reports import news, receipts
from app.reports import service as reports
from app.reports.models import Attachment, Report
from app.reports.records import Question
from app.reports.states import Action, allowed_actions

CLOSED = "该报告已办结，无需再回复"
NOT_FOR_ANSWER = "找不到该附件：请在提问之后上传，且每个附件只能随一个回复提交"
CHANGED = "报告刚刚有更新，您的回复尚未保存，请重新提交"
VIEW_TTL = 1800  # seconds an opened status page takes answers without a new look-up
VIEWS_KEPT = 5  # reports a browser session remembers (two tabs, two reports)
_VIEWS = "status_views"
_PURPOSE = "status-view:"


def answer(
    report: Report, question_id: uuid.UUID, text: str, *, actor: Actor, now: dt.datetime,
    attachment_ids: Sequence[uuid.UUID] = (),
) -> Question:
    """Store the answer with the files that come with it; a closed report or an answered question is a
    ConflictError the reporter can read."""
    if Action.ANSWER not in allowed_actions(report.status, actor.role):
        raise ConflictError(CLOSED)
    try:
        return record_answer(report, question_id, text, actor=actor, now=now, attachment_ids=attachment_ids)
    except reports.ReportChangedError:
        # Staff acted on the report between its read and this write: the staff side's wording is not theirs.
        raise ConflictError(CHANGED) from None


@reports.one_at_a_time
def record_answer(
    report: Report, question_id: uuid.UUID, text: str, *, actor: Actor, now: dt.datetime,
    attachment_ids: Sequence[uuid.UUID] = (),
) -> Question:
    """The reporter answers an open question (no version: the reporter's view has none). The files named by
    ``attachment_ids`` go with the answer: each one of this report, uploaded after the question was asked and
    sent with no other answer."""
    asked = db.session.get(Question, question_id)
    if asked is None or asked.report_id != report.id:
        raise ValidationError(fields={"question_id": ["找不到该问题"]})
    if asked.answered_at is not None:
        raise ConflictError("该问题已回答")
    files = [db.session.get(Attachment, attachment_id) for attachment_id in attachment_ids]
    fitting = [f for f in files if f is not None and f.report_id == report.id and f.question_id is None
               and f.created_at >= asked.asked_at]
    if len(fitting) != len(files):
        raise ValidationError(fields={"attachment_ids": [NOT_FOR_ANSWER]})
    for file in fitting:
        file.question_id = asked.id
    asked.seal("answer_data", reports.checked_text(text, "text"))
    asked.answered_at = now
    reports.change_status(report, Action.ANSWER, actor=actor, now=now)
    news.announce(news.News.REPORTER_ANSWERED, report, now)  # the assigned prosecutor hears of it
    return asked


def find_question(value: str) -> Question | None:
    """The question a form names by its id; None for anything else."""
    try:
        question_id = uuid.UUID(value[:36])
    except ValueError:
        return None
    return db.session.get(Question, question_id)


def remember_view(session: Any, report_id: uuid.UUID) -> None:
    """This browser just opened the report's status page with its tracking number and 查询码."""
    mine = f"{_PURPOSE}{report_id}"
    kept = [t for t in _tokens(session) if receipts.unseal(t, ttl=VIEW_TTL) not in (None, mine)]
    session[_VIEWS] = [*kept[-(VIEWS_KEPT - 1):], receipts.seal(mine)]


def viewed(session: Any, report_id: uuid.UUID) -> bool:
    """Whether this browser opened the report's status page in the last ``VIEW_TTL`` seconds."""
    mine = f"{_PURPOSE}{report_id}"
    return any(receipts.unseal(t, ttl=VIEW_TTL) == mine for t in _tokens(session))


def _tokens(session: Any) -> list[str]:
    return [t for t in session.get(_VIEWS) or [] if isinstance(t, str)]
