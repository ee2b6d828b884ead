"""The web form (H5) for phones without the mini-program, its receipt, and the status lookup.

Shaping and checking the form lives in ``form.py`` (the same schema as the API),
the 查询码's way to the receipt in ``receipts.py``; the views here stay thin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import logging
import secrets
from typing import Any, BinaryIO, cast

import marshmallow
from flask import (
    Blueprint,
    Response,
    after_this_request,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import FileStorage, MultiDict

from app.core.actor import Actor
from app.core.db import transactional
from app.core.ratelimit import intake_limited
from app.crypto.vault import get_vault
from app.errors import (
    AppError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationError,
)
from app.extensions import csrf, limiter
from app.offices import queries as offices
from app.reports import answers, attachments, presenters, receipts, service, staging
from app.reports.constants import CATEGORIES, GENDER_LABELS
from app.reports.form import FIELD_NAMES, FORM_KEY, INTEGER, client_key, parse_report_form
from app.reports.queries import find_by_client_key
from app.reports.schemas import AnswerIn
from app.reports.tracking import CST
from app.units import queries as units

bp = Blueprint("reports", __name__)
log = logging.getLogger("qzbg.security")

CSRF_EXPIRED = "页面已过期，请核对下面填写的内容，再点“提交报告”。"
STORE_UNAVAILABLE = "系统暂时无法保存报告，报告尚未提交。您填写的内容都在下面，请稍后再点“提交报告”。"
UNIT_GONE = "所选单位不存在或已停用，请重新选择"
STAGED_REMOVE = "staged_remove"  # one checkbox per staged file: ticked, it is left out
STAGED_LISTED = "staged_file"  # one hidden input per staged file the page listed
STAGED_GONE = "之前保存的附件已过期，请重新选择"
LOOKUP_AGAIN = "页面已过期，请重新输入查询号和查询码，再回复检察院的问题"


def _settings() -> Any:
    return current_app.config["QZBG"]


def _uploads() -> list[FileStorage]:
    """The chosen files; a file input left empty sends a part without a filename."""
    return [f for f in request.files.getlist("files") if f and f.filename]


class _FileRefused(Exception):
    """One file of a valid form could not become an attachment: the report is not stored."""

    def __init__(
        self, name: str, error: AppError, *, index: int | None = None, staged: staging.StagedFile | None = None
    ) -> None:
        super().__init__(name)
        self.error, self.index, self.staged = error, index, staged
        texts = (error.fields or {}).get("file") or (error.fields or {}).get("files") or [error.message]
        self.messages = [f"{name}：{text}" for text in texts]


def _store_report(
    data: dict[str, Any], form_key: str, staged: list[staging.StagedFile], uploads: list[FileStorage]
) -> service.Submission:
    """Store the report, its staged files and its new files in one transaction; a repeat stores nothing."""
    now = dt.datetime.now(dt.UTC)
    settings = _settings()
    vault = get_vault()
    result = service.submit(
        data, actor=Actor.public(), client_key=client_key(form_key), now=now, vault=vault,
        ack_deadlines=service.AckDeadlines.from_settings(settings),
        status_code=receipts.form_status_code(session, form_key),
    )
    if result.created:
        store = functools.partial(
            attachments.store, result.report, directory=settings.attachments_dir,
            max_bytes=settings.max_attachment_bytes, now=now, vault=vault,
        )
        for item in staged:
            try:
                with staging.opened(session, form_key, settings.attachments_dir, item) as stream:
                    store(stream, item.name)
            except (ValidationError, PayloadTooLargeError) as exc:
                raise _FileRefused(item.name, exc, staged=item) from None
        for index, upload in enumerate(uploads):
            try:
                store(cast(BinaryIO, upload.stream), upload.filename)
            except (ValidationError, PayloadTooLargeError) as exc:
                raise _FileRefused(staging.display_name(upload.filename), exc, index=index) from None
    return result


def _render_form(
    values: MultiDict[str, str], errors: dict[str, list[str]], form_key: str, status: int = 200, *,
    notice: str | None = None, files_dropped: bool = False, headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    settings = _settings()
    staged = staging.listed(session, form_key, settings.attachments_dir)
    context = {
        "values": values,
        "errors": errors,
        # The summary above the form: field errors in the form's order (each links to its field),
        # then those with no field of their own (an unknown field name).
        "field_errors": [(name, errors[name]) for name in FIELD_NAMES if name in errors],
        "other_errors": {k: v for k, v in errors.items() if k not in FIELD_NAMES},
        "notice": notice,
        "files_dropped": files_dropped,
        "staged": staged,
        "form_key": form_key,
        "categories": CATEGORIES,
        "genders": GENDER_LABELS,
        "units": units.search(None, None, limit=1000),
        "districts": offices.districts(),
        "max_mb": settings.max_attachment_mb,
        "max_files": attachments.MAX_PER_REPORT,
        "more_files": attachments.MAX_PER_REPORT - len(staged),
        "now_local": dt.datetime.now(CST).strftime("%Y-%m-%dT%H:%M"),
    }
    return render_template("reports/form.html", **context), status, headers or {}


def _refused(
    form_key: str, errors: dict[str, list[str]], status: int, uploads: list[FileStorage], *,
    notice: str | None = None, headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """The form again with everything typed, and the chosen files staged for the next try."""
    settings = _settings()
    try:
        file_errors = staging.stage(
            session, form_key, uploads, directory=settings.attachments_dir, max_bytes=settings.max_attachment_bytes,
            cipher_name=settings.field_cipher,
        )
    except OSError as exc:
        # A full or read-only store: the person is told to choose the files again.
        logging.getLogger("qzbg.errors").error(
            "staging_unwritable", extra={"errno": errno.errorcode.get(exc.errno or 0, "unknown")}
        )
        return _render_form(request.form, errors, form_key, status, notice=notice, files_dropped=bool(uploads),
                            headers=headers)
    if file_errors:
        errors = {**errors, "files": [*errors.get("files", []), *file_errors]}
    return _render_form(request.form, errors, form_key, status, notice=notice, headers=headers)


def _unit_error(form: MultiDict[str, str], errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The unit check the service makes on a valid form, made beside the other errors too."""
    value = form.get("unit_id", "").strip()
    if "unit_id" in errors or not INTEGER.match(value) or units.is_active(int(value)):
        return {}
    return {"unit_id": [UNIT_GONE]}


