"""The reporter's answers to the office's questions (补充材料), from the mini-program and the web status page.

The action itself is ``app.review.service.answer`` (through the one state machine); this module words its
refusals for the reporter, and keeps the web status page's proof of a look-up: the answer forms on that page do
not send the 查询码 again, so a successful look-up leaves, sealed in the session cookie (which Flask only signs),
the id of the report it opened, good for ``VIEW_TTL`` seconds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from app.auth.actor import Actor
from app.errors import ConflictError
from app.extensions import db
from app.reports import receipts
from app.reports.models import Report
from app.reports.states import Action, allowed_actions
from app.review import service as review
from app.review.models import Question

CLOSED = "该报告已办结，无需再回复"
CHANGED = "报告刚刚有更新，您的回复尚未保存，请重新提交"
VIEW_TTL = 1800  # seconds an opened status page takes answers without a new look-up
VIEWS_KEPT = 5  # reports a browser session remembers (two tabs, two reports)
_VIEWS = "status_views"
_PURPOSE = "status-view:"


def answer(report: Report, question_id: uuid.UUID, text: str, *, actor: Actor, now: dt.datetime) -> Question:
    """Store the answer; a closed report or an answered question is a ConflictError the reporter can read."""
    if Action.ANSWER not in allowed_actions(report.status, actor.role):
        raise ConflictError(CLOSED)
    try:
        return review.answer(report, question_id, text, actor=actor, now=now)
    except ConflictError as exc:
        if exc.message.startswith("该线索已被他人修改"):
            # Staff acted on the report between its read and this write: the staff side's wording is not theirs.
            raise ConflictError(CHANGED) from None
        raise


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
