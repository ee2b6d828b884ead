"""``/review/``: the inbox, what is overdue, a report's detail page, its actions, attachments and letters,
and the entry of a report received by phone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.audit import service as audit
from app.auth import permissions, sessions
from app.auth.actor import Actor
from app.auth.guard import current_actor, current_session, staff_required, step_up_redirect
from app.core.db import transactional
from app.errors import ConflictError, NotFoundError, ValidationError
from app.extensions import db
from app.reports import service as reports_service
from app.reports.attachments import open_blob
from app.reports.constants import CATEGORIES, CATEGORY_SHORT, GENDER_LABELS
from app.reports.form import FIELD_NAMES, FORM_KEY, parse_report_form
from app.reports.states import STATUS_LABELS
from app.review import presenters, queries
from app.review import service as review
from app.review.models import Transfer
from app.units import queries as units

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/overdue")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def overdue() -> ResponseReturnValue:
    """What is past due, by kind (DOMAIN.md's deadlines)."""
    now = dt.datetime.now(dt.UTC)
    return render_template("review/overdue.html", found=queries.overdue(current_actor(), now=now),
                           kinds=queries.OVERDUE_KINDS, now=now, timer=queries.timer_text, labels=STATUS_LABELS)


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def inbox() -> ResponseReturnValue:
    """The office's reports, urgent and overdue first, filtered and searched (police: their unit's list)."""
    actor = current_actor()
    now = dt.datetime.now(dt.UTC)
    filters = queries.parse_filters(request.args)
    rows, cursor = queries.inbox(actor, filters, now=now)
    return render_template(
        "review/inbox.html", counts=queries.status_counts(actor, filters, now=now), rows=rows, cursor=cursor,
        labels=STATUS_LABELS, filters=filters, now=now, timer=queries.timer_text, short=CATEGORY_SHORT,
        categories=CATEGORIES, police=actor.role == "police",
    )


# --- The report detail, its action forms, attachments, the transfer letter and phone entry (issue 8). ---

ACTION_PATH = "/review/reports/<report_id>/actions/<action>"
CHANGED_MESSAGE = "该线索已被他人修改，请查看最新状态后再操作"
ACTION_DONE = "操作已完成"


def _id(value: str) -> uuid.UUID:
    """A path's UUID (a string converter: a bad one is not found, after the login and permission checks)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError("找不到请求的内容") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _deadlines() -> review.Deadlines:
    """The police deadlines of the settings (``QZBG_DEADLINE_*``, DOMAIN.md)."""
    return review.deadlines_from(current_app.config["QZBG"])


def _render_detail(report_id: uuid.UUID, actor: Actor, *, status: int = 200, message: str | None = None,
                   errors: dict[str, list[str]] | None = None, failed: str | None = None,
                   reveal: bool = False) -> ResponseReturnValue:
    report, transfer = presenters.visible_report(report_id, actor)
    context = presenters.detail(report, actor, transfer, reveal=reveal)
    return render_template(
        "review/detail.html", **context, message=message, errors=errors or {}, failed=failed,
        values=request.form if failed else {}, notice=request.args.get("done") == "1",
    ), status


@bp.get("/reports/<report_id>")
@transactional(writes=True)
@staff_required("review.read")
def report_detail(report_id: str) -> ResponseReturnValue:
    """Every field decrypted for the office but the reporter's identity (masked: ``report_reporter`` shows it);
    police see only what the open transfer to their unit shares."""
    actor = current_actor()
    report, transfer = presenters.visible_report(_id(report_id), actor)
    audit.record(actor, "report.view", now=_now(), target_type="report", target_id=report.id,
                 office_id=report.office_id)
    if actor.role == "police" and presenters.shows_reporter(actor, transfer):
        # The reporter's identity shown outside the office (shared on transfer): its own entry.
        audit.record(actor, "report.reveal_reporter", now=_now(), target_type="report", target_id=report.id,
                     office_id=report.office_id)
    return _render_detail(report.id, actor)


@bp.get("/reports/<report_id>/reporter")
@transactional(writes=True)
@staff_required("review.reveal_reporter")  # sensitive: a TOTP code from the last 10 minutes, else step-up
def report_reporter(report_id: str) -> ResponseReturnValue:
    """The detail page with the reporter's identity shown to the office (prosecutors, leads); audited as a view
    and as ``report.reveal_reporter`` in the same transaction. Police never reach it (403): they see the
    reporter on the detail page only when a transfer shares it."""
    actor = current_actor()
    report, _ = presenters.visible_report(_id(report_id), actor)
    for action in ("report.view", "report.reveal_reporter"):
        audit.record(actor, action, now=_now(), target_type="report", target_id=report.id,
                     office_id=report.office_id)
    return _render_detail(report.id, actor, reveal=True)


@bp.get("/reports/<report_id>/attachments/<attachment_id>")
@transactional(writes=True)
@staff_required("review.read")
def report_attachment(report_id: str, attachment_id: str) -> ResponseReturnValue:
    """One attachment, decrypted, through this staff-only route (never a file URL); images inline."""
    actor = current_actor()
    report, _ = presenters.visible_report(_id(report_id), actor)
    item = presenters.find_attachment(report, _id(attachment_id))
    try:
        data = open_blob(item, current_app.config["QZBG"].attachments_dir)
    except FileNotFoundError:
        raise NotFoundError("找不到该附件") from None
    audit.record(actor, "report.attachment", now=_now(), target_type="attachment", target_id=item.id,
                 office_id=report.office_id)
    inline = item.content_type in presenters.INLINE_TYPES and request.args.get("download") != "1"
    name = item.unseal("filename_data") or "附件"
    disposition = "inline" if inline else "attachment"
    response = Response(data, mimetype=item.content_type)
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"attachment\"; filename*=UTF-8''{quote(name, safe='')}"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _int(value: str | None, field: str) -> int:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9:
        raise ValidationError(fields={field: ["页面已过期，请刷新后重试"]})
    return int(value.strip())


def _date(value: str | None) -> dt.date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(fields={"decided_at": ["请选择日期，如 2026-11-20"]}) from None


def _take(action: str, report: Any, actor: Actor, version: int) -> None:
    """One action of the detail page, through its service."""
    form, now = request.form, _now()
    common: dict[str, Any] = {"actor": actor, "version": version, "now": now}
    match action:
        case "acknowledge":
            review.acknowledge(report, **common)
        case "assign":
            permissions.require(actor.role, "review.assign")
            review.assign(report, form.get("assignee", ""), **common)
        case "set_risk":
            review.set_risk(report, form.get("risk", ""), **common)
        case "add_note":
            review.add_note(report, form.get("note", ""), **common)
        case "ask_reporter":
            review.ask_reporter(report, form.get("question", ""), **common)
        case "transfer":
            review.transfer(report, police_unit=form.get("police_unit", ""), document_no=form.get("document_no", ""),
                            contact=form.get("contact"), share_reporter=form.get("share_reporter") == "1",
                            note=form.get("note"), deadlines=_deadlines(), **common)
        case "police_acknowledge":
            review.police_acknowledge(report, **common)
        case "police_return":
            review.police_return(report, form.get("reason", ""), **common)
        case "record_feedback":
            review.record_feedback(report, outcome=form.get("outcome", ""), case_no=form.get("case_no"),
                                   decided_at=_date(form.get("decided_at")), note=form.get("note"), **common)
        case "supervise":
            review.supervise(report, form.get("note", ""), deadlines=_deadlines(), **common)
        case "police_explain":
            review.police_explain(report, form.get("note", ""), **common)
        case "conclude_supervision":
            review.conclude_supervision(report, form.get("result", ""), form.get("note"), **common)
        case "refer":
            review.refer(report, form.get("agency", ""), form.get("note"), **common)
        case "close":
            review.close(report, form.get("reason", ""), merge_into=form.get("merge_into"), note=form.get("note"),
                         **common)
        case "reopen":
            review.reopen(report, form.get("note"), **common)
        case _:
            raise NotFoundError("找不到该操作")


@bp.post(ACTION_PATH.removeprefix("/review"))
@transactional
@staff_required("review.read")
def report_action(report_id: str, action: str) -> ResponseReturnValue:
    """Each action form of the detail page posts here; a stale version answers 409 with the current state, a
    refused input 422 with the page and the error, success 303 back to the page."""
    actor = current_actor()
    permissions.require(actor.role, "police.act" if actor.role == "police" else "review.act")
    report, _ = presenters.visible_report(_id(report_id), actor)
    if action == "transfer":
        permissions.require(actor.role, "review.transfer")
        session = current_session()
        if session is None or not sessions.is_stepped_up(session, _now()):
            return step_up_redirect()
    try:
        _take(action, report, actor, _int(request.form.get("version"), "version"))
    except ConflictError as exc:
        db.session.rollback()
        return _render_detail(report.id, actor, status=409, message=exc.message or CHANGED_MESSAGE)
    except ValidationError as exc:
        db.session.rollback()
        fields = dict(exc.fields or {})
        if "version" in fields:
            return _render_detail(report.id, actor, status=409, message=CHANGED_MESSAGE)
        return _render_detail(report.id, actor, status=422, message=exc.message, errors=fields, failed=action)
    return redirect(url_for("review.report_detail", report_id=report.id, done=1), code=303)


@bp.get("/reports/<report_id>/transfers/<transfer_id>/letter")
@transactional(writes=True)
@staff_required("review.read")
def transfer_letter(report_id: str, transfer_id: str) -> ResponseReturnValue:
    """移送函, to print on A4: the reporter's identity only when the transfer shares it."""
    actor = current_actor()
    report, current = presenters.visible_report(_id(report_id), actor)
    record = db.session.get(Transfer, _id(transfer_id))
    if record is None or record.report_id != report.id or (actor.role == "police" and record is not current):
        raise NotFoundError("找不到该移送记录")
    if record.share_reporter and actor.role != "police":
        # The letter of a transfer that shares the reporter names them: for the office, as the reveal route.
        permissions.require(actor.role, "review.reveal_reporter")
        session = current_session()
        if session is None or not sessions.is_stepped_up(session, _now()):
            return step_up_redirect()
    audit.record(actor, "report.letter", now=_now(), target_type="transfer", target_id=record.id,
                 office_id=report.office_id)
    if record.share_reporter:
        audit.record(actor, "report.reveal_reporter", now=_now(), target_type="report", target_id=report.id,
                     office_id=report.office_id)
    return render_template("review/letter.html", **presenters.letter(report, record))


def _render_new(values: Any, errors: dict[str, list[str]], status: int = 200) -> ResponseReturnValue:
    return render_template(
        "review/new_report.html", values=values, errors=errors, categories=CATEGORIES, genders=GENDER_LABELS,
        units=units.search(None, None, limit=1000), field_errors=[(n, errors[n]) for n in FIELD_NAMES if n in errors],
        other_errors={k: v for k, v in errors.items() if k not in FIELD_NAMES}, entry_key=secrets.token_urlsafe(24),
    ), status


@bp.route("/reports/new", methods=["GET", "POST"])
@transactional
@staff_required("review.enter_phone_report")
def new_report() -> ResponseReturnValue:
    """A report received by phone, entered by a prosecutor through the web form's schema (channel ``phone``)."""
    if request.method == "GET":
        return _render_new(MultiDict(), {})
    form = request.form.copy()
    key = (form.pop("entry_key", "") or "").strip()  # one per rendered page: a double submit stores once
    data, errors = parse_report_form(form)
    if errors:
        return _render_new(request.form, errors, 422)
    actor = dataclasses.replace(current_actor(), channel="phone")
    if not FORM_KEY.match(key):
        key = secrets.token_urlsafe(24)
    try:
        result = reports_service.submit(data, actor=actor, client_key=f"phone:{actor.id}:{key}", now=_now())
    except ValidationError as exc:
        db.session.rollback()
        return _render_new(request.form, dict(exc.fields or {}), 422)
    if result.created and data.get("unit_id") is None and actor.office_id is not None:
        result.report.office_id = actor.office_id  # a call taken by this office stays with it
        db.session.flush()
    audit.record(actor, "report.enter_phone", now=_now(), target_type="report", target_id=result.report.id,
                 office_id=result.report.office_id)
    if result.report.office_id != actor.office_id:
        return redirect(url_for("review.inbox"), code=303)
    return redirect(url_for("review.report_detail", report_id=result.report.id), code=303)
