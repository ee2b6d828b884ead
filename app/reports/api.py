"""JSON API for the mini-program: categories, reports, attachments.

Views parse, authorize, call one service function and serialise; ``transactional``
commits once, after the answer is rendered.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request

from app.core.actor import Actor
from app.core.db import transactional
from app.core.dbtypes import utcnow
from app.core.ratelimit import intake_limited
from app.core.rest import BEARER, ApiBlueprint, parse_json_body
from app.crypto.vault import get_vault
from app.errors import AppError, UnsupportedMediaTypeError
from app.reporters.auth import current_reporter, reporter_required
from app.reports import answers, attachments, presenters, queries, service
from app.reports.constants import CATEGORIES
from app.reports.schemas import (
    AnswerIn,
    AnswerOut,
    AttachmentOut,
    CategoryListOut,
    ReportCreatedOut,
    ReportDetailOut,
    ReportIn,
    ReportListArgs,
    ReportListOut,
    UploadIn,
)

blp = ApiBlueprint("api_v1", __name__, url_prefix="/api/v1", description="强制报告小程序接口")


@blp.route("/categories")
@blp.response(200, CategoryListOut)
def list_categories() -> dict[str, Any]:
    """The nine situations that must be reported, in DOMAIN.md's order."""
    return {"items": [{"code": code, "label": label} for code, label in CATEGORIES.items()]}


def _practice() -> bool:
    """Whether the posted report says it is a practice one (``"training": true``), read before the schema (which
    refuses anything else it would not store) to pick the per-address limit: a practice report reaches no real
    channel, so a training room behind one address is not held to a hospital's limit. The body is read with the
    API's own strict parser: a body it refuses (too deep, duplicate keys, not UTF-8) is no practice report, and
    the schema then answers it."""
    raw = request.get_data(cache=True)
    if b'"training"' not in raw:
        return False
    try:
        body = parse_json_body(raw)
    except AppError:
        return False
    return body.get("training") is True


@blp.route("/reports", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@intake_limited(lambda: f"reporter:{current_reporter().id}", practice=_practice)
@blp.arguments(ReportIn)
@blp.response(201, ReportCreatedOut)
@blp.alt_response(200, schema=ReportCreatedOut, description="同一 client_id 的重复提交：返回原报告，不新建")
@blp.errors(400, 401, 413, 415, 422, 429, 503)
def create_report(data: dict[str, Any]) -> Any:
    """Submit a mandatory report; idempotent on ``client_id`` per reporter."""
    reporter = current_reporter()
    result = service.submit(
        data, actor=Actor.reporter(reporter.id), client_key=f"{reporter.id}:{data['client_id']}", now=utcnow(),
        vault=get_vault(), ack_deadlines=service.AckDeadlines.from_settings(current_app.config["QZBG"]),
        reporter=reporter,
    )
    return presenters.created(result.report), 201 if result.created else 200


@blp.route("/reports")
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(ReportListArgs, location="query")
@blp.response(200, ReportListOut)
@blp.errors(401, 422, 503)
def list_reports(args: dict[str, Any]) -> dict[str, Any]:
    """The reporter's own reports, newest first, ``limit`` at a time."""
    return queries.reporter_reports(current_reporter().id, limit=args["limit"], cursor=args["cursor"])


@blp.route("/reports/<uuid:report_id>")
@blp.doc(security=BEARER)
@reporter_required
@blp.response(200, ReportDetailOut)
@blp.errors(401, 404, 503)
def get_report(report_id: uuid.UUID) -> dict[str, Any]:
    """The reporter's view of their own report, with its timeline and the office's questions."""
    return presenters.reporter_view(queries.reporter_report(current_reporter().id, report_id))


@blp.route("/reports/<uuid:report_id>/answers", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(AnswerIn)
@blp.response(201, AnswerOut)
@blp.errors(400, 401, 404, 409, 413, 415, 422, 503)
def answer_question(data: dict[str, Any], report_id: uuid.UUID) -> dict[str, Any]:
    """Answer an open question of the office (补充材料) on an own report, once. Files go first, through
    ``/attachments``, which takes them while a question is open, and their ids go with the answer in
    ``attachment_ids``; an answered question or a closed report is 409, a question of no such report is 422 on
    ``question_id``, a file not of this report, uploaded before the question or already sent with an answer is 422
    on ``attachment_ids``."""
    reporter = current_reporter()
    report = queries.reporter_report(reporter.id, report_id)
    answered = answers.answer(report, data["question_id"], data["text"], actor=Actor.reporter(reporter.id),
                              now=utcnow(), attachment_ids=data["attachment_ids"])
    return presenters.answered(answered)


@blp.route("/reports/<uuid:report_id>/attachments", methods=["POST"])
@transactional
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(UploadIn, location="files")
@blp.response(201, AttachmentOut)
@blp.errors(401, 404, 409, 413, 415, 422, 503)
def upload_attachment(files: dict[str, Any], report_id: uuid.UUID) -> dict[str, Any]:
    """Add a photo, video, recording or PDF to an own report not yet transferred, or later while the office
    waits for an answer to a question."""
    report = queries.reporter_report(current_reporter().id, report_id)
    settings = current_app.config["QZBG"]
    upload = files["file"]
    attachment = attachments.store(
        report, upload.stream, upload.filename, directory=settings.attachments_dir,
        max_bytes=settings.max_attachment_bytes, now=utcnow(), vault=get_vault(),
    )
    return presenters.attachment(attachment)


@blp.after_request
def no_store(response: Any) -> Any:
    """Answers carry the reporter's own data: never cached."""
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.before_request
def require_content_type() -> None:
    """415 for a body in a format the endpoint does not take."""
    if request.method != "POST":
        return
    expected = "multipart/form-data" if request.endpoint == "api_v1.upload_attachment" else "application/json"
    if request.mimetype != expected:
        raise UnsupportedMediaTypeError(
            "请以 multipart/form-data 上传文件" if expected.startswith("multipart") else None
        )
