"""The web form (H5) for phones without the mini-program, its receipt, and the status lookup.

The form's flat field names (``victim.age``) are shaped into the JSON report
structure and checked by the same marshmallow schema as the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError
from werkzeug.datastructures import MultiDict

from app.errors import AppError, BadRequestError, NotFoundError, flatten_messages
from app.extensions import db, limiter
from app.reports import attachments, service
from app.reports.constants import CATEGORIES, GENDER_LABELS
from app.reports.schemas import ReportBody
from app.units import service as units
from app.units.models import UNIT_TYPES

bp = Blueprint("web", __name__)

FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$")
DATETIME_FIELDS = {"incident.discovered_at", "incident.occurred_at", "police.notified_at"}
BOOL_FIELDS = {"urgent", "victim.has_disability", "police.notified"}
INT_FIELDS = {"unit_id", "victim.age"}
SKIP_FIELDS = {"csrf_token", "form_key", "website", "categories", "files"}
OPTIONAL_SECTIONS = ("suspect",)


def _client_key(form_key: str) -> str:
    return "web:" + hashlib.sha256(form_key.encode()).hexdigest()


def _coerce(name: str, value: str) -> Any:
    value = value.strip()
    if value == "":
        return None
    if name in BOOL_FIELDS:
        return {"1": True, "0": False}.get(value, value)
    if name in INT_FIELDS:
        return int(value) if value.isdigit() and len(value) < 10 else value
    if name in DATETIME_FIELDS and LOCAL_DATETIME.match(value):
        # datetime-local values are China Standard Time (CONTRACT.md).
        return (value if len(value) > 16 else value + ":00") + "+08:00"
    return value


def shape_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """Flat form fields -> the JSON report structure; unknown names stay, for the schema to refuse."""
    data: dict[str, Any] = {"categories": form.getlist("categories")}
    for name in form:
        if name in SKIP_FIELDS:
            continue
        value = _coerce(name, form.get(name, ""))
        section, _, field = name.partition(".")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[name] = value
    data.setdefault("urgent", False)
    police = data.get("police")
    if police is not None and police.get("notified") is None:
        police["notified"] = False
    for section in OPTIONAL_SECTIONS:
        if section in data and all(v is None for v in data[section].values()):
            data[section] = None
    return data


def _form_context(values: MultiDict[str, str], errors: dict[str, list[str]], form_key: str) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "form_key": form_key,
        "categories": CATEGORIES,
        "genders": GENDER_LABELS,
        "units": units.search(None, None, limit=1000),
        "unit_types": UNIT_TYPES,
        "max_mb": current_app.config["QZBG"].max_attachment_mb,
        "now_local": dt.datetime.now(service.CST).strftime("%Y-%m-%dT%H:%M"),
    }


def _render_form(values: MultiDict[str, str], errors: dict[str, list[str]], form_key: str, status: int = 200) -> ResponseReturnValue:
    return render_template("reports/form.html", **_form_context(values, errors, form_key)), status


def lookup_limit() -> str:
    return str(current_app.config["QZBG"].lookup_rate_limit)


def intake_limit() -> str:
    return str(current_app.config["QZBG"].intake_rate_limit)


@bp.route("/report", methods=["GET", "POST"])
@limiter.shared_limit(intake_limit, scope="intake", methods=["POST"])
def report_form() -> ResponseReturnValue:
    """The report form; a valid POST stores one report per rendered form and redirects to the receipt."""
    if request.method == "GET":
        values = MultiDict[str, str]()
        unit_code = request.args.get("unit", "")
        if unit_code:
            try:
                values["unit_id"] = str(units.by_code(unit_code[:32]).id)
            except NotFoundError:
                pass
        return _render_form(values, {}, secrets.token_urlsafe(18))
    form_key = request.form.get("form_key", "")
    if not FORM_KEY.match(form_key):
        raise BadRequestError("表单已失效，请刷新页面后重新填写")
    if request.form.get("website"):
        # Honeypot: people never see this field; bots fill it. Nothing is stored.
        raise BadRequestError("提交失败，请刷新页面后重新填写")
    try:
        data = ReportBody().load(shape_form(request.form))
    except SchemaError as exc:
        return _render_form(request.form, flatten_messages(exc.messages), form_key, 422)
    now = dt.datetime.now(dt.UTC)
    settings = current_app.config["QZBG"]
    try:
        result = service.submit(data, channel="web", client_key=_client_key(form_key), now=now, with_status_code=True)
        if result.created:
            uploads = [f for f in request.files.getlist("files") if f and f.filename]
            for pending, upload in enumerate(uploads):
                attachments.store(
                    result.report, upload.stream, upload.filename, directory=settings.attachments_dir,
                    max_bytes=settings.max_attachment_bytes, now=now, pending=pending,
                )
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        if not exc.fields:
            raise
        errors = {("files" if key == "file" else key): msgs for key, msgs in exc.fields.items()}
        if "files" in errors:
            errors["files"].append("为保护隐私，附件需重新选择")
        return _render_form(request.form, errors, form_key, exc.status)
    if result.created:
        session["receipt"] = {
            "key": form_key, "tracking_no": result.report.tracking_no, "status_code": result.status_code,
        }
    return redirect(url_for("web.receipt", key=form_key), code=303)


@bp.get("/report/receipt/<key>")
def receipt(key: str) -> ResponseReturnValue:
    """The tracking number and, in the submitting browser, the one-time 查询码."""
    if not FORM_KEY.match(key):
        raise NotFoundError()
    report = service.find_by_client_key(_client_key(key))
    if report is None:
        raise NotFoundError()
    kept = session.get("receipt") or {}
    status_code = kept.get("status_code") if kept.get("key") == key else None
    return render_template("reports/receipt.html", report=report, status_code=status_code)


@bp.route("/report/status", methods=["GET", "POST"])
@limiter.limit(lookup_limit, methods=["POST"])
def report_status() -> ResponseReturnValue:
    """A reporter's view of one report, for whoever holds its tracking number and 查询码."""
    if request.method == "GET":
        return render_template("reports/status_lookup.html", values={}, error=None)
    tracking_no = request.form.get("tracking_no", "").strip().upper()[:20]
    status_code = request.form.get("status_code", "").strip()[:20]
    report = service.find_by_status_code(tracking_no, status_code) if tracking_no and status_code else None
    if report is None:
        return render_template(
            "reports/status_lookup.html", values={"tracking_no": tracking_no},
            error="查询号或查询码不正确，请核对后重试",
        ), 404
    return render_template("reports/status_view.html", view=service.reporter_view(report), cst=service.CST)


@bp.after_request
def no_store(response: Any) -> Any:
    """Report pages can carry personal data: never cached."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