def _csrf_valid() -> bool:
    """Flask-WTF's check, made here so that a failure shows the form again instead of an error page."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        csrf.protect()
    except CSRFError:
        log.warning("csrf_failed", extra={"endpoint": request.endpoint})
        return False
    return True


def _expired(form_key: str) -> ResponseReturnValue:
    """A CSRF failure (an expired session in WeChat's browser): the form again, the input kept, a new
    token, nothing stored or staged: the request may not be the person's own."""
    if receipts.form_status_code(session, form_key) is None:
        receipts.open_form(session, form_key)  # the session that held this form's 查询码 is gone
    return _render_form(request.form, {}, form_key, 400, notice=CSRF_EXPIRED, files_dropped=bool(_uploads()))


def _submit(form_key: str) -> ResponseReturnValue:
    directory = _settings().attachments_dir
    removed = request.form.getlist(STAGED_REMOVE)
    staging.remove(session, form_key, directory, removed)
    staged = staging.listed(session, form_key, directory)
    uploads = _uploads()
    data, errors = parse_report_form(request.form)
    if set(request.form.getlist(STAGED_LISTED)) - set(removed) - {f.id for f in staged}:
        # Files the page listed are gone (their key or the files expired): never a report silently without them.
        errors["files"] = [STAGED_GONE]
    if errors:
        return _refused(form_key, {**errors, **_unit_error(request.form, errors)}, 422, uploads)
    try:
        _store_report(data, form_key, staged, uploads)
    except ServiceUnavailableError as exc:
        # The error answer rolls the transaction back: the report and any blob already written go with it.
        headers = {"Retry-After": "30", **exc.headers}
        return _refused(form_key, {}, 503, uploads, notice=STORE_UNAVAILABLE, headers=headers)
    except _FileRefused as refused:
        # That file is left out (a staged one is removed); the others are staged for the next try.
        if refused.staged is not None:
            staging.remove(session, form_key, directory, [refused.staged.id])
        others = [u for i, u in enumerate(uploads) if i != refused.index]
        return _refused(form_key, {"files": refused.messages}, refused.error.status, others)
    except AppError as exc:
        if not exc.fields:
            raise
        return _refused(form_key, dict(exc.fields), exc.status, uploads)
    receipts.submitted(session, form_key)

    @after_this_request
    def discard_staged(response: Response) -> Response:
        if response.status_code == 303:  # committed: the staged files are attachments now
            staging.discard(session, form_key, directory)
        return response

    return redirect(url_for("reports.receipt", key=form_key), code=303)


def _preselected(args: MultiDict[str, str]) -> MultiDict[str, str]:
    """Initial values: the unit of a poster's QR code (``?unit=<code>``), when it is active, and the training
    entry (``?training=1``: a practice report, marked on every page of the form)."""
    values = MultiDict[str, str]()
    unit_code = args.get("unit", "")
    if unit_code:
        with contextlib.suppress(NotFoundError):
            values["unit_id"] = str(units.by_code(unit_code[:32]).id)
    if args.get("training") == "1":
        values["training"] = "1"
    return values


def lookup_limit() -> str:
    """Per client address (a training deployment's: the training room's, ``Settings.per_address``)."""
    settings = current_app.config["QZBG"]
    return str(settings.per_address(settings.lookup_rate_limit))


@bp.route("/report", methods=["GET", "POST"])
@transactional
# Only posts that reach a receipt count: someone correcting field errors is not slowed down.
@intake_limited(lambda: receipts.browser_id(session), practice=lambda: request.form.get("training") == "1")
def report_form() -> ResponseReturnValue:
    """The report form; a valid POST stores one report per rendered form and redirects to the receipt."""
    if request.method == "GET":
        form_key = secrets.token_urlsafe(18)
        receipts.open_form(session, form_key)  # also gives this browser its id for the intake limit
        return _render_form(_preselected(request.args), {}, form_key)
    form_key = request.form.get("form_key", "")
    if not FORM_KEY.match(form_key):
        raise BadRequestError("表单已失效，请刷新页面后重新填写")
    if request.form.get("website"):
        # Honeypot: people never see this field; bots fill it. Nothing is stored.
        raise BadRequestError("提交失败，请刷新页面后重新填写")
    if not _csrf_valid():
        return _expired(form_key)
    return _submit(form_key)


# Checked in the view (_csrf_valid), so that a failure shows the form again; every other form keeps
# Flask-WTF's check before the request.
csrf.exempt("app.reports.routes.report_form")


@bp.get("/report/receipt/<key>")
def receipt(key: str) -> ResponseReturnValue:
    """The tracking number and, once and only in the submitting browser, the 查询码."""
    if not FORM_KEY.match(key):
        raise NotFoundError()
    report = find_by_client_key(client_key(key))
    if report is None:
        raise NotFoundError()
    status_code = receipts.take_for_receipt(session, key)
    if status_code and service.find_by_status_code(report.tracking_no, status_code) is None:
        status_code = None  # never a code that does not open this report (a form re-opened after it was stored)
    return render_template(
        "reports/receipt.html", report=report, status_code=status_code, office_phone=_settings().office_phone,
        ack_hours=_ack_hours(report),
    )


def _ack_hours(report: Any) -> int:
    """Within how many hours the office acknowledges this report (its deadline, counted from submission)."""
    return max(1, round((report.acknowledge_due_at - report.submitted_at).total_seconds() / 3600))


@bp.route("/report/status", methods=["GET", "POST"])
@transactional
@limiter.limit(lookup_limit, methods=["POST"])
def report_status() -> ResponseReturnValue:
    """A reporter's view of one report, for whoever holds its tracking number and 查询码. The page's answer
    forms post here too, and count against the same limit."""
    if request.method == "GET":
        return render_template("reports/status_lookup.html", values={}, error=None)
    if "question_id" in request.form:
        return _answer_question()
    tracking_no = request.form.get("tracking_no", "").strip().upper()[:20]
    status_code = request.form.get("status_code", "").strip()[:20]
    report = service.find_by_status_code(tracking_no, status_code) if tracking_no and status_code else None
    if report is None:
        return render_template(
            "reports/status_lookup.html", values={"tracking_no": tracking_no},
            error="查询号或查询码不正确，请核对后重试",
        ), 404
    answers.remember_view(session, report.id)
    return _status_page(report)


def _status_page(
    report: Any, status: int = 200, *, errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None, thanks: bool = False, notice: str | None = None,
) -> ResponseReturnValue:
    return render_template(
        "reports/status_view.html", view=presenters.reporter_view(report), cst=CST, categories=CATEGORIES,
        office_phone=_settings().office_phone, ack_hours=_ack_hours(report), errors=errors or {},
        values=values or {}, thanks=thanks, notice=notice,
    ), status


def _answer_question() -> ResponseReturnValue:
    """An answer from the status page: to a question of a report this browser looked up a moment ago, with the
    photos or documents chosen in its file field (stored first, then named in the answer, as the API does)."""
    question = answers.find_question(request.form.get("question_id", ""))
    if question is None or not answers.viewed(session, question.report_id):
        return render_template("reports/status_lookup.html", values={}, error=LOOKUP_AGAIN), 400
    report, key, text = question.report, str(question.id), request.form.get("text", "")
    files_key = f"{key}.files"
    try:
        data = AnswerIn().load({"question_id": key, "text": text})
    except marshmallow.ValidationError as exc:
        messages = cast(dict[str, list[str]], exc.messages)
        return _status_page(report, 422, errors={key: messages.get("text", ["内容不符合要求"])}, values={key: text})
    uploads = _uploads()
    if len(uploads) > attachments.MAX_PER_REPORT:
        return _status_page(report, 422, errors={files_key: [f"最多选择{attachments.MAX_PER_REPORT}个文件"]},
                            values={key: text})
    now, settings = dt.datetime.now(dt.UTC), _settings()
    try:
        stored = [
            attachments.store(report, cast(BinaryIO, upload.stream), upload.filename,
                              directory=settings.attachments_dir, max_bytes=settings.max_attachment_bytes, now=now,
                              vault=get_vault())
            for upload in uploads
        ]
        answers.answer(report, data["question_id"], data["text"], actor=Actor.public(), now=now,
                       attachment_ids=[a.id for a in stored])
    except ValidationError as exc:
        # The error answer rolls the transaction back: files already stored for this answer go with it.
        fields = exc.fields or {}
        errors = {files_key: list(fields["file"])} if "file" in fields else {
            key: list(next(iter(fields.values()), [exc.message]))
        }
        return _status_page(report, 422, errors=errors, values={key: text})
    except PayloadTooLargeError as exc:
        return _status_page(report, 413, errors={files_key: [exc.message]}, values={key: text})
    except ConflictError as exc:
        return _status_page(report, 409, notice=exc.message)
    answers.remember_view(session, report.id)
    return _status_page(report, thanks=True)


@bp.after_request
def no_store(response: Any) -> Any:
    """Report pages can carry personal data: never cached (security headers: app/core/headers.py)."""
    response.headers["Cache-Control"] = "no-store"
    return response
