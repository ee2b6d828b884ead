"""The web form (H5) for phones without the mini-program, its receipt, and the status lookup.

The form's flat field names (``victim.age``) are shaped into the JSON report
structure and checked by the same marshmallow schema as the API. What only the
form can get wrong (a ``datetime-local`` value, a ``1``/``0`` flag, a field
name that does not fit the structure) is caught while shaping, so every error
is keyed by the name of the field it belongs beside.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from typing import Any, BinaryIO, cast

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError
from marshmallow import fields
from werkzeug.datastructures import FileStorage, MultiDict

from app.errors import AppError, BadRequestError, NotFoundError, PayloadTooLargeError, flatten_messages
from app.extensions import db, limiter
from app.reports import attachments, service
from app.reports.constants import CATEGORIES, GENDER_LABELS
from app.reports.schemas import ReportBody
from app.units import service as units

bp = Blueprint("web", __name__)

FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
RECEIPT_TTL = 3600  # seconds a sealed 查询码 waits in the session for its receipt page
OPEN_FORMS = 10  # rendered forms a session remembers
# What Chrome, Safari and WeChat send for <input type="datetime-local">: seconds only with a step.
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
INTEGER = re.compile(r"^-?[0-9]{1,9}$")
DATETIME_FIELDS = frozenset({"incident.discovered_at", "incident.occurred_at", "police.notified_at"})
BOOL_FIELDS = frozenset({"urgent", "victim.has_disability", "police.notified"})
INT_FIELDS = frozenset({"unit_id", "victim.age"})
# Form-only inputs; "categories" and "files" are read with getlist.
SKIP_FIELDS = frozenset({"csrf_token", "form_key", "website", "categories", "files"})
SECTIONS = ("reporter", "victim", "incident", "suspect", "police")
REQUIRED_SECTIONS = ("reporter", "victim", "incident")


def _field_names() -> tuple[str, ...]:
    """Every name the form renders an error beside, in the form's order: the schema's paths joined with dots."""
    names: list[str] = []
    for name, field in ReportBody().fields.items():
        if isinstance(field, fields.Nested):
            names.extend(f"{name}.{sub}" for sub in field.schema.fields)
        else:
            names.append(name)
    return (*names, "files")


FIELD_NAMES = _field_names()


class FormValueError(ValueError):
    """A form value that cannot be what its input type sends; the message is shown beside the field."""


def _client_key(form_key: str) -> str:
    return "web:" + hashlib.sha256(form_key.encode()).hexdigest()


def _coerce(name: str, value: str) -> Any:
    """One form string -> its JSON value; None for an empty field."""
    value = value.strip()
    if value == "":
        return None
    if name in BOOL_FIELDS:
        if value not in ("1", "0"):
            raise FormValueError("请选择“是”或“否”")
        return value == "1"
    if name in INT_FIELDS:
        return int(value) if INTEGER.match(value) else value  # the schema says "应为整数"
    if name in DATETIME_FIELDS:
        if not LOCAL_DATETIME.match(value):
            raise FormValueError("请选择日期和时间，如 2026-11-20 10:30")
        try:
            # datetime-local values are China Standard Time (CONTRACT.md).
            local = dt.datetime.fromisoformat(value).replace(tzinfo=service.CST)
            local.astimezone(dt.UTC)  # 0001-01-01T00:00 has no UTC instant
        except (ValueError, OverflowError):
            raise FormValueError("日期或时间不存在，请重新选择") from None
        return local.isoformat()
    return value


def shape_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Flat form fields -> (the JSON report structure, errors found while shaping).

    Empty fields are left out, so required ones read "此项必填" and optional ones
    take the schema's default. Unknown names inside a section stay, for the schema
    to refuse; names that cannot fit the structure are refused here.
    """
    data: dict[str, Any] = {"urgent": False, **{section: {} for section in REQUIRED_SECTIONS}}
    if form.getlist("categories"):
        # None ticked is left out: "此项必填" then shows even beside other errors, which
        # the schema-level "at least one" check would wait for.
        data["categories"] = form.getlist("categories")
    errors: dict[str, list[str]] = {}
    for name in form:
        if name in SKIP_FIELDS:
            continue
        section, dot, field = name.partition(".")
        if (section in SECTIONS) != bool(dot) or "." in field or (dot and not field):
            errors[name] = ["不支持的字段"]
            continue
        try:
            value = _coerce(name, form.get(name, ""))
        except FormValueError as exc:
            errors[name] = [str(exc)]
            continue
        if dot:
            section_data = data.setdefault(section, {})
            if value is not None:
                section_data[field] = value
        elif value is not None:
            data[name] = value
    police = data.get("police")
    if police:
        police.setdefault("notified", False)
    for section in SECTIONS:
        if section not in REQUIRED_SECTIONS and not data.get(section):
            data.pop(section, None)
    return data, errors


