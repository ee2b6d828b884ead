"""Statistics pages: ``/review/stats`` (and ``.xlsx``), the joint-meeting view, a unit liaison's own unit's
statistics (``/review/unit-stats``, with the small-cell rule), and the case register ``/review/register.xlsx``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from app.audit import service as audit
from app.auth.guard import current_actor, staff_required
from app.cases import queries as cases
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.extensions import db
from app.offices import queries as offices
from app.offices.models import Office
from app.stats import charts, presenters, queries, xlsx
from app.units.models import UNIT_TYPES

bp = Blueprint("stats", __name__, url_prefix="/review")


def _context(*, liaison: bool, scale: float = 1.0) -> tuple[dict[str, Any], int]:
    actor = current_actor()
    period, errors = presenters.parse_period(request.args)
    figures = queries.figures(presenters.scope_of(actor, liaison=liaison), period, now=dt.datetime.now(dt.UTC))
    context = presenters.build(figures, liaison=liaison, scale=scale, district_names=offices.district_names())
    context.update(errors=errors, picks=presenters.quick_picks(period),
                   query={"from": period.first.isoformat(), "to": period.last.isoformat()})
    return context, 400 if errors else 200


def _download(data: bytes, name: str) -> Response:
    return Response(data, mimetype=xlsx.XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/stats")
@transactional(writes=True)  # a staff request may write (session activity)
@staff_required("review.stats")
def stats() -> ResponseReturnValue:
    """The office's figures for a period, by month, category, unit type, unit, district and channel."""
    context, status = _context(liaison=False)
    return render_template("stats/stats.html", **context, endpoint="stats.stats",
                           xlsx_endpoint="stats.stats_xlsx"), status


@bp.get("/stats.xlsx")
@transactional(writes=True)
@staff_required("review.stats")
def stats_xlsx() -> ResponseReturnValue:
    """The same numbers as the page, a sheet per breakdown."""
    context, status = _context(liaison=False)
    if status != 200:
        return render_template("stats/stats.html", **context, endpoint="stats.stats",
                               xlsx_endpoint="stats.stats_xlsx"), status
    period = context["period"]
    return _download(xlsx.stats_workbook(context), f"qzbg-stats-{period.first}-{period.last}.xlsx")


@bp.get("/stats/meeting")
@transactional(writes=True)
@staff_required("review.stats")
def meeting() -> ResponseReturnValue:
    """联席会议: the key figures and charts in large type for a projector; prints on A4 landscape."""
    context, status = _context(liaison=False, scale=1.6)
    office = db.session.get(Office, current_actor().office_id)
    period = context["period"]
    unreported = [(UNIT_TYPES.get(kind, kind), n) for kind, n in cases.by_unit_type(
        cases.ledger(current_actor().office_id or 0, period.first, period.last)).items()]
    chart = charts.bar_chart("应报未报（按单位类型）", [(a, str(n), n) for a, n in unreported], scale=1.6)
    return render_template("stats/meeting.html", **context, office=office, unreported=unreported,
                           unreported_chart=chart), status


@bp.get("/unit-stats")
@transactional(writes=True)
@staff_required("liaison.view")
def unit_stats() -> ResponseReturnValue:
    """A unit liaison's own unit, with the small-cell rule on the category breakdown."""
    context, status = _context(liaison=True)
    return render_template("stats/stats.html", **context, endpoint="stats.unit_stats",
                           xlsx_endpoint="stats.unit_stats_xlsx"), status


@bp.get("/unit-stats.xlsx")
@transactional(writes=True)
@staff_required("liaison.view")
def unit_stats_xlsx() -> ResponseReturnValue:
    context, status = _context(liaison=True)
    if status != 200:
        return render_template("stats/stats.html", **context, endpoint="stats.unit_stats",
                               xlsx_endpoint="stats.unit_stats_xlsx"), status
    period = context["period"]
    return _download(xlsx.stats_workbook(context), f"qzbg-unit-stats-{period.first}-{period.last}.xlsx")


@bp.get("/register.xlsx")
@transactional(writes=True)
@staff_required("review.export")  # sensitive: a TOTP code from the last 10 minutes (step-up)
def register() -> ResponseReturnValue:
    """台账: every report received in the period, with its personal columns; audited, streamed."""
    actor = current_actor()
    period, errors = presenters.parse_period(request.args)
    if errors:
        context, status = _context(liaison=False)
        return render_template("stats/stats.html", **context, endpoint="stats.stats",
                               xlsx_endpoint="stats.stats_xlsx"), status
    office = db.session.get(Office, actor.office_id)
    audit.record(actor, "report.register_export", now=dt.datetime.now(dt.UTC), target_type="register",
                 target_id=f"{period.first.isoformat()}..{period.last.isoformat()}", office_id=actor.office_id)
    scope = presenters.scope_of(actor, liaison=False)
    # The audit entry commits with this view (before the body is sent); the rows are read while streaming.
    body = stream_with_context(xlsx.register_stream(scope, period, office_name=office.name if office else "",
                                                    vault=get_vault(), district_names=offices.district_names()))
    response = Response(body, mimetype=xlsx.XLSX, direct_passthrough=True)
    response.headers["Content-Disposition"] = f'attachment; filename="qzbg-register-{period.first}-{period.last}.xlsx"'
    return response
