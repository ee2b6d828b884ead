"""``/unit/``: a unit liaison's page. Their own unit only (the unit comes from the account, never from the
request): its reports as their reporters see them (tracking number, date, the reporter-visible status; no
content, no names), and its QR codes and poster. Login lands a liaison here (``app.auth.templating.landing``)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from app.auth import permissions
from app.auth.guard import current_actor, staff_required
from app.clients.wechat import configured
from app.core.db import transactional
from app.errors import ForbiddenError
from app.extensions import db
from app.reports import of_unit
from app.units import qrcodes, queries
from app.units.models import UNIT_TYPES, Unit

bp = Blueprint("liaison", __name__, url_prefix="/unit")


def _own_unit() -> Unit:
    actor = current_actor()
    unit = db.session.get(Unit, actor.unit_id) if actor.unit_id is not None else None
    if unit is None or unit.office_id != actor.office_id:
        raise ForbiddenError("您的账户未关联成员单位，请联系管理员")
    return unit


@bp.get("/")
@transactional(writes=True)  # a staff request may write (session activity, audit)
@staff_required("liaison.view")
def home() -> ResponseReturnValue:
    """The liaison's unit: its reports' statuses, newest first, and its QR codes and poster."""
    unit = _own_unit()
    page = queries.parse_page(request.args.get("page"))
    rows, pages = of_unit.unit_reports(unit.id, page)
    settings = current_app.config["QZBG"]
    return render_template(
        "units/home.html", unit=unit, unit_type=UNIT_TYPES.get(unit.type, unit.type),
        reports=[of_unit.report_status(row) for row in rows], page=min(page, pages), pages=pages,
        with_wxacode=unit.active and configured(settings) and qrcodes.has_wxacode(unit, settings.wechat_report_page),
        stats_href=_if_allowed(STATS_PATH),
    )


# The statistics page (app/stats): linked for a liaison once it exists and their role may open it.
STATS_PATH = "/review/unit-stats"


def _if_allowed(path: str) -> str | None:
    """``path`` if a route answers it and the acting role holds that route's permission, else None."""
    try:
        endpoint, _args = current_app.url_map.bind("").match(path, method="GET")
    except HTTPException:
        return None
    permission = getattr(current_app.view_functions.get(endpoint), "qzbg_permission", None)
    return path if permission and permissions.allows(current_actor().role, permission) else None