def _schema_errors(exc: SchemaError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key, messages in flatten_messages(exc.messages).items():
        # A wrong code is reported as "categories.<index>"; it belongs beside the checkboxes.
        shown = errors.setdefault("categories" if key.startswith("categories.") else key, [])
        shown.extend(m for m in dict.fromkeys(messages) if m not in shown)
    return errors


def parse_report_form(form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(the validated report body, every error keyed by form field name); the body counts only without errors."""
    data, errors = shape_form(form)
    try:
        loaded = ReportBody().load(data)
    except SchemaError as exc:
        for name, messages in _schema_errors(exc).items():
            errors.setdefault(name, messages)
        return {}, errors
    return loaded, errors


def _uploads() -> list[FileStorage]:
    """The chosen files; a file input left empty sends a part without a filename."""
    return [f for f in request.files.getlist("files") if f and f.filename]


def _store_report(data: dict[str, Any], form_key: str, uploads: Iterable[FileStorage]) -> service.Submission:
    """Store the report and its files in one transaction; a repeat of the same form stores nothing."""
    now = dt.datetime.now(dt.UTC)
    settings = current_app.config["QZBG"]
    result = service.submit(data, channel="web", client_key=_client_key(form_key), now=now, with_status_code=True)
    if result.created:
        for upload in uploads:
            attachments.store(
                result.report, cast(BinaryIO, upload.stream), upload.filename, directory=settings.attachments_dir,
                max_bytes=settings.max_attachment_bytes, now=now,
            )
    db.session.commit()
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
        "now_local": dt.datetime.now(service.CST).strftime("%Y-%m-%dT%H:%M"),
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
# Only posts that reach a receipt count: someone correcting field errors is not slowed down.
@limiter.shared_limit(intake_limit, scope="intake", methods=["POST"], deduct_when=lambda r: r.status_code == 303)
def report_form() -> ResponseReturnValue:
    """The report form; a valid POST stores one report per rendered form and redirects to the receipt."""
    if request.method == "GET":
        form_key = secrets.token_urlsafe(18)
        # The forms this browser was given: only they may ever be given a 查询码 again.
        session["forms"] = [*(session.get("forms") or [])[-(OPEN_FORMS - 1) :], form_key]
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
        result = _store_report(data, form_key, uploads)
    except AppError as exc:
        db.session.rollback()  # the report and any blob already written go with it
        if isinstance(exc, PayloadTooLargeError):
            exc.fields = {"files": [exc.message]}
        if not exc.fields:
            raise
        errors = {("files" if key == "file" else key): msgs for key, msgs in exc.fields.items()}
        return _render_form(request.form, errors, form_key, exc.status, files_dropped=bool(uploads))
    status_code = result.status_code
    receipts = session.get("receipts") or {}
    open_forms = session.get("forms") or []
    recent = result.report.submitted_at > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=RECEIPT_TTL)
    if not result.created and form_key in open_forms and result.report.status == "new" and recent:
        # The same browser sent its form twice and dropped the first answer (its cookie still lists
        # the form as open): the code that answer carried was never seen, so issue a new one.
        # Anyone else who learns the form key (it is in the receipt URL) gets no code.
        status_code = service.reissue_status_code(result.report)
        db.session.commit()
    if status_code:
        # Kept per form, so two tabs submitting two reports each show their own 查询码; sealed, because
        # Flask's session cookie is only signed.
        session["receipts"] = {**receipts, form_key: _receipt_box().encrypt(status_code.encode()).decode()}
        session["forms"] = [key for key in open_forms if key != form_key]
    return redirect(url_for("web.receipt", key=form_key), code=303)




def _receipt_box() -> Fernet:
    """Authenticated encryption for the 查询码 in the session cookie, keyed from the app's secret key."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qzbg/receipt-cookie").derive(
        current_app.config["SECRET_KEY"].encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _open_receipt(sealed: str | None) -> str | None:
    if not sealed:
        return None
    try:
        return _receipt_box().decrypt(sealed.encode(), ttl=RECEIPT_TTL).decode()
    except (InvalidToken, ValueError):
        return None


@bp.get("/report/receipt/<key>")
def receipt(key: str) -> ResponseReturnValue:
    """The tracking number and, once and only in the submitting browser, the 查询码."""
    if not FORM_KEY.match(key):
        raise NotFoundError()
    report = service.find_by_client_key(_client_key(key))
    if report is None:
        raise NotFoundError()
    # One-time: a reload, or the next person at a shared computer, no longer sees it.
    waiting = dict(session.get("receipts") or {})
    sealed = waiting.pop(key, None)
    if sealed is not None:
        session["receipts"] = waiting
    status_code = _open_receipt(sealed)
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
        "reports/status_view.html", view=service.reporter_view(report), cst=service.CST, categories=CATEGORIES
    )


@bp.after_request
def no_store(response: Any) -> Any:
    """Report pages can carry personal data: never cached, never framed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Not "no-referrer": over HTTPS Flask-WTF refuses a form POST without a same-origin Referer.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    return response
