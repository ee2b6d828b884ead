"""``/review/``: the inbox, what is overdue, a report's detail page, its actions, attachments and letters,
and the entry of a report received by phone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.audit import service as audit
from app.auth import permissions
from app.auth.guard import current_actor, current_session, staff_required, step_up_redirect, stepped_up
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.errors import NotFoundError, ValidationError
from app.exports import kinds
from app.exports import service as exports
from app.extensions import db
from app.reports import service as reports_service
from app.reports.attachments import open_blob
from app.reports.constants import CATEGORIES, CATEGORY_SHORT, GENDER_LABELS
from app.reports.form import FIELD_NAMES, FORM_KEY, parse_report_form
from app.reports.records import Transfer
from app.reports.states import STATUS_LABELS
from app.review import access, actions, bulk, listing, presenters, queries, workbook
from app.units import queries as units
from app.units.models import UNIT_TYPES

bp = Blueprint("review", __name__, url_prefix="/review")


@bp.get("/overdue")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def overdue() -> ResponseReturnValue:
    """What is past due, by kind (DOMAIN.md's deadlines)."""
    now = dt.datetime.now(dt.UTC)
    return render_template("review/overdue.html", found=queries.overdue(current_actor(), now=now),
                           kinds=queries.OVERDUE_KINDS, now=now, timer=listing.timer_text, labels=STATUS_LABELS)


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("review.inbox")
def inbox() -> ResponseReturnValue:
    """The office's open reports, urgent and overdue first or sorted by a column, filtered and searched, with
    their tabs' counts, the list's total and pages (police: their unit's list and tabs)."""
    actor, now, vault = current_actor(), _now(), get_vault()
    filters = queries.parse_filters(request.args)
    counts = queries.status_counts(actor, filters, now=now, vault=vault)
    total, capped = queries.list_total(actor, filters, counts, now=now, vault=vault)
    return render_template(
        "review/inbox.html", page=listing.inbox(actor, filters, now=now, vault=vault), counts=counts, total=total,
        capped=capped, pages=max(1, -(-total // listing.PAGE)), choices=listing.choices(actor), filters=filters,
        labels=STATUS_LABELS, now=now, timer=listing.timer_text, short=CATEGORY_SHORT, categories=CATEGORIES,
        unit_types=UNIT_TYPES, police_tabs=queries.POLICE_TABS, police=actor.role == "police",
        can_bulk=permissions.allows(actor.role, "review.act"),
        can_assign=permissions.allows(actor.role, "review.assign"),
        can_export=permissions.allows(actor.role, "review.export"), here=request.full_path.rstrip("?"),
    )


@bp.post("/bulk")
@transactional
@staff_required("review.act")
def inbox_bulk() -> ResponseReturnValue:
    """签收 or 指派 the reports ticked on the list, each in its own transaction through the action pipeline; 303
    back to the list with what was done and what was skipped."""
    return bulk.take(current_actor(), settings=current_app.config["QZBG"])


EXPORT_PROGRESS_EVERY = 500  # rows between two progress reports of the inbox export


def _write_inbox(work: kinds.Work) -> Iterator[bytes]:
    """The export runner's writer of the inbox workbook: the list as the asker's filters pick it when asked."""
    filters = dataclasses.replace(queries.parse_filters(MultiDict(work.params)), after=None)
    at = work.requested_at

    def counted(lines: Iterator[listing.Line]) -> Iterator[listing.Line]:
        for number, line in enumerate(lines, start=1):
            if number % EXPORT_PROGRESS_EVERY == 0:
                work.progress(number, None)  # rows so far: the list's length is known only at its end
            yield line

    yield workbook.list_workbook(
        counted(listing.export_lines(work.actor, filters, now=at, vault=work.vault)),
        title=f"线索列表 · 导出于 {at.astimezone(workbook.CST):%Y-%m-%d %H:%M}（北京时间）",
        conditions=workbook.conditions_text(filters, STATUS_LABELS))


kinds.register("inbox", permission="review.export", write=_write_inbox)


@bp.get("/inbox.xlsx")
@transactional(writes=True)
@staff_required("review.export")  # sensitive: a TOTP code from the last 10 minutes (step-up)
def inbox_xlsx() -> ResponseReturnValue:
    """The filtered list, every page of it in its order, as a workbook (an export: 303 to its page); audited (the
    conditions, never ``q``)."""
    actor, now, vault = current_actor(), _now(), get_vault()
    filters = dataclasses.replace(queries.parse_filters(request.args), after=None)
    conditions = filters.query_args(q="*" if filters.q else None)
    audit.record(actor, "report.list_export", now=now, target_type="inbox",
                 target_id="&".join(f"{k}={v}" for k, v in conditions.items()) or "all", office_id=actor.office_id)
    asked = exports.ask(actor, "inbox", filters.query_args(), title="线索列表（按当前筛选条件）",
                        filename=f"qzbg-inbox-{now.astimezone(workbook.CST):%Y%m%d-%H%M}.xlsx", now=now, vault=vault)
    return redirect(url_for("exports.page", export_id=asked.export.id), code=303)


# --- The report detail, its action forms, attachments, the transfer letter and phone entry (issue 8). ---

ACTION_PATH = "/review/reports/<report_id>/actions/<action>"


_id = actions.report_id_of


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@bp.get("/reports/<report_id>")
@transactional(writes=True)
@staff_required("review.read")
def report_detail(report_id: str) -> ResponseReturnValue:
    """Every field decrypted for the office but the reporter's identity (masked: ``report_reporter`` shows it);
    police see only what the open transfer to their unit shares."""
    actor = current_actor()
    report, transfer = access.visible_report(_id(report_id), actor)
    audit.record(actor, "report.view", now=_now(), target_type="report", target_id=report.id,
                 office_id=report.office_id)
    if actor.role == "police" and access.shows_reporter(actor, transfer):
        # The reporter's identity shown outside the office (shared on transfer): its own entry.
        audit.record(actor, "report.reveal_reporter", now=_now(), target_type="report", target_id=report.id,
                     office_id=report.office_id)
    return actions.render_detail(report.id, actor)


@bp.get("/reports/<report_id>/reporter")
@transactional(writes=True)
@staff_required("review.reveal_reporter")  # sensitive: a TOTP code from the last 10 minutes, else step-up
def report_reporter(report_id: str) -> ResponseReturnValue:
    """The detail page with the reporter's identity shown to the office (prosecutors, leads); audited as a view
    and as ``report.reveal_reporter`` in the same transaction. Police never reach it (403): they see the
    reporter on the detail page only when a transfer shares it."""
    actor = current_actor()
    report, _ = access.visible_report(_id(report_id), actor)
    for action in ("report.view", "report.reveal_reporter"):
        audit.record(actor, action, now=_now(), target_type="report", target_id=report.id,
                     office_id=report.office_id)
    return actions.render_detail(report.id, actor, reveal=True)


@bp.get("/reports/<report_id>/attachments/<attachment_id>")
@transactional(writes=True)
@staff_required("review.read")
def report_attachment(report_id: str, attachment_id: str) -> ResponseReturnValue:
    """One attachment, decrypted, through this staff-only route (never a file URL); images inline."""
    actor = current_actor()
    report, _ = access.visible_report(_id(report_id), actor)
    item = presenters.find_attachment(report, _id(attachment_id))
    try:
        data = open_blob(item, current_app.config["QZBG"].attachments_dir, get_vault())
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


@bp.post(ACTION_PATH.removeprefix("/review"))
@transactional
@staff_required("review.read")
def report_action(report_id: str, action: str) -> ResponseReturnValue:
    """Each action form of the detail page posts here, through the one pipeline (``actions.take``): success
    303 back to the page with what happened, a stale version 409 with the current state, a refused input 422
    with the page, the error and the typed values; a sensitive action goes through step-up and is kept."""
    return actions.take(report_id, action, current_actor())


@bp.get("/reports/<report_id>/transfers/<transfer_id>/letter")
@transactional(writes=True)
@staff_required("review.read")
def transfer_letter(report_id: str, transfer_id: str) -> ResponseReturnValue:
    """移送函, to print on A4: the reporter's identity only when the transfer shares it."""
    actor = current_actor()
    report, current = access.visible_report(_id(report_id), actor)
    record = db.session.get(Transfer, _id(transfer_id))
    if record is None or record.report_id != report.id or (actor.role == "police" and record is not current):
        raise NotFoundError("找不到该移送记录")
    if record.share_reporter and actor.role != "police":
        # The letter of a transfer that shares the reporter names them: for the office, as the reveal route.
        permissions.require(actor.role, "review.reveal_reporter")
        if not stepped_up(current_session()):
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
        result = reports_service.submit(
            data, actor=actor, client_key=f"phone:{actor.id}:{key}", now=_now(), vault=get_vault(),
            ack_deadlines=reports_service.AckDeadlines.from_settings(current_app.config["QZBG"]),
        )
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
