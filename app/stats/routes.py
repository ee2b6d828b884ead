"""Statistics pages: ``/review/stats`` (and ``.xlsx``), the joint-meeting view, a unit liaison's own unit's
statistics (``/review/unit-stats``, with the small-cell rule), and the case register ``/review/register.xlsx``.

The workbooks are exports (app/exports): asking for one answers 303 to its export page at once, and the notify
worker's export runner writes it with the writers below, as the person who asked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from app.audit import service as audit
from app.auth.guard import current_actor, staff_required
from app.cases import queries as cases
from app.core.actor import Actor
from app.core.db import transactional
from app.crypto.vault import get_vault
from app.exports import kinds
from app.exports import service as exports
from app.extensions import db
from app.offices import queries as offices
from app.offices.models import Office
from app.stats import charts, presenters, queries, xlsx
from app.units.models import UNIT_TYPES

bp = Blueprint("stats", __name__, url_prefix="/review")


def _context(*, liaison: bool, scale: float = 1.0, actor: Actor | None = None, args: Any = None,
             now: dt.datetime | None = None) -> tuple[dict[str, Any], int]:
    actor = actor or current_actor()
    period, errors = presenters.parse_period(request.args if args is None else args)
    figures = queries.figures(presenters.scope_of(actor, liaison=liaison), period, now=now or dt.datetime.now(dt.UTC))
    context = presenters.build(figures, liaison=liaison, scale=scale, district_names=offices.district_names())
    context.update(errors=errors, picks=presenters.quick_picks(period),
                   query={"from": period.first.isoformat(), "to": period.last.isoformat()})
    return context, 400 if errors else 200


def _write_stats(work: kinds.Work, *, liaison: bool) -> Iterator[bytes]:
    context, _status = _context(liaison=liaison, actor=work.actor, args=MultiDict(work.params), now=work.requested_at)
    yield xlsx.stats_workbook(context)


def _write_register(work: kinds.Work) -> Iterator[bytes]:
    period, _errors = presenters.parse_period(MultiDict(work.params))
    office = db.session.get(Office, work.actor.office_id)
    yield from xlsx.register_stream(presenters.scope_of(work.actor, liaison=False), period,
                                    office_name=office.name if office else "", vault=work.vault,
                                    district_names=offices.district_names(), progress=work.progress)


kinds.register("stats", permission="review.stats", write=lambda work: _write_stats(work, liaison=False))
kinds.register("unit_stats", permission="liaison.view", write=lambda work: _write_stats(work, liaison=True))
kinds.register("register", permission="review.export", write=_write_register)


def _export(kind: str, period: Any, *, title: str, filename: str) -> ResponseReturnValue:
    """Ask for the export of the period (the same one while it runs or waits) and go to its page."""
    asked = exports.ask(current_actor(), kind, {"from": period.first.isoformat(), "to": period.last.isoformat()},
                        title=title, filename=filename, now=dt.datetime.now(dt.UTC), vault=get_vault())
    return redirect(url_for("exports.page", export_id=asked.export.id), code=303)


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
    return _export("stats", period, title=f"统计报表 · {period.first} 至 {period.last}",
                   filename=f"qzbg-stats-{period.first}-{period.last}.xlsx")


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
    return _export("unit_stats", period, title=f"本单位统计报表 · {period.first} 至 {period.last}",
                   filename=f"qzbg-unit-stats-{period.first}-{period.last}.xlsx")


@bp.get("/register.xlsx")
@transactional(writes=True)
@staff_required("review.export")  # sensitive: a TOTP code from the last 10 minutes (step-up)
def register() -> ResponseReturnValue:
    """台账: every report received in the period, with its personal columns; audited when asked for."""
    actor = current_actor()
    period, errors = presenters.parse_period(request.args)
    if errors:
        context, status = _context(liaison=False)
        return render_template("stats/stats.html", **context, endpoint="stats.stats",
                               xlsx_endpoint="stats.stats_xlsx"), status
    audit.record(actor, "report.register_export", now=dt.datetime.now(dt.UTC), target_type="register",
                 target_id=f"{period.first.isoformat()}..{period.last.isoformat()}", office_id=actor.office_id)
    return _export("register", period, title=f"线索台账 · {period.first} 至 {period.last}（含个人信息）",
                   filename=f"qzbg-register-{period.first}-{period.last}.xlsx")
