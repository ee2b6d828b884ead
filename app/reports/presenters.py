"""What a reporter is shown of a report: one serialisation per answer, beside the schemas that document it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.reports.models import SEALED_SECTIONS, Report
from app.reports.records import Question
from app.reports.states import REPORTER_STATUS, REPORTER_STATUS_LABELS


def reporter_summary(report: Any) -> dict[str, Any]:
    """A list entry; ``report`` is a Report or a row with its summary columns."""
    status = REPORTER_STATUS[report.status]
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": status,
        "status_label": REPORTER_STATUS_LABELS[status],
        "submitted_at": report.submitted_at,
        "updated_at": report.updated_at,
    }


def created(report: Report) -> dict[str, Any]:
    """The answer to a submission (also to its idempotent repeat)."""
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": REPORTER_STATUS[report.status],
        "submitted_at": report.submitted_at,
    }


def reporter_timeline(report: Report) -> list[dict[str, Any]]:
    """Status steps as the reporter sees them: one entry per change of reporter-visible status."""
    timeline: list[dict[str, Any]] = []
    for event in report.events:
        shown = REPORTER_STATUS[event.to_status]
        if timeline and timeline[-1]["status"] == shown:
            continue
        timeline.append({"at": event.at, "status": shown, "label": REPORTER_STATUS_LABELS[shown]})
    return timeline


def attachment(item: Any) -> dict[str, Any]:
    return {"id": item.id, "filename": item.unseal("filename_data"), "size": item.size,
            "content_type": item.content_type}


def questions(report: Report) -> list[dict[str, Any]]:
    """What the office asked the reporter (补充材料), oldest first, with the reporter's answers, unsealed."""
    asked = db.session.scalars(
        select(Question).where(Question.report_id == report.id).order_by(Question.asked_at, Question.id)
    )
    with_answer: dict[Any, list[dict[str, Any]]] = {}
    for item in report.attachments:
        if item.question_id is not None:
            with_answer.setdefault(item.question_id, []).append(attachment(item))
    return [
        {
            "id": q.id,
            "asked_at": q.asked_at,
            "text": q.unseal("text_data"),
            "answered_at": q.answered_at,
            "answer": q.unseal("answer_data"),
            "attachments": with_answer.get(q.id, []),
        }
        for q in asked
    ]


def answered(question: Any) -> dict[str, Any]:
    """The answer to an answer: one per question, so it carries the question's id as its own."""
    return {"id": question.id, "question_id": question.id, "answered_at": question.answered_at}


def reporter_view(report: Report) -> dict[str, Any]:
    """What the reporter submitted, its status and reporter-visible timeline, and the office's questions;
    no internal notes, no police detail."""
    return {
        **reporter_summary(report),
        "categories": report.categories,
        "urgent": report.urgent,
        "training": report.training,
        "unit_id": report.unit_id,
        **{name: report.section(name) for name in SEALED_SECTIONS},
        "attachments": [attachment(a) for a in report.attachments],
        "timeline": reporter_timeline(report),
        "questions": questions(report),
    }
