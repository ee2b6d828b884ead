"""``/admin/audit``: the office's audit log as its readers read it, filtered by person, action, report number and
date, and ``/admin/audit.xlsx``: the same filtered log as a workbook (an export, written by the export runner).

Both need a recent second factor (step-up, like every administration page); the export is itself an audit entry
(``audit.export``, with the filters it was made with). A bad filter answers 400 with the page, its zh-CN message
next to the field and the values as typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError as SchemaError

from app.admin import audit_entries, audit_export
from app.admin.audit_labels import GROUPS
from app.admin.blueprint import bp
from app.admin.schemas import AuditFiltersIn
from app.audit import service as audit
from app.auth.guard import current_actor, staff_required
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.errors import ValidationError
from app.exports import kinds
from app.exports import service as exports
from app.extensions import db
from app.offices.models import Office

FILTERS = ("actor", "action", "report", "from", "to")
LABELS = {"actor": "操作人", "action": "操作", "report": "线索编号", "from": "开始日期", "to": "结束日期"}


def _typed() -> dict[str, str]:
    return {name: (request.args.get(name) or "").strip()[:64] for name in FILTERS}


def _filters(office_id: int, *, paged: bool, given: Any = None
             ) -> tuple[audit_entries.Filters | None, dict[str, list[str]]]:
    source = request.args if given is None else given
    args = {name: source.get(name) for name in (*FILTERS, "before") if paged or name != "before"}
    try:
        return audit_entries.resolve(office_id, AuditFiltersIn().load(args)), {}
    except SchemaError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"before": [str(exc.messages)]}
        return None, {name: [str(m) for m in (v if isinstance(v, list) else [v])] for name, v in messages.items()}
    except ValidationError as exc:
        return None, dict(exc.fields or {})


def _page(office_id: int, filters: audit_entries.Filters | None, errors: dict[str, list[str]]) -> ResponseReturnValue:
    page = audit_entries.office_page(office_id, filters) if filters is not None else None
    typed = _typed()
    return render_template(
        "admin/audit.html", page=page, values=typed, groups=GROUPS, users=audit_entries.office_users(office_id),
        errors=errors, labels=LABELS, field_errors=[(n, errors[n]) for n in FILTERS if n in errors],
        other_errors={n: m for n, m in errors.items() if n not in FILTERS},
        export_args={k: v for k, v in typed.items() if v},
        next_args={**{k: v for k, v in typed.items() if v}, "before": page.next_before} if page else {},
    ), 400 if errors else 200


@bp.get("/audit")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("admin.audit")  # sensitive: a second factor from the last minutes (step-up)
def audit_log() -> ResponseReturnValue:
    """The office's audit entries, newest first, 100 a page."""
    office_id = current_actor().office_id
    assert office_id is not None
    filters, errors = _filters(office_id, paged=True)
    return _page(office_id, filters, errors)


@bp.get("/audit.xlsx")
@transactional(writes=True)
@staff_required("admin.audit.export")  # sensitive: step-up
def audit_log_export() -> ResponseReturnValue:
    """Every entry the filters pick (not just one page) as .xlsx: an export (303 to its page), audited as
    ``audit.export`` when asked for."""
    actor = current_actor()
    office_id = actor.office_id
    assert office_id is not None
    filters, errors = _filters(office_id, paged=False)
    if filters is None:
        return _page(office_id, None, errors)
    now = dt.datetime.now(dt.UTC)
    audit.record(actor, "audit.export", now=now, target_type="audit_log", target_id=filters.summary(),
                 office_id=office_id)
    params = {name: request.args.get(name) for name in FILTERS if request.args.get(name)}
    asked = exports.ask(actor, "audit", params, title=f"审计日志 · {audit_entries.describe_filters(filters.summary())}",
                        filename=f"qzbg-audit-{now:%Y%m%d-%H%M%S}.xlsx", now=now, vault=get_vault())
    return redirect(url_for("exports.page", export_id=asked.export.id), code=303)


def _write_audit(work: kinds.Work) -> Iterator[bytes]:
    """The export runner's writer of the audit log workbook, with the filters as they were given."""
    office_id = work.actor.office_id
    assert office_id is not None
    filters, errors = _filters(office_id, paged=False, given=work.params)
    if filters is None:
        raise ValueError(f"audit export filters no longer valid: {sorted(errors)}")
    office = db.session.get(Office, office_id)
    at = work.requested_at
    title = (f"{office.name if office else ''} · 审计日志 · {audit_entries.describe_filters(filters.summary())} · "
             f"导出于 {at.astimezone(audit_entries.CST):%Y-%m-%d %H:%M}（北京时间）")
    yield from audit_export.workbook_stream(office_id, filters, title=title)


kinds.register("audit", permission="admin.audit.export", write=_write_audit)
