"""The web form (H5) for phones without the mini-program, its receipt, and the status lookup.

Shaping and checking the form lives in ``form.py`` (the same schema as the API),
the 查询码's way to the receipt in ``receipts.py``; the views here stay thin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any, BinaryIO, cast

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage, MultiDict

from app.auth.actor import Actor
from app.core.db import transactional
from app.errors import AppError, BadRequestError, NotFoundError, PayloadTooLargeError
from app.extensions import limiter
from app.reports import attachments, presenters, receipts, service
from app.reports.constants import CATEGORIES, GENDER_LABELS
from app.reports.form import FIELD_NAMES, FORM_KEY, client_key, parse_report_form
from app.reports.queries import find_by_client_key
from app.reports.tracking import CST
from app.units import queries as units

bp = Blueprint("web", __name__)


def _uploads() -> list[FileStorage]:
    """The chosen files; a file input left empty sends a part without a filename."""
    return [f for f in request.files.getlist("files") if f and f.filename]


def _store_report(data: dict[str, Any], form_key: str, uploads: Iterable[FileStorage]) -> service.Submission:
    """Store the report and its files in one transaction; a repeat of the same form stores nothing."""
    now = dt.datetime.now(dt.UTC)
    settings = current_app.config["QZBG"]
    result = service.submit(
        data, actor=Actor.public(), client_key=client_key(form_key), now=now,
        status_code=receipts.form_status_code(session, form_key),
    )
    if result.created:
        for upload in uploads:
            attachments.store(
                result.report, cast(BinaryIO, upload.stream), upload.filename, directory=settings.attachments_dir,
                max_bytes=settings.max_attachment_bytes, now=now,
            )
    return result


def _render_form(
    values: MultiDict[str, str], errors: dict[str, list[str]], form_key: str, status: int = 200, *,
    files_dropped: bool = False,
) -> ResponseReturnValue:
    context = {
        "values": values,
        "errors": errors,
        # The summary above the form: field errors in the form's order (each links to its field),
        # then those with no field of their own (an unknown field name).
        "field_errors": [(name, errors[name]) for name in FIELD_NAMES if name in errors],
        "other_errors": {k: v for k, v in errors.items() if k not in FIELD_NAMES},
        "files_dropped": files_dropped,
        "form_key": form_key,
        "categories": CATEGORIES,
        "genders": GENDER_LABELS,
        "units": units.search(None, None, limit=1000),
        "max_mb": current_app.config["QZBG"].max_attachment_mb,
        "max_files": attachments.MAX_PER_REPORT,
        "now_local": dt.datetime.now(CST).strftime("%Y-%m-%dT%H:%M"),
    }
    return render_template("reports/form.html", **context), status


def _preselected(unit_code: str) -> MultiDict[str, str]:
    """Initial values: the unit of a poster's QR code (``?unit=<code>``), when it is active."""
    values = MultiDict[str, str]()
    if unit_code:
        with contextlib.suppress(NotFoundError):
            values["unit_id"] = str(units.by_code(unit_code[:32]).id)
    return values


def lookup_limit() -> str:
    return str(current_app.config["QZBG"].lookup_rate_limit)


def intake_limit() -> str:
    return str(current_app.config["QZBG"].intake_rate_limit)


@bp.route("/report", methods=["GET", "POST"])
@transactional
# Only posts that reach a receipt count: someone correcting field errors is not slowed down.
@limiter.shared_limit(intake_limit, scope="intake", methods=["POST"], deduct_when=lambda r: r.status_code == 303)
def report_form() -> ResponseReturnValue:
    """The report form; a valid POST stores one report per rendered form and redirects to the receipt."""
    if request.method == "GET":
        form_key = secrets.token_urlsafe(18)
        receipts.open_form(session, form_key)
        return _render_form(_preselected(request.args.get("unit", "")), {}, form_key)
    form_key = request.form.get("form_key", "")
    if not FORM_KEY.match(form_key):
        raise BadRequestError("表单已失效，请刷新页面后重新填写")
    if request.form.get("website"):
        # Honeypot: people never see this field; bots fill it. Nothing is stored.
        raise BadRequestError("提交失败，请刷新页面后重新填写")
    uploads = _uploads()
    data, errors = parse_report_form(request.form)
    if errors:
        return _render_form(request.form, errors, form_key, 422, files_dropped=bool(uploads))
    try:
        _store_report(data, form_key, uploads)
    except AppError as exc:
        # The error answer rolls the transaction back: the report and any blob already written go with it.
        if isinstance(exc, PayloadTooLargeError):
            exc.fields = {"files": [exc.message]}
        if not exc.fields:
            raise
        errors = {("files" if key == "file" else key): msgs for key, msgs in exc.fields.items()}
        return _render_form(request.form, errors, form_key, exc.status, files_dropped=bool(uploads))
    receipts.submitted(session, form_key)
    return redirect(url_for("web.receipt", key=form_key), code=303)


@bp.get("/report/receipt/<key>")
def receipt(key: str) -> ResponseReturnValue:
    """The tracking number and, once and only in the submitting browser, the 查询码."""
    if not FORM_KEY.match(key):
        raise NotFoundError()
    report = find_by_client_key(client_key(key))
    if report is None:
        raise NotFoundError()
    status_code = receipts.take_for_receipt(session, key)
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
    return render_template(
        "reports/status_view.html", view=presenters.reporter_view(report), cst=CST, categories=CATEGORIES
    )


@bp.after_request
def no_store(response: Any) -> Any:
    """Report pages can carry personal data: never cached (security headers: app/core/headers.py)."""
    response.headers["Cache-Control"] = "no-store"
    return response
