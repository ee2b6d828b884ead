"""JSON API for the mini-program: categories, units, reports, attachments.

Views parse, authorize, call one service function and serialise; the commit
is the view's one transaction.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from flask import current_app, request
from sqlalchemy import and_, or_, select

from app.api import BEARER, ApiBlueprint
from app.dbtypes import utcnow
from app.errors import UnsupportedMediaTypeError, ValidationError
from app.extensions import db, limiter
from app.reporters.auth import current_reporter, reporter_required
from app.reports import attachments, service
from app.reports.api_schemas import (
    AttachmentOut,
    CategoryListOut,
    ReportDetailOut,
    ReportListArgs,
    ReportListOut,
    UploadIn,
)
from app.reports.constants import CATEGORIES
from app.reports.models import Report
from app.reports.schemas import ReportCreatedOut, ReportIn
from app.units import service as units
from app.units.schemas import UnitListOut, UnitOut, UnitSearchArgs

blp = ApiBlueprint("api_v1", __name__, url_prefix="/api/v1", description="强制报告小程序接口")


def intake_limit() -> str:
    return str(current_app.config["QZBG"].intake_rate_limit)


@blp.route("/categories")
@blp.response(200, CategoryListOut)
def list_categories() -> dict[str, Any]:
    """The nine situations that must be reported, in DOMAIN.md's order."""
    return {"items": [{"code": code, "label": label} for code, label in CATEGORIES.items()]}


@blp.route("/units")
@blp.arguments(UnitSearchArgs, location="query")
@blp.response(200, UnitListOut)
def list_units(args: dict[str, Any]) -> dict[str, Any]:
    """Active member units, public fields only."""
    return {"items": units.search(args["q"], args["type"])}


@blp.route("/units/scene/<string:scene>")
@blp.response(200, UnitOut)
def resolve_scene(scene: str) -> Any:
    """The unit a mini-program QR code's scene names."""
    return units.by_code(scene)


@blp.route("/reports", methods=["POST"])
@blp.doc(security=BEARER)
@limiter.shared_limit(intake_limit, scope="intake")
@reporter_required
@blp.arguments(ReportIn)
@blp.response(201, ReportCreatedOut)
@blp.alt_response(200, schema=ReportCreatedOut, description="同一 client_id 的重复提交：返回原报告，不新建")
def create_report(data: dict[str, Any]) -> Any:
    """Submit a mandatory report; idempotent on ``client_id`` per reporter."""
    reporter = current_reporter()
    result = service.submit(
        data, channel="miniprogram", client_key=f"{reporter.id}:{data['client_id']}", now=utcnow(), reporter=reporter
    )
    body = _created(result.report)  # before the commit, which would expire what it reads
    db.session.commit()
    return body, 201 if result.created else 200


def _created(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "tracking_no": report.tracking_no,
        "status": service.reporter_status(report),
        "submitted_at": report.submitted_at,
    }


def _encode_cursor(report: Report) -> str:
    raw = f"{report.submitted_at.isoformat()}|{report.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, report_id = raw.partition("|")
        when = dt.datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive cursor")
        return when.astimezone(dt.UTC), uuid.UUID(report_id)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(fields={"cursor": ["分页参数无效，请从第一页重新加载"]}) from None


@blp.route("/reports")
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(ReportListArgs, location="query")
@blp.response(200, ReportListOut)
def list_reports(args: dict[str, Any]) -> dict[str, Any]:
    """The reporter's own reports, newest first, ``limit`` at a time."""
    stmt = (
        select(Report)
        .where(Report.reporter_id == current_reporter().id)
        .order_by(Report.submitted_at.desc(), Report.id.desc())
        .limit(args["limit"] + 1)
    )
    if args["cursor"]:
        at, report_id = _decode_cursor(args["cursor"])
        stmt = stmt.where(or_(Report.submitted_at < at, and_(Report.submitted_at == at, Report.id < report_id)))
    reports = list(db.session.scalars(stmt))
    page = reports[: args["limit"]]
    return {
        "items": [service.reporter_view_summary(r) for r in page],
        "next_cursor": _encode_cursor(page[-1]) if len(reports) > len(page) else None,
    }


@blp.route("/reports/<uuid:report_id>")
@blp.doc(security=BEARER)
@reporter_required
@blp.response(200, ReportDetailOut)
def get_report(report_id: uuid.UUID) -> dict[str, Any]:
    """The reporter's view of their own report, with its timeline."""
    return service.reporter_view(service.reporter_report(current_reporter(), report_id))


@blp.route("/reports/<uuid:report_id>/attachments", methods=["POST"])
@blp.doc(security=BEARER)
@reporter_required
@blp.arguments(UploadIn, location="files")
@blp.response(201, AttachmentOut)
def upload_attachment(files: dict[str, Any], report_id: uuid.UUID) -> dict[str, Any]:
    """Add a photo, video, recording or PDF to an own report not yet transferred."""
    report = service.reporter_report(current_reporter(), report_id)
    settings = current_app.config["QZBG"]
    upload = files["file"]
    attachment = attachments.store(
        report, upload.stream, upload.filename, directory=settings.attachments_dir,
        max_bytes=settings.max_attachment_bytes, now=utcnow(),
    )
    body = {
        "id": attachment.id,
        "filename": attachment.unseal("filename_data"),
        "size": attachment.size,
        "content_type": attachment.content_type,
    }
    db.session.commit()
    return body


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
